import { describe, expect, it } from 'vitest';
import { parseEncoderPlan, tokenTypeRows } from '../../../bundle-format/encoder-plan.js';
import { LOGITS_OUTPUT, SENTENCE_EMBEDDING_OUTPUT } from '../../../bundle-format/manifest.js';
import { createOrtEngine } from '../../../bundle-runtime/ort-engine.js';
import { createPlanReferenceEngine } from '../../../bundle-runtime/plan-reference.js';
import { cosine } from '../../../bundle-runtime/similarity.js';
import { type BertFixtureOptions, buildBertModel, FIXTURE_PRESETS } from '../../src/fixtures/bert-fixture.js';
import { encodeOnnxModel } from '../../src/onnx/write-model.js';
import { appendPooling } from '../../src/passes/append-pooling.js';
import { findClassifierHead } from '../../src/passes/find-classifier-head.js';
import { inspectBertGraph } from '../../src/passes/inspect-bert-graph.js';
import { lowerClassifierPlan, lowerEncoderPlan } from '../../src/passes/lower-encoder-plan.js';
import { quantizeEmbeddingTable } from '../../src/passes/quantize-embedding-table.js';
import { type MatMulQuantizationMode, quantizeMatMulWeights } from '../../src/passes/quantize-matmul-weights.js';
import { nodeOrt } from '../../src/runtime/ort-node.js';

const VOCABULARY = 500;

/** Packs a generated fixture as `pack` does (int8 table and weights), lowers it, and appends pooling for ORT. */
function packed(options: BertFixtureOptions, mode: MatMulQuantizationMode | 'none', pooling: 'mean' | 'cls' = 'mean') {
  const model = buildBertModel(options, VOCABULARY);
  const info = inspectBertGraph(model);
  if (mode !== 'none') {
    quantizeEmbeddingTable(model, info.wordEmbedding);
    quantizeMatMulWeights(model, mode);
  }
  const lowered = lowerEncoderPlan(model, {
    hiddenOutput: info.hiddenOutput,
    maxTokens: options.maxPositions,
    pooling,
    normalize: true,
    dense: [],
  });
  appendPooling(model, { pooling, normalize: true, hiddenOutput: info.hiddenOutput });
  return { lowered, info, modelBytes: encodeOnnxModel(model) };
}

/** Seeded token id sequences of the given lengths (ids past the special tokens). */
function sequences(lengths: number[]): number[][] {
  let state = 11;
  const next = () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
  return lengths.map((n) => Array.from({ length: n }, () => 5 + Math.floor(next() * (VOCABULARY - 5))));
}

async function parity(
  options: BertFixtureOptions,
  mode: MatMulQuantizationMode | 'none',
  pooling: 'mean' | 'cls' = 'mean',
) {
  const { lowered, info, modelBytes } = packed(options, mode, pooling);
  if (!lowered.plan) throw new Error(`no plan: ${lowered.reason}`);
  const plan = parseEncoderPlan(JSON.parse(JSON.stringify(lowered.plan)), lowered.weights.length);
  const reference = createPlanReferenceEngine(plan, lowered.weights);
  const ort = await createOrtEngine(nodeOrt, modelBytes, { ...info, output: SENTENCE_EMBEDDING_OUTPUT });
  try {
    const batch = sequences([1, 2, 5, 17, 31, options.maxPositions]);
    const ortVectors = await Promise.all(batch.map(async (ids) => (await ort.run([ids]))[0]));
    const planVectors = await reference.run(batch);
    return { plan, cosines: planVectors.map((v, i) => cosine(v, ortVectors[i])) };
  } finally {
    await ort.release();
  }
}

