import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { cosine } from '../../../../bundle-runtime/similarity.js';
import { registerImportUseCommand } from '../../../src/commands/import-use.js';
import { PackError } from '../../../src/errors.js';
import { modelDirEmbedder, referenceUseEmbedder } from '../../../src/eval/embedders.js';
import { type ImportUseResult, importUse } from '../../../src/importers/use/import-use.js';
import { initializerMap } from '../../../src/onnx/graph.js';
import { DataType, type GraphProto, type NodeProto } from '../../../src/onnx/proto.js';
import { readOnnxModel } from '../../../src/onnx/read-model.js';
import { tensorDims } from '../../../src/onnx/tensor.js';

const SUBJECTS = [
  'A man',
  'The woman',
  'Two children',
  'A small dog',
  'The old cat',
  'Our team',
  'The government',
  'A student',
  'The chef',
  'Scientists',
];
const VERBS = [
  'is playing',
  'was cooking',
  'will visit',
  'has painted',
  'are watching',
  'quickly ate',
  'never understood',
  'is slicing',
  'discussed',
  'found',
];
const OBJECTS = [
  'a guitar',
  'the dinner',
  'Paris in June',
  'an onion',
  'the football match',
  'the new policy',
  'a red bicycle',
  'the results',
  'some bread',
  'the old bridge',
];
const TAILS = [
  '.',
  ' yesterday.',
  ' at 10:30 am.',
  '!',
  '?',
  ' in 2019, apparently.',
  ' with great care.',
  ' (again).',
  '...',
  ' for $25.',
];
const HAND_WRITTEN = [
  'Hello world',
  'hello world',
  'HELLO WORLD',
  '',
  ' ',
  'The quick brown fox jumps over the lazy dog.',
  'Stocks fell 3.5% on Tuesday after the Fed raised rates.',
  "Café au lait, s'il vous plaît!",
  'I ❤️ New York 😀',
  'Line one\nLine two\tand a tab',
  'Tokyo (東京) is the capital of Japan.',
  ': leading colon',
  'e-mail me at someone@example.com or visit https://example.com/path?q=1',
  "It's \"quoted\" and it's 'single-quoted'.",
  'A very long sentence that keeps going. '.repeat(30),
];

/** 200+ varied English sentences: hand-written edge cases plus template combinations. */
function sentences(): string[] {
  const out = [...HAND_WRITTEN];
  for (let i = 0; out.length < 215; i++) {
    out.push(`${SUBJECTS[i % 10]} ${VERBS[(i * 3 + 1) % 10]} ${OBJECTS[(i * 7 + 2) % 10]}${TAILS[(i * 11 + 3) % 10]}`);
  }
  return out;
}

describe('import-use', () => {
  let dir: string;
  let result: ImportUseResult;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'import-use-'));
    // Through the CLI command, as a user runs it: `edge-embed import-use --out <dir> --json`.
    const program = new Command().exitOverride();
    registerImportUseCommand(program);
    const printed: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((line: string) => void printed.push(line));
    try {
      await program.parseAsync(['node', 'edge-embed', 'import-use', '--out', dir, '--json']);
    } finally {
      log.mockRestore();
    }
    result = JSON.parse(printed.join('\n'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes a sentence-transformers model folder: mean pooling, a tanh Dense, Normalize, 128 tokens', async () => {
    for (const file of [
      'model.onnx',
      'tokenizer.json',
      'tokenizer_config.json',
      'config.json',
      'modules.json',
      'sentence_bert_config.json',
      '1_Pooling/config.json',
      '2_Dense/config.json',
      '2_Dense/model.safetensors',
    ]) {
      expect(existsSync(join(dir, file)), file).toBe(true);
    }
    const read = async (file: string) => JSON.parse(await readFile(join(dir, file), 'utf8'));
    expect((await read('modules.json')).map((m: { type: string }) => m.type.split('.').pop())).toEqual([
      'Transformer',
      'Pooling',
      'Dense',
      'Normalize',
    ]);
    expect(await read('1_Pooling/config.json')).toMatchObject({
      word_embedding_dimension: 512,
      pooling_mode_mean_tokens: true,
      pooling_mode_mean_sqrt_len_tokens: false,
    });
    expect(await read('2_Dense/config.json')).toEqual({
      in_features: 512,
      out_features: 512,
      bias: true,
      activation_function: 'torch.nn.modules.activation.Tanh',
    });
    expect((await read('sentence_bert_config.json')).max_seq_length).toBe(128);
    expect(result).toMatchObject({ vocabSize: 8000, maxTokens: 128 });
    const tokenizer = new Tokenizer(await read('tokenizer.json'), await read('tokenizer_config.json'));
    // The reference tokenizer's ids for this text (no BOS/EOS).
    expect(tokenizer.encode('hello world').ids).toEqual([2002, 102, 311]);
  });

  it('follows the BERT-family contract: int64 inputs, last_hidden_state [batch, seq, 512], a Gather on input_ids over [8000, 256]', async () => {
    const model = await readOnnxModel(join(dir, 'model.onnx'));
    const graph = model.graph as GraphProto;
    expect(model.opsetImport.map((o) => [o.domain ?? '', Number(o.version)])).toEqual([['', 17]]);
    expect(graph.input.map((i) => [i.name, i.type?.tensorType?.elemType])).toEqual([
      ['input_ids', DataType.INT64],
      ['attention_mask', DataType.INT64],
    ]);
    expect(graph.output.map((o) => o.name)).toEqual(['last_hidden_state']);
    expect(graph.output[0].type?.tensorType?.shape?.dim?.map((d) => Number(d.dimValue ?? 0) || d.dimParam)).toEqual([
      'batch_size',
      'sequence_length',
      512,
    ]);
    const gathers = (graph.node as NodeProto[]).filter((n) => n.opType === 'Gather' && n.input[1] === 'input_ids');
    expect(gathers).toHaveLength(1);
    expect(tensorDims(initializerMap(graph).get(gathers[0].input[0])!)).toEqual([8000, 256]);
    expect((graph.node as NodeProto[]).every((n) => !n.domain)).toBe(true);
    expect((graph.node as NodeProto[]).some((n) => /Quantize|Integer|QLinear/.test(n.opType))).toBe(false);
  });

  it('embeds 215 sentences like the reference tfjs model (mean cosine >= 0.9999)', async () => {
    const texts = sentences();
    const reference = await referenceUseEmbedder();
    const imported = await modelDirEmbedder(dir, 16);
    const expected = await reference.embed(texts);
    const actual = await imported.embed(texts);
    await imported.close();
    const cosines = texts.map((_, i) => cosine(expected[i], actual[i]));
    const mean = cosines.reduce((a, b) => a + b, 0) / cosines.length;
    expect(texts.length).toBeGreaterThanOrEqual(200);
    expect(mean).toBeGreaterThanOrEqual(0.9999);
    expect(Math.min(...cosines)).toBeGreaterThan(0.999);
  });

  it('refuses a folder without the tfjs model, naming the missing file', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'import-use-empty-'));
    try {
      const error = await importUse({ outDir: join(empty, 'out'), packageDir: empty }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PackError);
      expect((error as PackError).kind).toBe('missing-input');
      expect((error as PackError).message).toContain('vocab.json');
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});
