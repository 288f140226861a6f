import { describe, expect, it } from 'vitest';
import { parseEncoderPlan } from '../../../bundle-format/encoder-plan.js';
import { SENTENCE_EMBEDDING_OUTPUT } from '../../../bundle-format/manifest.js';
import { createOrtEngine } from '../../../bundle-runtime/ort-engine.js';
import { createPlanReferenceEngine } from '../../../bundle-runtime/plan-reference.js';
import { cosine } from '../../../bundle-runtime/similarity.js';
import { type BertFixtureOptions, buildBertModel, FIXTURE_PRESETS } from '../../src/fixtures/bert-fixture.js';
import { encodeOnnxModel } from '../../src/onnx/write-model.js';
import { appendPooling } from '../../src/passes/append-pooling.js';
import { inspectBertGraph } from '../../src/passes/inspect-bert-graph.js';
import { lowerEncoderPlan } from '../../src/passes/lower-encoder-plan.js';
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