describe('lowerEncoderPlan', () => {
  const tiny = FIXTURE_PRESETS.tiny;

  it('lowers a post-norm BERT (fused LayerNorm, token types, GELU erf) that the reference runs as ORT does', async () => {
    const { plan, cosines } = await parity(tiny, 'int8-compute');
    expect(plan.layers).toHaveLength(tiny.layers);
    expect(plan.embeddings.norm).not.toBeNull();
    expect(plan.embeddings.tokenType).not.toBeNull();
    expect(plan.layers[0].attention).toMatchObject({ heads: 4, headDim: 8, normBefore: null, residual: null });
    expect(plan.layers[0].attention.scoreScale).toBeCloseTo(1 / Math.sqrt(8), 6);
    expect(plan.layers[0].attention.normAfter).not.toBeNull();
    expect(plan.layers[0].feedForward.activation).toBe('gelu-erf');
    expect(Math.min(...cosines)).toBeGreaterThanOrEqual(0.9999);
  });

  it('matches the decomposed LayerNorm of opset 14 and a graph without token types', async () => {
    const { plan, cosines } = await parity({ ...tiny, opset: 14, tokenTypeIds: false }, 'int8-compute');
    expect(plan.embeddings.tokenType).toBeNull();
    expect(plan.layers[1].feedForward.normAfter?.epsilon).toBeGreaterThan(0);
    expect(Math.min(...cosines)).toBeGreaterThanOrEqual(0.9999);
  });

  it("keeps an embedder's plan at version 1 with only the token-type-0 row, so older readers run it", async () => {
    const { plan } = await parity(tiny, 'int8-compute');
    expect(plan.planVersion).toBe(1);
    expect(plan.embeddings.tokenType?.shape).toEqual([tiny.hidden]);
  });

  it('lowers an unquantized graph to float linears, with CLS pooling', async () => {
    const { plan, cosines } = await parity(tiny, 'none', 'cls');
    expect(plan.layers[0].attention.qkv).toMatchObject({ input: 'float', scales: null });
    expect(plan.embeddings.wordScales).toBeNull();
    expect(Math.min(...cosines)).toBeGreaterThanOrEqual(0.9999);
  });

  it.each([
    ['int8-storage', tiny, 'int8-storage', /int8-storage/],
    ['RoBERTa (position ids computed in the graph)', FIXTURE_PRESETS.roberta, 'int8-compute', /embedding term/],
    ['ALBERT (factorised embeddings)', FIXTURE_PRESETS.albert, 'int8-compute', /neither the block input/],
  ] as const)('gives no plan and a reason for %s', (_, options, mode, reason) => {
    const { lowered } = packed(options, mode);
    expect(lowered.plan).toBeNull();
    expect(lowered.plan === null && lowered.reason).toMatch(reason);
  });
});

/** A cross-encoder packed as pack-cross-encoder does (the head int8, or kept fp32), lowered to a plan. */
function packedClassifier(options: BertFixtureOptions, mode: 'int8-compute' | 'none', keepHead = false) {
  const model = buildBertModel(options, VOCABULARY);
  const info = inspectBertGraph(model);
  if (mode !== 'none') {
    const head = findClassifierHead(model, LOGITS_OUTPUT);
    quantizeEmbeddingTable(model, info.wordEmbedding);
    quantizeMatMulWeights(model, mode, new Set(keepHead ? head.linearNodes : []));
  }
  const lowered = lowerClassifierPlan(model, { logits: LOGITS_OUTPUT, maxTokens: options.maxPositions });
  return { lowered, info, modelBytes: encodeOnnxModel(model) };
}

/** [CLS]-like pairs: a query part of type 0, then a document part of type 1, of several lengths up to the maximum. */
function typedPairs(max: number): { ids: number[][]; types: number[][] } {
  const lengths = [
    [1, 2],
    [3, 6],
    [4, 20],
    [8, 31],
    [12, max - 12],
  ];
  const ids = sequences(lengths.map(([q, d]) => q + d));
  const types = lengths.map(([q, d]) => [...Array(q).fill(0), ...Array(d).fill(1)]);
  return { ids, types };
}

