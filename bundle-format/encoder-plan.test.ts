/** The encoder plan's contract: versioned, bounds-checked against plan.bin, and covered by the content hash. */
import { describe, expect, it } from 'vitest';
import { ENCODER_PLAN_VERSION, type EncoderPlan, parseEncoderPlan, planTensors } from './encoder-plan.js';
import { type BundleManifest, type ContentHashFields, computeContentHash, parseBundleManifest } from './manifest.js';

const vector = (offset: number, n = 4) => ({ dtype: 'float32' as const, shape: [n], offset });
const linear = (offset: number) => ({
  inFeatures: 4,
  outFeatures: 4,
  weight: { dtype: 'int8' as const, shape: [4, 4], offset },
  scales: vector(offset + 16),
  bias: null,
  input: 'per-row-int8' as const,
});
const norm = { gamma: vector(0), beta: vector(16), epsilon: 1e-12 };

/** A one-layer plan over 4-wide states whose tensors all fit in 64 bytes. */
const plan: EncoderPlan = {
  planVersion: ENCODER_PLAN_VERSION,
  hidden: 4,
  maxTokens: 8,
  embeddings: { word: vector(0), wordScales: null, position: null, positionOffset: 0, tokenType: null, norm },
  layers: [
    {
      attention: {
        normBefore: null,
        normAfter: norm,
        heads: 1,
        headDim: 4,
        qkv: {
          ...linear(0),
          outFeatures: 12,
          weight: { dtype: 'int8', shape: [4, 12], offset: 0 },
          scales: vector(0, 12),
        },
        scoreScale: 0.5,
        output: linear(0),
        residual: null,
      },
      feedForward: { normBefore: null, normAfter: norm, up: linear(16), activation: 'gelu-erf', down: linear(16) },
    },
  ],
  pooling: 'mean',
  dense: [],
  normalize: true,
  weightBytes: 64,
};
const json = () => JSON.parse(JSON.stringify(plan));

describe('parseEncoderPlan', () => {
  it('reads a plan whose tensors lie inside plan.bin', () => {
    expect(parseEncoderPlan(json(), 64)).toEqual(plan);
    expect(planTensors(plan).length).toBeGreaterThan(10);
  });

  it('refuses another plan version, naming both', () => {
    expect(() => parseEncoderPlan({ ...json(), planVersion: 2 }, 64)).toThrow(/version 2 is not supported.*knows 1/);
    expect(() => parseEncoderPlan('not a plan', 64)).toThrow(/version undefined/);
  });

  it('refuses a malformed plan by its first bad field', () => {
    const bad = json();
    bad.layers[0].feedForward.activation = 'swish';
    expect(() => parseEncoderPlan(bad, 64)).toThrow(/layers\.0\.feedForward\.activation/);
    const unaligned = json();
    unaligned.embeddings.word.offset = 3;
    expect(() => parseEncoderPlan(unaligned, 64)).toThrow(/embeddings\.word\.offset/);
  });

  it('refuses a plan.bin of another size and a tensor past its end', () => {
    expect(() => parseEncoderPlan(json(), 48)).toThrow(/plan\.bin has 48 bytes, the plan expects 64/);
    const past = json();
    past.layers[0].feedForward.up.scales.offset = 64;
    expect(() => parseEncoderPlan(past, 64)).toThrow(/at byte 64 ends past plan\.bin/);
  });
});

describe('the manifest and the plan', () => {
  const file = (sha: string) => ({ bytes: 64, sha256: sha.repeat(64) });
  const base: ContentHashFields = {
    formatVersion: 1,
    files: { 'model.onnx': file('a'), 'tokenizer.json': file('b') },
    tokenizerConfig: {},
    maxTokens: 8,
    pooling: 'mean',
    normalize: true,
    inputs: ['input_ids'],
    inputDtype: 'int64',
  };

  it('hashes the plan files only when a bundle has them', async () => {
    const without = await computeContentHash(base);
    const withPlan = await computeContentHash({
      ...base,
      files: { ...base.files, 'plan.json': file('c'), 'plan.bin': file('d') },
    });
    const otherWeights = await computeContentHash({
      ...base,
      files: { ...base.files, 'plan.json': file('c'), 'plan.bin': file('e') },
    });
    expect(new Set([without, withPlan, otherWeights]).size).toBe(3);
  });

  it('refuses plan.json without plan.bin', async () => {
    const manifest = {
      ...base,
      modelName: 'm',
      dimensions: 4,
      allowedDimensions: [4],
      output: 'sentence_embedding',
      quantization: 'int8-compute',
      vocabulary: { before: 10, after: 10 },
      bytes: { total: 1, embeddings: 0, layers: 0, tokenizer: 1 },
      sourceFiles: {},
      fidelity: null,
      wasmHeapBytes: null,
      createdBy: 'test',
    };
    const files = { ...base.files, 'plan.json': file('c') };
    const contentHash = await computeContentHash({ ...base, files });
    expect(() => parseBundleManifest({ ...manifest, files, contentHash } as unknown as BundleManifest)).toThrow(
      /plan\.json and plan\.bin come together/,
    );
  });
});
