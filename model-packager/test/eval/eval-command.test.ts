import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BundleManifest } from '../../../bundle-format/manifest.js';
import { PackError } from '../../src/errors.js';
import { pearson } from '../../src/eval/correlation.js';
import { importUse } from '../../src/importers/use/import-use.js';
import { makeNode } from '../../src/onnx/graph.js';
import { DataType, onnx } from '../../src/onnx/proto.js';
import { float32Tensor, int64Tensor } from '../../src/onnx/tensor.js';
import { encodeOnnxModel } from '../../src/onnx/write-model.js';
import { runEval } from './run-eval.js';

/** Tiny vocabulary; each word's 3-d vector is chosen so pair cosines are known by hand. */
const WORDS: [string, number[]][] = [
  ['<unk>', [0, 0, 0]],
  ['▁cat', [1, 0, 0]],
  ['▁dog', [0.9, 0.3, 0.1]],
  ['▁car', [0, 0, 1]],
];

const sha256 = (bytes: Uint8Array | string) => createHash('sha256').update(bytes).digest('hex');
const valueInfo = (name: string, elemType: number, dims: (number | string)[]) =>
  onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  });

/** A bundle whose graph mean-pools word vectors: the sentence vector of a one-word text is that word's vector. */
async function writeTinyBundle(dir: string): Promise<void> {
  const nodes = [
    makeNode('Gather', ['table', 'input_ids'], ['tokens'], { axis: 0 }),
    makeNode('Cast', ['attention_mask'], ['mask'], { to: DataType.FLOAT }),
    makeNode('Unsqueeze', ['mask', 'axis2'], ['mask3']),
    makeNode('Mul', ['tokens', 'mask3'], ['masked']),
    makeNode('ReduceSum', ['masked', 'axis1'], ['sum'], { keepdims: 0 }),
    makeNode('ReduceSum', ['mask', 'axis1'], ['count'], { keepdims: 1 }),
    makeNode('Div', ['sum', 'count'], ['sentence_embedding']),
  ];
  const graph = onnx.GraphProto.create({
    name: 'tiny',
    node: nodes,
    initializer: [
      float32Tensor('table', [WORDS.length, 3], Float32Array.from(WORDS.flatMap(([, v]) => v))),
      int64Tensor('axis1', [1], [1]),
      int64Tensor('axis2', [1], [2]),
    ],
    input: ['input_ids', 'attention_mask'].map((n) => valueInfo(n, DataType.INT64, ['batch', 'sequence'])),
    output: [valueInfo('sentence_embedding', DataType.FLOAT, ['batch', 3])],
  });
  const model = encodeOnnxModel(
    onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: '', version: 17 }], graph }),
  );
  const tokenizer = JSON.stringify({
    version: '1.0',
    added_tokens: [],
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
        { type: 'Prepend', prepend: '▁' },
      ],
    },
    pre_tokenizer: null,
    post_processor: null,
    decoder: null,
    model: { type: 'Unigram', unk_id: 0, vocab: WORDS.map(([w]) => [w, -1]) },
  });
  const manifest: BundleManifest = {
    formatVersion: 1,
    modelName: 'tiny-mean',
    dimensions: 3,
    allowedDimensions: [3],
    maxTokens: 16,
    pooling: 'mean',
    normalize: false,
    inputs: ['input_ids', 'attention_mask'],
    output: 'sentence_embedding',
    inputDtype: 'int64',
    tokenizerConfig: {},
    quantization: 'none',
    vocabulary: { before: WORDS.length, after: WORDS.length },
    files: {
      'model.onnx': { bytes: model.length, sha256: sha256(model) },
      'tokenizer.json': { bytes: tokenizer.length, sha256: sha256(tokenizer) },
    },
    bytes: { total: model.length + tokenizer.length, embeddings: 48, layers: 0, tokenizer: tokenizer.length },
    contentHash: sha256('tiny'),
    sourceFiles: {},
    fidelity: null,
    wasmHeapBytes: null,
    createdBy: 'eval-command test',
  };
  await writeFile(join(dir, 'model.onnx'), model);
  await writeFile(join(dir, 'tokenizer.json'), tokenizer);
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest));
}

