/**
 * The plan engine: runs an encoder plan entirely inside one kernel module (engine/assembly: the int8 GEMM of the build
 * plus the encoder kernels every build shares). At creation the weights are copied in once (int8 linears packed for the
 * GEMM, their scales and biases padded for its epilogue) and every activation buffer is laid out for a fixed number of
 * rows; a request then writes its token ids in, makes a handful of kernel calls per layer and copies its vectors out.
 *
 * Sequences are not padded: a run lays several sequences' rows back to back (up to {@link ROWS_PER_RUN}) so the GEMMs,
 * LayerNorms and activations see many rows at once, while attention and pooling stay within each sequence. Every row's
 * result depends only on its own sequence (per-row quantization, no mask), so a batch gives exactly its single results.
 */
import type { EncoderPlan, PlanLayerNorm, PlanLinear, PlanTensor } from '../bundle-format/encoder-plan.js';
import { planTensorBytes, tokenTypeRows } from '../bundle-format/encoder-plan.js';
import { instantiateKernels, type Kernels } from '../engine/src/kernels.js';
import type { InferenceEngine } from './engine.js';

/** Rows (tokens of all sequences) one pass of the layers runs at most; longer plans get their own maximum. */
export const ROWS_PER_RUN = 256;
/** Sequences one pass pools at most (sizes the head's buffers). */
const SEQUENCES_PER_RUN = 64;

/** A linear layer in the module: packed int8 weights with padded scales and bias, or f32 weights. */
interface ReadyLinear {
  k: number;
  n: number;
  int8: boolean;
  weight: number;
  /** Padded column scales (int8 only). */
  scales: number;
  /** Padded bias (zeros when the plan has none) for int8; 0 or the bias for f32. */
  bias: number;
}

interface ReadyNorm {
  gamma: number;
  beta: number;
  epsilon: number;
}

/** The activation buffers, each sized for ROWS_PER_RUN rows of the widest layer that writes it. */
interface Buffers {
  ids: number;
  /** The token type of each row (an index into the plan's token-type table). */
  types: number;
  starts: number;
  /** Token states and the other state buffer (a projected residual is built there, then the two swap). */
  states: [number, number];
  normed: number;
  qkv: number;
  context: number;
  up: number;
  quantized: number;
  rowScales: number;
  gemmScratch: number;
  /** Attention's: one head's keys transposed and two rows of probabilities. */
  attention: number;
  head: [number, number];
}

const roundUp = (value: number, multiple: number) => Math.ceil(value / multiple) * multiple;

class PlanRunner {
  private readonly linears = new Map<PlanLinear, ReadyLinear>();
  private readonly norms = new Map<PlanLayerNorm, ReadyNorm>();
  private readonly tensors = new Map<PlanTensor, number>();
  private readonly buffers: Buffers;
  private readonly rows: number;
  private readonly maxSequenceRows: number;
  private readonly staging: number;
  private readonly embeddings: { word: number; wordScales: number; position: number; tokenType: number };
  private f32: Float32Array;
  private i32: Int32Array;

