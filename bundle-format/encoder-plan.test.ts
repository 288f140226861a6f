/** The encoder plan's contract: versioned, bounds-checked against plan.bin, and covered by the content hash. */
import { describe, expect, it } from 'vitest';
import { type EncoderPlan, parseEncoderPlan, planTensors, tokenTypeRows } from './encoder-plan.js';
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

/** A one-layer version-1 plan (an embedder's, as written before version 2) over 4-wide states in 64 bytes. */
const plan: EncoderPlan = {
  planVersion: 1,
  hidden: 4,
  maxTokens: 8,
  embeddings: {
    word: { dtype: 'float32', shape: [2, 4], offset: 0 },
    wordScales: null,
    position: null,
    positionOffset: 0,
    tokenType: vector(32),
    norm,
  },
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

  it('refuses another plan version, naming those it reads', () => {
    expect(() => parseEncoderPlan({ ...json(), planVersion: 3 }, 64)).toThrow(
      /version 3 is not supported.*knows 1 and 2/,
    );
    expect(() => parseEncoderPlan('not a plan', 64)).toThrow(/version undefined/);
  });

  it("reads a version-1 plan's token-type row as one row, and a version-2 table by its rows", () => {
    expect(tokenTypeRows(parseEncoderPlan(json(), 64))).toBe(1);
    const table = json();
    table.planVersion = 2;
    table.embeddings.tokenType = { dtype: 'float32', shape: [2, 4], offset: 32 };
    expect(tokenTypeRows(parseEncoderPlan(table, 64))).toBe(2);
    const none = json();
    none.embeddings.tokenType = null;
    expect(tokenTypeRows(parseEncoderPlan(none, 64))).toBe(0);
  });

  it('refuses a token-type table in a version-1 plan (a version-1 reader would add its first row to every token)', () => {
    const table = json();
    table.embeddings.tokenType = { dtype: 'float32', shape: [2, 4], offset: 32 };
    expect(() => parseEncoderPlan(table, 64)).toThrow(/embeddings\.tokenType\.shape: .*needs planVersion 2/);
    const narrow = { ...json(), planVersion: 2 };
    narrow.embeddings.tokenType = { dtype: 'float32', shape: [2, 3], offset: 32 };
    expect(() => parseEncoderPlan(narrow, 64)).toThrow(/embeddings\.tokenType\.shape: expected .* width 4/);
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

  it("hashes a cross-encoder's plan files only when it has them", async () => {
    const crossEncoder: ContentHashFields = {
      ...base,
      kind: 'cross-encoder',
      crossEncoder: {
        labels: 1,
        activation: { type: 'sigmoid' },
        pairFraming: 'bert',
        head: 'int8',
        fidelity: { source: 'test', pairs: 1, spearman: 1, maxAbsDiff: 0 },
      },
    };
    const without = await computeContentHash(crossEncoder);
    const withPlan = await computeContentHash({
      ...crossEncoder,
      files: { ...base.files, 'plan.json': file('c'), 'plan.bin': file('d') },
    });
    expect(without).not.toBe(withPlan);
    expect(without).not.toBe(await computeContentHash(base));
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
