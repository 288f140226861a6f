/**
 * The plan's reference executor: runs an encoder plan (bundle-format/encoder-plan.ts) in plain TypeScript, one sequence
 * at a time with no padding (so no mask is needed and a batch gives exactly its single results). It is the definition
 * the WASM engine is tested against and the proof, at pack time, that the lowering kept the graph's meaning; it is
 * not fast. Activations feeding an int8 linear are quantized per row as the int8-compute graph does (round half to even).
 * A cross-encoder's plan runs the same way: token types pick rows of its token-type table, CLS pooling, the pooler and
 * classifier as the dense head, no normalisation; the "vector" is the pair's logits.
 */
import {
  type EncoderPlan,
  type PlanAttention,
  type PlanFeedForward,
  type PlanLayerNorm,
  type PlanLinear,
  type PlanTensor,
  planTensorBytes,
  tokenTypeRows,
} from '../bundle-format/encoder-plan.js';
import type { InferenceEngine } from './engine.js';
import { normalizeL2, poolTokens } from './pooling.js';

/** Rows x width of float64 token states. */
interface States {
  rows: number;
  width: number;
  data: Float64Array;
}

/** Typed views of plan.bin's tensors. */
export class PlanWeights {
  private readonly buffer: ArrayBuffer;

  constructor(bytes: Uint8Array) {
    // A copy: views need the alignment the plan's offsets assume, which a Buffer slice of a file may not have.
    this.buffer = bytes.slice().buffer;
  }

  int8(tensor: PlanTensor): Int8Array {
    return new Int8Array(this.buffer, tensor.offset, planTensorBytes(tensor));
  }

  float32(tensor: PlanTensor): Float32Array {
    return new Float32Array(this.buffer, tensor.offset, planTensorBytes(tensor) / 4);
  }
}

/** Round half to even, as QuantizeLinear rounds. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Each row quantized to [-127, 127] with scale max|row| / 127, computed in float32 as the graph does. */
function quantizeRows(x: States): { values: Int8Array; rowScales: Float64Array } {
  const values = new Int8Array(x.data.length);
  const rowScales = new Float64Array(x.rows);
  for (let r = 0; r < x.rows; r++) {
    let max = 1e-30;
    for (let c = 0; c < x.width; c++) max = Math.max(max, Math.abs(Math.fround(x.data[r * x.width + c])));
    const inverse = Math.fround(127 / Math.fround(max));
    for (let c = 0; c < x.width; c++) {
      const q = roundHalfEven(Math.fround(Math.fround(x.data[r * x.width + c]) * inverse));
      values[r * x.width + c] = Math.max(-128, Math.min(127, q));
    }
    rowScales[r] = Math.fround(max) / 127;
  }
  return { values, rowScales };
}

/** out[r, j] = sum_i a[r, i] w[i, j] over int8 values, exact in int32 (|sum| <= 127 * 127 * k). */
function int8Product(a: Int8Array, weight: Int8Array, rows: number, k: number, n: number): Int32Array {
  const out = new Int32Array(rows * n);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < k; i++) {
      const v = a[r * k + i];
      if (v === 0) continue;
      const base = i * n;
      const row = r * n;
      for (let j = 0; j < n; j++) out[row + j] += v * weight[base + j];
    }
  }
  return out;
}

function floatProduct(a: Float64Array, weight: Int8Array | Float32Array, rows: number, k: number, n: number) {
  const out = new Float64Array(rows * n);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < k; i++) {
      const v = a[r * k + i];
      const base = i * n;
      const row = r * n;
      for (let j = 0; j < n; j++) out[row + j] += v * weight[base + j];
    }
  }
  return out;
}

function linear(w: PlanWeights, layer: PlanLinear, x: States): States {
  const { inFeatures: k, outFeatures: n } = layer;
  if (x.width !== k) throw new Error(`a linear layer expects width ${k}, got ${x.width}`);
  const weight = layer.weight.dtype === 'int8' ? w.int8(layer.weight) : w.float32(layer.weight);
  const quantized = layer.input === 'per-row-int8' && weight instanceof Int8Array;
  const rows = quantized ? quantizeRows(x) : null;
  const product = rows
    ? int8Product(rows.values, weight as Int8Array, x.rows, k, n)
    : floatProduct(x.data, weight, x.rows, k, n);
  const scales = layer.scales ? w.float32(layer.scales) : null;
  const bias = layer.bias ? w.float32(layer.bias) : null;
  const out = new Float64Array(x.rows * n);
  for (let r = 0; r < x.rows; r++) {
    const rowScale = rows ? rows.rowScales[r] : 1;
    for (let j = 0; j < n; j++) {
      out[r * n + j] = product[r * n + j] * rowScale * (scales ? scales[j] : 1) + (bias ? bias[j] : 0);
    }
  }
  return { rows: x.rows, width: n, data: out };
}