  constructor(
    private readonly plan: EncoderPlan,
    private readonly weights: Uint8Array,
    private readonly kernels: Kernels,
  ) {
    const e = plan.embeddings;
    this.maxSequenceRows = Math.min(
      plan.maxTokens,
      e.position ? e.position.shape[0] - e.positionOffset : plan.maxTokens,
    );
    this.rows = Math.max(ROWS_PER_RUN, this.maxSequenceRows);
    const all = plan.layers.flatMap(({ attention: a, feedForward: f }) => [a.qkv, a.output, a.residual, f.up, f.down]);
    const linears = [...all, ...plan.dense.map((d) => d.linear)].filter((l): l is PlanLinear => l !== null);
    this.staging = kernels.alloc(Math.max(...linears.map((l) => l.inFeatures * l.outFeatures)));
    for (const linear of linears) this.ready(linear);
    for (const { attention, feedForward } of plan.layers) {
      for (const norm of [attention.normBefore, attention.normAfter, feedForward.normBefore, feedForward.normAfter]) {
        if (norm) this.readyNorm(norm);
      }
    }
    if (e.norm) this.readyNorm(e.norm);
    // The embed kernel reads int8 word rows exactly when it has row scales.
    if (e.word.dtype === 'float32' && e.wordScales) throw new Error('float32 word embeddings with row scales');
    const ones = () => {
      const at = kernels.alloc(e.word.shape[0] * 4);
      new Float32Array(kernels.memory.buffer, at, e.word.shape[0]).fill(1);
      return at;
    };
    this.embeddings = {
      word: this.tensor(e.word),
      wordScales: e.wordScales ? this.tensor(e.wordScales) : e.word.dtype === 'int8' ? ones() : 0,
      position: e.position ? this.tensor(e.position) : 0,
      tokenType: e.tokenType ? this.tensor(e.tokenType) : 0,
    };
    this.buffers = this.layOut(linears);
    this.f32 = new Float32Array(kernels.memory.buffer);
    this.i32 = new Int32Array(kernels.memory.buffer);
  }

  /** Copies a plan tensor into the module once; its address. */
  private tensor(tensor: PlanTensor): number {
    const known = this.tensors.get(tensor);
    if (known !== undefined) return known;
    const bytes = planTensorBytes(tensor);
    const at = this.kernels.alloc(bytes);
    new Uint8Array(this.kernels.memory.buffer, at, bytes).set(
      this.weights.subarray(tensor.offset, tensor.offset + bytes),
    );
    this.tensors.set(tensor, at);
    return at;
  }

  /** f32 values (or zeros) in a fresh buffer of `padded` floats. */
  private padded(tensor: PlanTensor | null, padded: number): number {
    const at = this.kernels.alloc(padded * 4);
    const view = new Float32Array(this.kernels.memory.buffer, at, padded).fill(0);
    if (tensor) {
      const bytes = planTensorBytes(tensor);
      new Uint8Array(view.buffer, at, bytes).set(this.weights.subarray(tensor.offset, tensor.offset + bytes));
    }
    return at;
  }

  private ready(linear: PlanLinear): ReadyLinear {
    const known = this.linears.get(linear);
    if (known) return known;
    const k = this.kernels;
    const { inFeatures, outFeatures } = linear;
    const int8 = linear.weight.dtype === 'int8';
    if (int8 && (linear.input !== 'per-row-int8' || !linear.scales)) {
      throw new Error('an int8 linear layer without per-row int8 input and scales');
    }
    let ready: ReadyLinear;
    if (int8 && linear.scales) {
      const bytes = inFeatures * outFeatures;
      new Uint8Array(k.memory.buffer, this.staging, bytes).set(
        this.weights.subarray(linear.weight.offset, linear.weight.offset + bytes),
      );
      const weight = k.alloc(k.packedWeightBytes(inFeatures, outFeatures));
      k.packWeights(this.staging, inFeatures, outFeatures, weight);
      const columns = roundUp(outFeatures, 8);
      ready = {
        k: inFeatures,
        n: outFeatures,
        int8,
        weight,
        scales: this.padded(linear.scales, columns),
        bias: this.padded(linear.bias, columns),
      };
    } else {
      ready = {
        k: inFeatures,
        n: outFeatures,
        int8: false,
        weight: this.tensor(linear.weight),
        scales: 0,
        bias: linear.bias ? this.tensor(linear.bias) : 0,
      };
    }
    this.linears.set(linear, ready);
    return ready;
  }

  private readyNorm(norm: PlanLayerNorm): ReadyNorm {
    const known = this.norms.get(norm);
    if (known) return known;
    const ready = { gamma: this.tensor(norm.gamma), beta: this.tensor(norm.beta), epsilon: norm.epsilon };
    this.norms.set(norm, ready);
    return ready;
  }

