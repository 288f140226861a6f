/**
 * The plan engine: runs an encoder plan with the int8 GEMM kernels of engine/ (WASM) for every int8 linear layer, each
 * token row quantized inside the module as the int8-compute graph does. LayerNorm, attention, the activation, pooling
 * and the head are plain TypeScript over float32 buffers for now (the GEMMs are most of the time: 61% in ORT's profile
 * of the default bundle; WASM kernels for the rest are issue 11's next step). Sequences run one at a time without
 * padding, so there is no mask and a batch gives exactly its single results. Weights are packed and every buffer is
 * sized for the longest sequence once, at creation: a request allocates only its result vectors.
 */
import type {
  EncoderPlan,
  PlanAttention,
  PlanFeedForward,
  PlanLayerNorm,
  PlanLinear,
} from '../bundle-format/encoder-plan.js';
import { Int8Gemm, type PackedWeights } from '../engine/src/int8-gemm.js';
import type { InferenceEngine } from './engine.js';
import { PlanWeights } from './plan-reference.js';
import { normalizeL2, poolTokens } from './pooling.js';

/** Numerical Recipes' erfc (fractional error < 1.2e-7, below float32's): erf for GELU without a series per value. */
function erf(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const poly =
    -1.26551223 +
    t *
      (1.00002368 +
        t *
          (0.37409196 +
            t *
              (0.09678418 +
                t *
                  (-0.18628806 +
                    t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  const erfc = t * Math.exp(-z * z + poly);
  return x >= 0 ? 1 - erfc : erfc - 1;
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

function activateInPlace(values: Float32Array, activation: PlanFeedForward['activation']): void {
  if (activation === 'relu') {
    for (let i = 0; i < values.length; i++) if (values[i] < 0) values[i] = 0;
  } else if (activation === 'gelu-erf') {
    for (let i = 0; i < values.length; i++) values[i] = 0.5 * values[i] * (1 + erf(values[i] * Math.SQRT1_2));
  } else {
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      values[i] = 0.5 * v * (1 + Math.tanh(SQRT_2_OVER_PI * (v + 0.044715 * v * v * v)));
    }
  }
}

/** A linear layer ready to run: packed int8 weights in the module, or fp32 weights in JS. */
interface ReadyLinear {
  k: number;
  n: number;
  packed: PackedWeights | null;
  weight: Float32Array | null;
  bias: Float32Array | null;
}

/** The buffers one sequence runs in, sized for the longest sequence and the widest layer. */
interface Scratch {
  x: Float32Array;
  normed: Float32Array;
  qkv: Float32Array;
  context: Float32Array;
  block: Float32Array;
  residual: Float32Array;
  up: Float32Array;
  scores: Float64Array;
  /** One head's query, key and value rows, contiguous. */
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
}

class PlanRunner {
  private readonly linears = new Map<PlanLinear, ReadyLinear>();
  private readonly scratch: Scratch;
  private readonly maxRows: number;

  constructor(
    private readonly plan: EncoderPlan,
    private readonly weights: PlanWeights,
    private readonly gemm: Int8Gemm,
  ) {
    const e = plan.embeddings;
    this.maxRows = Math.min(plan.maxTokens, e.position ? e.position.shape[0] - e.positionOffset : plan.maxTokens);
    let width = e.word.shape[1];
    let qkv = 0;
    let up = 0;
    let headDim = 0;
    for (const { attention, feedForward } of plan.layers) {
      for (const l of [attention.qkv, attention.output, attention.residual, feedForward.up, feedForward.down]) {
        if (l) this.ready(l);
      }
      width = Math.max(width, attention.output.outFeatures, feedForward.down.outFeatures);
      qkv = Math.max(qkv, attention.qkv.outFeatures);
      headDim = Math.max(headDim, attention.headDim);
      up = Math.max(up, feedForward.up.outFeatures);
    }
    for (const dense of plan.dense) this.ready(dense.linear);
    const rows = this.maxRows;
    this.scratch = {
      x: new Float32Array(rows * width),
      normed: new Float32Array(rows * width),
      qkv: new Float32Array(rows * qkv),
      context: new Float32Array(rows * qkv),
      block: new Float32Array(rows * width),
      residual: new Float32Array(rows * width),
      up: new Float32Array(rows * up),
      scores: new Float64Array(rows),
      q: new Float32Array(rows * headDim),
      k: new Float32Array(rows * headDim),
      v: new Float32Array(rows * headDim),
    };
  }

  private ready(linear: PlanLinear): ReadyLinear {
    const known = this.linears.get(linear);
    if (known) return known;
    const w = this.weights;
    const int8 = linear.weight.dtype === 'int8' && linear.input === 'per-row-int8' && linear.scales !== null;
    if (linear.weight.dtype === 'int8' && !int8) throw new Error('an int8 linear layer without per-row int8 input');
    const ready: ReadyLinear = {
      k: linear.inFeatures,
      n: linear.outFeatures,
      packed:
        int8 && linear.scales
          ? this.gemm.packWeights(
              w.int8(linear.weight),
              w.float32(linear.scales),
              linear.inFeatures,
              linear.outFeatures,
            )
          : null,
      weight: int8 ? null : w.float32(linear.weight),
      bias: linear.bias ? w.float32(linear.bias) : null,
    };
    this.linears.set(linear, ready);
    return ready;
  }

  /** out[rows, n] = x[rows, k] W + b. */
  private linear(layer: PlanLinear, x: Float32Array, rows: number, out: Float32Array): Float32Array {
    const l = this.ready(layer);
    const result = out.subarray(0, rows * l.n);
    if (l.packed) this.gemm.runFloat(l.packed, x.subarray(0, rows * l.k), rows, result);
    else floatProduct(x, l.weight as Float32Array, rows, l.k, l.n, result);
    const bias = l.bias;
    if (bias) {
      for (let r = 0; r < rows; r++) for (let j = 0; j < l.n; j++) result[r * l.n + j] += bias[j];
    }
    return result;
  }

  private layerNorm(norm: PlanLayerNorm, x: Float32Array, rows: number, width: number, out: Float32Array): void {
    const gamma = this.weights.float32(norm.gamma);
    const beta = this.weights.float32(norm.beta);
    for (let r = 0; r < rows; r++) {
      const base = r * width;
      let mean = 0;
      for (let c = 0; c < width; c++) mean += x[base + c];
      mean /= width;
      let variance = 0;
      for (let c = 0; c < width; c++) variance += (x[base + c] - mean) ** 2;
      const inv = 1 / Math.sqrt(variance / width + norm.epsilon);
      for (let c = 0; c < width; c++) out[base + c] = (x[base + c] - mean) * inv * gamma[c] + beta[c];
    }
  }

  private embed(ids: readonly number[]): number {
    const e = this.plan.embeddings;
    const [vocabulary, width] = e.word.shape;
    if (ids.length > this.maxRows) throw new Error(`${ids.length} tokens is more than the plan's ${this.maxRows}`);
    const w = this.weights;
    const word = e.word.dtype === 'int8' ? w.int8(e.word) : w.float32(e.word);
    const scales = e.wordScales ? w.float32(e.wordScales) : null;
    const position = e.position ? w.float32(e.position) : null;
    const tokenType = e.tokenType ? w.float32(e.tokenType) : null;
    const x = this.scratch.x;
    ids.forEach((id, t) => {
      if (!Number.isInteger(id) || id < 0 || id >= vocabulary)
        throw new Error(`token id ${id} is outside the vocabulary`);
      const scale = scales ? scales[id] : 1;
      const p = (t + e.positionOffset) * width;
      for (let c = 0; c < width; c++) {
        x[t * width + c] =
          word[id * width + c] * scale + (position ? position[p + c] : 0) + (tokenType ? tokenType[c] : 0);
      }
    });
    if (e.norm) this.layerNorm(e.norm, x, ids.length, width, x);
    return width;
  }

  /** One residual block on scratch.x (width in, width out); returns the new width. */
  private block(
    norms: { normBefore: PlanLayerNorm | null; normAfter: PlanLayerNorm | null },
    rows: number,
    width: number,
    body: (a: Float32Array) => Float32Array,
    residual: PlanLinear | null,
  ): number {
    const s = this.scratch;
    const a = norms.normBefore ? s.normed : s.x;
    if (norms.normBefore) this.layerNorm(norms.normBefore, s.x, rows, width, s.normed);
    const y = body(a);
    const outWidth = y.length / rows;
    const skip = residual ? this.linear(residual, s.x, rows, s.residual) : s.x;
    for (let i = 0; i < y.length; i++) s.x[i] = y[i] + skip[i];
    if (norms.normAfter) this.layerNorm(norms.normAfter, s.x, rows, outWidth, s.x);
    return outWidth;
  }

  private attention(att: PlanAttention, a: Float32Array, rows: number): Float32Array {
    const s = this.scratch;
    const qkv = this.linear(att.qkv, a, rows, s.qkv);
    const inner = att.heads * att.headDim;
    const context = s.context.subarray(0, rows * inner).fill(0);
    for (let h = 0; h < att.heads; h++) this.head(att, qkv, rows, h, context);
    return this.linear(att.output, context, rows, s.block);
  }

  /** One head: its query, key and value columns copied out contiguous, softmax(q k^T * scale) v added to context. */
  private head(att: PlanAttention, qkv: Float32Array, rows: number, h: number, context: Float32Array): void {
    const headDim = att.headDim;
    const scale = att.scoreScale;
    const inner = att.heads * headDim;
    const { q, k, v, scores } = this.scratch;
    for (let t = 0; t < rows; t++) {
      const src = t * 3 * inner + h * headDim;
      q.set(qkv.subarray(src, src + headDim), t * headDim);
      k.set(qkv.subarray(src + inner, src + inner + headDim), t * headDim);
      v.set(qkv.subarray(src + 2 * inner, src + 2 * inner + headDim), t * headDim);
    }
    for (let i = 0; i < rows; i++) {
      const qi = i * headDim;
      let max = -Infinity;
      for (let j = 0; j < rows; j++) {
        const kj = j * headDim;
        let dot = 0;
        for (let d = 0; d < headDim; d++) dot += q[qi + d] * k[kj + d];
        const score = dot * scale;
        scores[j] = score;
        if (score > max) max = score;
      }
      let sum = 0;
      for (let j = 0; j < rows; j++) {
        const e = Math.exp(scores[j] - max);
        scores[j] = e;
        sum += e;
      }
      const out = i * inner + h * headDim;
      for (let j = 0; j < rows; j++) {
        const p = scores[j] / sum;
        const vj = j * headDim;
        for (let d = 0; d < headDim; d++) context[out + d] += p * v[vj + d];
      }
    }
  }

  private feedForward(ffn: PlanFeedForward, a: Float32Array, rows: number): Float32Array {
    const up = this.linear(ffn.up, a, rows, this.scratch.up);
    activateInPlace(up, ffn.activation);
    return this.linear(ffn.down, up, rows, this.scratch.block);
  }

  run(ids: readonly number[]): Float32Array {
    const rows = ids.length;
    let width = this.embed(ids);
    for (const { attention, feedForward } of this.plan.layers) {
      width = this.block(attention, rows, width, (a) => this.attention(attention, a, rows), attention.residual);
      width = this.block(feedForward, rows, width, (a) => this.feedForward(feedForward, a, rows), null);
    }
    let vector: Float32Array | Float64Array = poolTokens(this.scratch.x, rows, width, this.plan.pooling);
    for (const dense of this.plan.dense) {
      const out = new Float32Array(dense.linear.outFeatures);
      this.linear(dense.linear, Float32Array.from(vector), 1, out);
      vector = dense.activation === 'tanh' ? out.map(Math.tanh) : out;
    }
    const result = Float32Array.from(vector);
    return this.plan.normalize ? normalizeL2(result) : result;
  }
}

function floatProduct(x: Float32Array, w: Float32Array, rows: number, k: number, n: number, out: Float32Array): void {
  out.fill(0, 0, rows * n);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < k; i++) {
      const v = x[r * k + i];
      for (let j = 0; j < n; j++) out[r * n + j] += v * w[i * n + j];
    }
  }
}

/**
 * The plan engine over a compiled kernel module: engine/dist/gemm-relaxed-exact.wasm where relaxed SIMD runs
 * correctly (workerd), gemm-simd128.wasm elsewhere (Node 20). A module, never bytes: workerd cannot compile wasm at
 * run time.
 * @example const engine = await createPlanEngine(plan, weightBytes, new WebAssembly.Module(simd128Bytes))
 */
export async function createPlanEngine(
  plan: EncoderPlan,
  weights: Uint8Array,
  kernels: WebAssembly.Module,
): Promise<InferenceEngine> {
  const runner = new PlanRunner(plan, new PlanWeights(weights), await Int8Gemm.create(kernels));
  return {
    name: 'edge-embed plan',
    run: async (sequences) => sequences.map((ids) => runner.run(ids)),
    release: async () => {},
  };
}