async function classifierParity(options: BertFixtureOptions, mode: 'int8-compute' | 'none', keepHead = false) {
  const { lowered, info, modelBytes } = packedClassifier(options, mode, keepHead);
  if (!lowered.plan) throw new Error(`no plan: ${lowered.reason}`);
  const plan = parseEncoderPlan(JSON.parse(JSON.stringify(lowered.plan)), lowered.weights.length);
  const reference = createPlanReferenceEngine(plan, lowered.weights);
  const ort = await createOrtEngine(nodeOrt, modelBytes, { ...info, output: LOGITS_OUTPUT });
  try {
    const { ids, types } = typedPairs(options.maxPositions);
    const ortLogits = await Promise.all(ids.map(async (seq, i) => (await ort.run([seq], [types[i]]))[0]));
    const diff = (logits: Float32Array[]) =>
      Math.max(...logits.flatMap((row, i) => [...row].map((v, j) => Math.abs(v - ortLogits[i][j]))));
    return {
      plan,
      maxDiff: diff(await reference.run(ids, types)),
      // What a plan that ignored the document's token type would be off by: the test below can fail.
      typeBlindDiff: diff(await reference.run(ids)),
      ortLogits,
    };
  } finally {
    await ort.release();
  }
}

describe('lowerClassifierPlan', () => {
  const crossEncoder = { ...FIXTURE_PRESETS.tiny, head: { labels: 1 as const } };

  it("lowers a BERT cross-encoder (int8 head) to a plan whose logits, with each token's type, are the graph's", async () => {
    const { plan, maxDiff, typeBlindDiff } = await classifierParity(crossEncoder, 'int8-compute');
    expect(plan).toMatchObject({ planVersion: 2, pooling: 'cls', normalize: false, hidden: crossEncoder.hidden });
    expect(plan.embeddings.tokenType?.shape).toEqual([2, crossEncoder.hidden]);
    expect(tokenTypeRows(plan)).toBe(2);
    expect(plan.dense.map((d) => [d.activation, d.linear.input, d.linear.outFeatures])).toEqual([
      ['tanh', 'per-row-int8', crossEncoder.hidden],
      ['identity', 'per-row-int8', 1],
    ]);
    expect(maxDiff).toBeLessThan(1e-3);
    expect(typeBlindDiff).toBeGreaterThan(100 * maxDiff);
  });

  it('lowers an fp32 head (Gemm with transB) and two logits', async () => {
    const { plan, maxDiff, ortLogits } = await classifierParity(
      { ...crossEncoder, seed: 5, head: { labels: 2 as 1 } },
      'int8-compute',
      true,
    );
    expect(plan.dense.map((d) => [d.activation, d.linear.input, d.linear.outFeatures])).toEqual([
      ['tanh', 'float', crossEncoder.hidden],
      ['identity', 'float', 2],
    ]);
    expect(ortLogits[0]).toHaveLength(2);
    expect(maxDiff).toBeLessThan(1e-3);
  });

  it('lowers an unquantized cross-encoder with the decomposed LayerNorm of opset 14', async () => {
    const { plan, maxDiff } = await classifierParity({ ...crossEncoder, opset: 14 }, 'none');
    expect(plan.layers[0].attention.qkv.input).toBe('float');
    expect(maxDiff).toBeLessThan(1e-4);
  });

  it('refuses token types the plan has no row for', async () => {
    const { lowered } = packedClassifier(crossEncoder, 'int8-compute');
    if (!lowered.plan) throw new Error(lowered.reason);
    const reference = createPlanReferenceEngine(lowered.plan, lowered.weights);
    await expect(reference.run([[5, 6]], [[0, 2]])).rejects.toThrow(
      /token type 2 is outside the plan's 2 token-type rows/,
    );
    await expect(reference.run([[5, 6]], [[0]])).rejects.toThrow(/1 token types for 2 tokens/);
  });

  it('gives no plan and a reason for a RoBERTa cross-encoder (position ids computed in the graph)', () => {
    const { lowered } = packedClassifier({ ...FIXTURE_PRESETS.roberta, head: { labels: 1 } }, 'int8-compute');
    expect(lowered.plan).toBeNull();
    expect(lowered.plan === null && lowered.reason).toMatch(/embedding term/);
  });
});