  private layOut(linears: PlanLinear[]): Buffers {
    const k = this.kernels;
    const rows = this.rows;
    const plan = this.plan;
    let width = plan.embeddings.word.shape[1];
    let qkv = 1;
    let inner = 1;
    let up = 1;
    let headDim = 1;
    for (const { attention, feedForward } of plan.layers) {
      headDim = Math.max(headDim, attention.headDim);
      width = Math.max(width, attention.output.outFeatures, feedForward.down.outFeatures);
      qkv = Math.max(qkv, attention.qkv.outFeatures);
      inner = Math.max(inner, attention.heads * attention.headDim);
      up = Math.max(up, feedForward.up.outFeatures);
    }
    const head = Math.max(width, ...plan.dense.map((d) => d.linear.outFeatures));
    const widestInput = Math.max(...linears.map((l) => l.inFeatures));
    const floats = (count: number) => k.alloc(roundUp(count, 4) * 4);
    return {
      ids: floats(rows),
      types: floats(rows),
      starts: floats(SEQUENCES_PER_RUN + 1),
      states: [floats(rows * width), floats(rows * width)],
      normed: floats(rows * width),
      qkv: floats(rows * qkv),
      context: floats(rows * inner),
      up: floats(rows * up),
      quantized: k.alloc(roundUp(rows * widestInput, 16)),
      rowScales: floats(rows),
      gemmScratch: k.alloc(k.scratchBytes(rows, widestInput)),
      attention: floats((headDim + 2) * roundUp(this.maxSequenceRows, 4)),
      head: [floats(SEQUENCES_PER_RUN * head), floats(SEQUENCES_PER_RUN * head)],
    };
  }

  /** out[rows, n] = x W + b, or out += x W + b when `accumulate` (the residual add). */
  private linear(layer: PlanLinear, x: number, rows: number, out: number, accumulate: boolean): number {
    const l = this.ready(layer);
    const k = this.kernels;
    const b = this.buffers;
    if (l.int8) {
      k.quantizeRows(x, rows, l.k, b.quantized, b.rowScales);
      k.gemm(
        b.quantized,
        rows,
        l.k,
        l.n,
        l.weight,
        b.rowScales,
        l.scales,
        l.bias,
        out,
        accumulate ? 1 : 0,
        b.gemmScratch,
      );
    } else {
      k.floatLinear(x, rows, l.k, l.n, l.weight, l.bias, out, accumulate ? 1 : 0);
    }
    return l.n;
  }

  private layerNorm(norm: PlanLayerNorm, x: number, rows: number, width: number, out: number): void {
    const n = this.readyNorm(norm);
    this.kernels.layerNorm(x, rows, width, n.gamma, n.beta, n.epsilon, out);
  }

  /** Checks the ids and types and writes one run's ids, types and sequence starts into the module. */
  private load(
    sequences: readonly (readonly number[])[],
    tokenTypes: readonly (readonly number[])[] | undefined,
  ): number {
    if (this.kernels.memory.buffer !== this.f32.buffer) {
      this.f32 = new Float32Array(this.kernels.memory.buffer);
      this.i32 = new Int32Array(this.kernels.memory.buffer);
    }
    const vocabulary = this.plan.embeddings.word.shape[0];
    // An embedder's plan has the type-0 row only; a cross-encoder's the whole table.
    const typeCount = Math.max(1, tokenTypeRows(this.plan));
    const b = this.buffers;
    let row = 0;
    this.i32[b.starts >> 2] = 0;
    sequences.forEach((ids, s) => {
      const types = tokenTypes?.[s];
      if (types && types.length !== ids.length) {
        throw new Error(`${types.length} token types for ${ids.length} tokens`);
      }
      ids.forEach((id, t) => {
        if (!Number.isInteger(id) || id < 0 || id >= vocabulary) {
          throw new Error(`token id ${id} is outside the vocabulary`);
        }
        const type = types ? types[t] : 0;
        if (!Number.isInteger(type) || type < 0 || type >= typeCount) {
          throw new Error(`token type ${type} is not in the encoder plan's ${typeCount} token types`);
        }
        this.i32[(b.types >> 2) + row] = type;
        this.i32[(b.ids >> 2) + row++] = id;
      });
      this.i32[(b.starts >> 2) + s + 1] = row;
    });
    return row;
  }