function layerNorm(w: PlanWeights, norm: PlanLayerNorm, x: States): States {
  const gamma = w.float32(norm.gamma);
  const beta = w.float32(norm.beta);
  const out = new Float64Array(x.data.length);
  for (let r = 0; r < x.rows; r++) {
    const row = x.data.subarray(r * x.width, (r + 1) * x.width);
    let mean = 0;
    for (const v of row) mean += v;
    mean /= x.width;
    let variance = 0;
    for (const v of row) variance += (v - mean) ** 2;
    const inv = 1 / Math.sqrt(variance / x.width + norm.epsilon);
    for (let c = 0; c < x.width; c++) out[r * x.width + c] = (row[c] - mean) * inv * gamma[c] + beta[c];
  }
  return { ...x, data: out };
}

function add(a: States, b: States): States {
  return { ...a, data: a.data.map((v, i) => v + b.data[i]) };
}

/** One residual block: normBefore, body, residual (maybe projected), normAfter. */
function block(
  w: PlanWeights,
  x: States,
  norms: { normBefore: PlanLayerNorm | null; normAfter: PlanLayerNorm | null },
  body: (a: States) => States,
  residual: PlanLinear | null = null,
): States {
  const a = norms.normBefore ? layerNorm(w, norms.normBefore, x) : x;
  const y = add(body(a), residual ? linear(w, residual, x) : x);
  return norms.normAfter ? layerNorm(w, norms.normAfter, y) : y;
}