const stsLine = (score: number, a: string, b: string) => `captions\tfile\t2012\t0001\t${score.toFixed(3)}\t${a}\t${b}`;

describe('edge-embed eval', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'eval-command-'));
    await writeTinyBundle(dir);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('scores a bundle: cosines of the pairs against the gold scores (known answer)', async () => {
    await writeFile(
      join(dir, 'tiny.tsv'),
      [stsLine(5, 'cat', 'cat'), stsLine(3.5, 'cat', 'dog'), stsLine(0.2, 'cat', 'car'), stsLine(1, 'dog', 'car')].join(
        '\n',
      ),
    );
    const result = JSON.parse(await runEval(['--bundle', dir, '--sts', join(dir, 'tiny.tsv'), '--json']));
    const dogNorm = Math.hypot(0.9, 0.3, 0.1);
    expect(result).toMatchObject({ pairs: 4, sentences: 3, spearman: 1 });
    expect(result.pearson).toBeCloseTo(pearson([1, 0.9 / dogNorm, 0, 0.1 / dogNorm], [5, 3.5, 0.2, 1]), 6);
    expect(result.model).toContain('tiny-mean');
  });

  it('prints Spearman and Pearson without --json', async () => {
    await writeFile(
      join(dir, 'tiny.tsv'),
      [stsLine(5, 'cat', 'cat'), stsLine(3, 'cat', 'dog'), stsLine(0, 'cat', 'car')].join('\n'),
    );
    expect(await runEval(['--bundle', dir, '--sts', join(dir, 'tiny.tsv')])).toMatch(
      /3 pairs \(3 sentences\)\n\s+Spearman 1\.0000\s+Pearson \d\.\d{4}/,
    );
  });

  it('explains a malformed line, a missing file and a missing model choice', async () => {
    await writeFile(join(dir, 'bad.tsv'), [stsLine(5, 'cat', 'cat'), 'only\ttwo'].join('\n'));
    await expect(runEval(['--bundle', dir, '--sts', join(dir, 'bad.tsv')])).rejects.toThrow(
      /bad\.tsv:2: expected at least 7 tab-separated columns/,
    );
    await expect(runEval(['--bundle', dir, '--sts', join(dir, 'missing.tsv')])).rejects.toThrow(
      /cannot read STS file .*missing\.tsv/,
    );
    await expect(runEval(['--bundle', join(dir, 'nowhere'), '--sts', join(dir, 'tiny.tsv')])).rejects.toThrow(
      /nowhere is not a bundle: manifest\.json is missing/,
    );
    const noModel = await runEval(['--sts', join(dir, 'bad.tsv')]).catch((e: unknown) => e);
    expect(noModel).toBeInstanceOf(PackError);
    expect((noModel as PackError).message).toMatch(/exactly one of --bundle/);
  });

  it('gives the same figures for the imported USE model folder and the tfjs reference', async () => {
    const modelDir = join(dir, 'use');
    await importUse({ outDir: modelDir });
    const pairs = [
      [4.8, 'A man is playing a guitar.', 'A man plays the guitar.'],
      [3.2, 'A woman is slicing an onion.', 'A woman is cutting vegetables.'],
      [2.4, 'A dog runs in the park.', 'A cat sleeps on the sofa.'],
      [1.0, 'The stock market fell today.', 'A child is riding a horse.'],
      [0.2, 'Kittens are eating food.', 'The parliament passed a new law.'],
      [4.2, 'Two kids are playing soccer.', 'Children play football.'],
    ] as const;
    await writeFile(join(dir, 'use.tsv'), pairs.map(([s, a, b]) => stsLine(s, a, b)).join('\n'));
    const imported = JSON.parse(await runEval(['--model-dir', modelDir, '--sts', join(dir, 'use.tsv'), '--json']));
    const reference = JSON.parse(await runEval(['--reference-use', '--sts', join(dir, 'use.tsv'), '--json']));
    expect(imported.model).toContain('1 Dense, normalized');
    expect(imported.spearman).toBeCloseTo(reference.spearman, 6);
    expect(imported.pearson).toBeCloseTo(reference.pearson, 4);
    expect(reference.spearman).toBeGreaterThan(0.5);
  });
});