  /** The vectors of sequences whose rows fit in one pass. */
  private pass(
    sequences: readonly (readonly number[])[],
    tokenTypes: readonly (readonly number[])[] | undefined,
  ): Float32Array[] {
    const k = this.kernels;
    const b = this.buffers;
    const plan = this.plan;
    const count = sequences.length;
    const rows = this.load(sequences, tokenTypes);
    const e = plan.embeddings;
    let width = e.word.shape[1];
    let [x, spare] = b.states;
    const m = this.embeddings;
    k.embed(b.ids, b.types, b.starts, count, width, m.word, m.wordScales, m.position, e.positionOffset, m.tokenType, x);
    if (e.norm) this.layerNorm(e.norm, x, rows, width, x);
    for (const { attention: att, feedForward: ffn } of plan.layers) {
      // Attention block: the output projection accumulates onto the residual (x, or x projected into `spare`).
      let a = x;
      if (att.normBefore) {
        this.layerNorm(att.normBefore, x, rows, width, b.normed);
        a = b.normed;
      }
      this.linear(att.qkv, a, rows, b.qkv, false);
      k.attention(b.qkv, b.starts, count, att.heads, att.headDim, att.scoreScale, b.context, b.attention);
      if (att.residual) {
        this.linear(att.residual, x, rows, spare, false);
        [x, spare] = [spare, x];
      }
      width = this.linear(att.output, b.context, rows, x, true);
      if (att.normAfter) this.layerNorm(att.normAfter, x, rows, width, x);
      // Feed-forward block.
      a = x;
      if (ffn.normBefore) {
        this.layerNorm(ffn.normBefore, x, rows, width, b.normed);
        a = b.normed;
      }
      const up = this.linear(ffn.up, a, rows, b.up, false);
      k.activate(b.up, rows * up, k.activations[ffn.activation]);
      width = this.linear(ffn.down, b.up, rows, x, true);
      if (ffn.normAfter) this.layerNorm(ffn.normAfter, x, rows, width, x);
    }
    let [vectors, next] = b.head;
    k.pool(x, b.starts, count, width, k.poolings[plan.pooling], vectors);
    for (const dense of plan.dense) {
      width = this.linear(dense.linear, vectors, count, next, false);
      if (dense.activation === 'tanh') k.activate(next, count * width, k.activations.tanh);
      [vectors, next] = [next, vectors];
    }
    if (plan.normalize) k.normalizeRows(vectors, count, width);
    const start = vectors >> 2;
    return sequences.map((_, s) => this.f32.slice(start + s * width, start + (s + 1) * width));
  }

  run(
    sequences: readonly (readonly number[])[],
    tokenTypes: readonly (readonly number[])[] | undefined,
  ): Float32Array[] {
    for (const ids of sequences) {
      if (ids.length > this.maxSequenceRows) {
        throw new Error(`${ids.length} tokens is more than the plan's ${this.maxSequenceRows}`);
      }
    }
    const vectors: Float32Array[] = [];
    let first = 0;
    while (first < sequences.length) {
      let end = first;
      let rows = 0;
      while (end < sequences.length && end - first < SEQUENCES_PER_RUN && rows + sequences[end].length <= this.rows) {
        rows += sequences[end].length;
        end++;
      }
      vectors.push(...this.pass(sequences.slice(first, end), tokenTypes?.slice(first, end)));
      first = end;
    }
    return vectors;
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
  const runner = new PlanRunner(plan, weights, await instantiateKernels(kernels));
  return {
    name: 'edge-embed plan',
    run: async (sequences, tokenTypes) => runner.run(sequences, tokenTypes),
    release: async () => {},
  };
}