/** Multi-head self-attention over all rows (one sequence, no mask). */
function selfAttention(w: PlanWeights, att: PlanAttention, x: States): States {
  const qkv = linear(w, att.qkv, x);
  const inner = att.heads * att.headDim;
  const context = new Float64Array(x.rows * inner);
  const scores = new Float64Array(x.rows);
  for (let h = 0; h < att.heads; h++) {
    const q0 = h * att.headDim;
    const k0 = inner + q0;
    const v0 = 2 * inner + q0;
    for (let i = 0; i < x.rows; i++) {
      let max = -Infinity;
      for (let j = 0; j < x.rows; j++) {
        let dot = 0;
        for (let d = 0; d < att.headDim; d++)
          dot += qkv.data[i * qkv.width + q0 + d] * qkv.data[j * qkv.width + k0 + d];
        scores[j] = dot * att.scoreScale;
        max = Math.max(max, scores[j]);
      }
      let sum = 0;
      for (let j = 0; j < x.rows; j++) {
        scores[j] = Math.exp(scores[j] - max);
        sum += scores[j];
      }
      for (let j = 0; j < x.rows; j++) {
        const p = scores[j] / sum;
        for (let d = 0; d < att.headDim; d++) context[i * inner + q0 + d] += p * qkv.data[j * qkv.width + v0 + d];
      }
    }
  }
  return linear(w, att.output, { rows: x.rows, width: inner, data: context });
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** erf by Abramowitz and Stegun 7.1.26 is too coarse for parity; this series/continued-fraction pair is exact to ~1e-15. */
export function erf(x: number): number {
  const t = Math.abs(x);
  if (t < 2.5) {
    let term = t;
    let sum = t;
    for (let n = 1; n < 80 && Math.abs(term) > 1e-17 * Math.abs(sum); n++) {
      term *= (-t * t) / n;
      sum += term / (2 * n + 1);
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  let fraction = 0;
  for (let n = 60; n >= 1; n--) fraction = n / 2 / (t + fraction);
  return Math.sign(x) * (1 - Math.exp(-t * t) / Math.sqrt(Math.PI) / (t + fraction));
}

export const ACTIVATIONS: Record<PlanFeedForward['activation'], (v: number) => number> = {
  'gelu-erf': (v) => 0.5 * v * (1 + erf(v / Math.SQRT2)),
  'gelu-tanh': (v) => 0.5 * v * (1 + Math.tanh(SQRT_2_OVER_PI * (v + 0.044715 * v ** 3))),
  relu: (v) => Math.max(v, 0),
};

function feedForward(w: PlanWeights, ffn: PlanFeedForward, x: States): States {
  const up = linear(w, ffn.up, x);
  const activate = ACTIVATIONS[ffn.activation];
  return linear(w, ffn.down, { ...up, data: up.data.map(activate) });
}

/**
 * The token-type row each token adds: `typeIds[t]` of a [types, width] table (row 0 without types), the one row of a
 * version-1 plan (which cannot honour a type other than 0), or none.
 */
function tokenTypeRowsOf(plan: EncoderPlan, length: number, typeIds: readonly number[] | undefined): number[] | null {
  const rows = tokenTypeRows(plan);
  if (rows === 0) return null;
  if (typeIds && typeIds.length !== length) {
    throw new Error(`${typeIds.length} token types for ${length} tokens`);
  }
  return Array.from({ length }, (_, t) => {
    const type = typeIds?.[t] ?? 0;
    if (!Number.isInteger(type) || type < 0 || type >= rows) {
      throw new Error(`token type ${type} is outside the plan's ${rows} token-type row${rows === 1 ? '' : 's'}`);
    }
    return type;
  });
}

function embed(w: PlanWeights, plan: EncoderPlan, ids: readonly number[], typeIds?: readonly number[]): States {
  const e = plan.embeddings;
  const width = e.word.shape[1];
  const vocabulary = e.word.shape[0];
  const positions = e.position ? e.position.shape[0] - e.positionOffset : Infinity;
  if (ids.length > Math.min(plan.maxTokens, positions)) {
    throw new Error(`${ids.length} tokens is more than the plan's ${Math.min(plan.maxTokens, positions)}`);
  }
  const word = e.word.dtype === 'int8' ? w.int8(e.word) : w.float32(e.word);
  const wordScales = e.wordScales ? w.float32(e.wordScales) : null;
  const position = e.position ? w.float32(e.position) : null;
  const tokenType = e.tokenType ? w.float32(e.tokenType) : null;
  const types = tokenTypeRowsOf(plan, ids.length, typeIds);
  const data = new Float64Array(ids.length * width);
  ids.forEach((id, t) => {
    if (!Number.isInteger(id) || id < 0 || id >= vocabulary)
      throw new Error(`token id ${id} is outside the vocabulary`);
    const scale = wordScales ? wordScales[id] : 1;
    const p = (t + e.positionOffset) * width;
    const row = types ? types[t] * width : 0;
    for (let c = 0; c < width; c++) {
      const v = Math.fround(word[id * width + c] * scale);
      data[t * width + c] = v + (position ? position[p + c] : 0) + (tokenType ? tokenType[row + c] : 0);
    }
  });
  const states = { rows: ids.length, width, data };
  return e.norm ? layerNorm(w, e.norm, states) : states;
}

/**
 * The vector (an embedder's) or the logits (a cross-encoder's) of one token id sequence; `typeIds` (one per token)
 * pick the token-type rows of a plan that has a table of them, e.g. a pair's 0s for the query and 1s for the document.
 * @example runPlan(plan, new PlanWeights(bytes), [101, 7592, 102]) // Float32Array(plan's dimensions)
 */
export function runPlan(
  plan: EncoderPlan,
  w: PlanWeights,
  ids: readonly number[],
  typeIds?: readonly number[],
): Float32Array {
  let x = embed(w, plan, ids, typeIds);
  for (const layer of plan.layers) {
    x = block(w, x, layer.attention, (a) => selfAttention(w, layer.attention, a), layer.attention.residual);
    x = block(w, x, layer.feedForward, (a) => feedForward(w, layer.feedForward, a));
  }
  let vector = poolTokens(x.data, x.rows, x.width, plan.pooling);
  for (const dense of plan.dense) {
    const out = linear(w, dense.linear, { rows: 1, width: vector.length, data: vector });
    vector = dense.activation === 'tanh' ? out.data.map(Math.tanh) : out.data;
  }
  const result = Float32Array.from(vector);
  return plan.normalize ? normalizeL2(result) : result;
}

/**
 * The reference executor as an engine (slow: for tests and the packager's lowering check).
 * @example await createPlanReferenceEngine(plan, weightBytes).run([[101, 102]])
 */
export function createPlanReferenceEngine(plan: EncoderPlan, weights: Uint8Array): InferenceEngine {
  const w = new PlanWeights(weights);
  return {
    name: 'plan-reference',
    run: async (sequences, tokenTypes) => sequences.map((ids, i) => runPlan(plan, w, ids, tokenTypes?.[i])),
    release: async () => {},
  };
}
