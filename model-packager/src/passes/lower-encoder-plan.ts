/**
 * Pass: lowers the packed graph (after quantize-matmul-weights, before pooling is appended) into an encoder plan
 * (bundle-format/encoder-plan.ts) plus its weights file. The graph is not changed.
 *
 * Matches, from each attention Softmax outwards:
 * - linear layers: int8-compute MatMulInteger -> Cast -> Mul(row max) -> Mul(column scales) [-> Add(bias)], or an fp32
 *   MatMul on a constant weight [-> Add(bias)];
 * - attention: Softmax(scores [* or / scalar] [+ mask]) with scores = MatMul(Q, K^T) and context = MatMul(softmax, V),
 *   Q/K/V reached from three linears on one input or one linear split in three, through Reshape/Transpose and an
 *   optional scalar scale; the context reshaped into the output linear; a residual Add (of x or a linear of x);
 * - the feed-forward block: a linear, GELU (Erf or Tanh form) or Relu, a linear, a residual Add;
 * - LayerNorm, fused or decomposed (ReduceMean, Sub, Pow, ReduceMean, Add eps, Sqrt, Div, Mul gamma, Add beta), before
 *   or after each block;
 * - embeddings: a sum of the word table (int8 rows with row scales, or fp32), a position table read in order from an
 *   offset (Gather of a Slice of an arange, or a Slice), and the token-type table, then an optional LayerNorm.
 * For a sentence encoder (lowerEncoderPlan), pooling, the Dense head and normalisation come from the model folder's
 * modules, as append-pooling uses them, and only the token-type-0 row is kept (the worker sends no token types). For a
 * cross-encoder (lowerClassifierPlan), the head is matched back from the logits: linear layers (int8, MatMul or Gemm),
 * each followed by Tanh or the next linear, down to hidden[:, 0], which is CLS pooling; the whole token-type table is
 * kept (a pair's query and document rows) and nothing is normalised.
 * Anything else (factorised embeddings, computed position ids, int8-storage, several LayerNorm shapes) yields no plan
 * and a one-line reason; the bundle is then served by ONNX Runtime only.
 */
import {
  ENCODER_PLAN_VERSION,
  type EncoderPlan,
  PLAN_TENSOR_ALIGNMENT,
  type PlanAttention,
  type PlanDense,
  type PlanEmbeddings,
  type PlanFeedForward,
  type PlanLayerNorm,
  type PlanLinear,
  type PlanTensor,
} from '../../../bundle-format/encoder-plan.js';
import type { PoolingMode } from '../../../bundle-format/manifest.js';
import { consumerMap, getAttribute, initializerMap, producerMap } from '../onnx/graph.js';
import {
  AttributeType,
  DataType,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
} from '../onnx/proto.js';
import { tensorDims } from '../onnx/tensor.js';
import { INT8_MAX } from '../quant/int8.js';
import type { DenseHead } from '../readers/dense-module.js';

export interface LowerPlanOptions {
  /** The per-token output the layers end at (inspect-bert-graph's hiddenOutput). */
  hiddenOutput: string;
  maxTokens: number;
  pooling: PoolingMode;
  normalize: boolean;
  dense: readonly DenseHead[];
}

/** A sequence classifier's (cross-encoder's) lowering: the output holding its logits [batch, labels]. */
export interface LowerClassifierPlanOptions {
  logits: string;
  maxTokens: number;
}

/** Which token-type rows the plan keeps (see matchEmbeddings). */
type TokenTypes = 'row-0' | 'table';

export type LoweredPlan = { plan: EncoderPlan; weights: Uint8Array } | { plan: null; reason: string };

class NoPlan extends Error {}

function refuse(reason: string): never {
  throw new NoPlan(reason);
}

/** Appends tensors to plan.bin, each aligned. */
class WeightsWriter {
  private chunks: { offset: number; bytes: Uint8Array }[] = [];
  size = 0;

  add(dtype: PlanTensor['dtype'], shape: number[], data: Int8Array | Float32Array): PlanTensor {
    const offset = Math.ceil(this.size / PLAN_TENSOR_ALIGNMENT) * PLAN_TENSOR_ALIGNMENT;
    this.chunks.push({ offset, bytes: new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice() });
    this.size = offset + data.byteLength;
    return { dtype, shape, offset };
  }

  bytes(): Uint8Array {
    const out = new Uint8Array(this.size);
    for (const chunk of this.chunks) out.set(chunk.bytes, chunk.offset);
    return out;
  }
}

/** A tensor's values as numbers (float, int64, int32, int8), from raw_data or the typed fields. */
function tensorValues(tensor: TensorProto): Float64Array {
  // A copy: decoded raw_data may be a Buffer view into the whole file, whose .buffer starts elsewhere.
  const raw = tensor.rawData && tensor.rawData.length > 0 ? Uint8Array.from(tensor.rawData) : null;
  switch (tensor.dataType) {
    case DataType.FLOAT:
      return Float64Array.from(raw ? new Float32Array(raw.buffer, 0, raw.length / 4) : tensor.floatData);
    case DataType.INT64:
      return raw
        ? Float64Array.from(new BigInt64Array(raw.buffer, 0, raw.length / 8), Number)
        : Float64Array.from(tensor.int64Data, (v) => Number(v));
    case DataType.INT32:
      return Float64Array.from(raw ? new Int32Array(raw.buffer, 0, raw.length / 4) : tensor.int32Data);
    case DataType.INT8:
      return Float64Array.from(raw ? new Int8Array(raw.buffer, 0, raw.length) : tensor.int32Data);
    default:
      return refuse(`tensor ${tensor.name} has data type ${DataType[tensor.dataType]}`);
  }
}

/** A linear layer found in the graph; its tensors are written to plan.bin only when the plan uses it. */
interface Linear {
  input: string;
  output: string;
  inFeatures: number;
  outFeatures: number;
  /** [inFeatures, outFeatures] row-major. */
  weight: Int8Array | Float32Array;
  /** Per output column, W ~ weight x scale; null for fp32 weights. */
  scales: Float32Array | null;
  bias: Float32Array | null;
}

interface LayerNormMatch {
  input: string;
  output: string;
  gamma: Float32Array;
  beta: Float32Array;
  epsilon: number;
}

/** Lookups over one graph, and the weights file the plan is written to. */
class GraphView {
  readonly producers: Map<string, NodeProto>;
  readonly consumers: Map<string, NodeProto[]>;
  readonly inits: Map<string, TensorProto>;
  readonly weights = new WeightsWriter();
  readonly linears = new Map<string, Linear>();
  readonly layerNorms = new Map<string, LayerNormMatch>();

  constructor(readonly graph: GraphProto) {
    this.producers = producerMap(graph);
    this.consumers = consumerMap(graph);
    this.inits = initializerMap(graph);
  }

  producer(tensor: string, opType?: string): NodeProto | undefined {
    const node = this.producers.get(tensor);
    return node && (opType === undefined || node.opType === opType) ? node : undefined;
  }

  consumersOf(tensor: string, opType?: string): NodeProto[] {
    return (this.consumers.get(tensor) ?? []).filter((n) => opType === undefined || n.opType === opType);
  }

  /** The constant tensor behind a name: an initializer or a Constant node's value. */
  constant(name: string): TensorProto | undefined {
    const init = this.inits.get(name);
    if (init) return init;
    const node = this.producer(name, 'Constant');
    const attr = node?.attribute.find((a) => a.name === 'value' && a.type === AttributeType.TENSOR);
    return (attr?.t as TensorProto | undefined) ?? undefined;
  }

  values(name: string): Float64Array | undefined {
    const tensor = this.constant(name);
    return tensor ? tensorValues(tensor) : undefined;
  }

  scalar(name: string): number | undefined {
    const values = this.values(name);
    return values?.length === 1 ? values[0] : undefined;
  }

  /** A constant's values as float32. */
  float(name: string): Float32Array {
    const tensor = this.constant(name) ?? refuse(`${name} is not a constant`);
    return Float32Array.from(tensorValues(tensor));
  }

  linear(l: Linear): PlanLinear {
    const n = l.outFeatures;
    const int8 = l.weight instanceof Int8Array;
    return {
      inFeatures: l.inFeatures,
      outFeatures: n,
      weight: this.weights.add(int8 ? 'int8' : 'float32', [l.inFeatures, n], l.weight),
      scales: l.scales && this.weights.add('float32', [n], l.scales),
      bias: l.bias && this.weights.add('float32', [n], l.bias),
      input: int8 ? 'per-row-int8' : 'float',
    };
  }

  norm(ln: LayerNormMatch): PlanLayerNorm {
    const width = [ln.gamma.length];
    const gamma = this.weights.add('float32', width, ln.gamma);
    return { gamma, beta: this.weights.add('float32', width, ln.beta), epsilon: ln.epsilon };
  }
}

/** The one input of a binary node that is not `known`. */
function otherInput(node: NodeProto, known: string): string {
  return node.input[0] === known ? node.input[1] : node.input[0];
}

/** [a constant input, the other input] of a binary node, or undefined when neither or both are constant. */
function splitConstant(view: GraphView, node: NodeProto): [string, string] | undefined {
  const [a, b] = node.input;
  const ca = view.constant(a) !== undefined;
  const cb = view.constant(b) !== undefined;
  if (ca === cb) return undefined;
  return ca ? [a, b] : [b, a];
}

/** Adds the bias of `output` when its only consumer is Add(constant [n]); returns the final output. */
function withBias(view: GraphView, output: string, n: number): { output: string; bias: Float32Array | null } {
  const [add] = view.consumersOf(output);
  if (view.consumersOf(output).length !== 1 || add.opType !== 'Add') return { output, bias: null };
  const parts = splitConstant(view, add);
  if (!parts || (view.values(parts[0])?.length ?? 0) !== n) return { output, bias: null };
  return { output: add.output[0], bias: view.float(parts[0]) };
}

/** MatMulInteger(quantized A, int8 W) -> Cast -> Mul(row max) -> Mul(scales) [-> Add(bias)]. */
function matchInt8Linear(view: GraphView, node: NodeProto): Linear {
  const weight = view.inits.get(node.input[1]) ?? refuse(`MatMulInteger ${node.name} has no constant weight`);
  const [k, n] = tensorDims(weight);
  const quantize = view.producer(node.input[0], 'QuantizeLinear');
  const scaled = quantize && view.producer(quantize.input[0], 'Mul');
  const cast = view.consumersOf(node.output[0], 'Cast')[0];
  const rowScaled = cast && view.consumersOf(cast.output[0], 'Mul')[0];
  const columnScaled = rowScaled && view.consumersOf(rowScaled.output[0], 'Mul')[0];
  const scales = columnScaled && view.values(otherInput(columnScaled, rowScaled.output[0]));
  if (!scaled || !scales || scales.length !== n) refuse(`MatMulInteger ${node.name} is not the int8-compute pattern`);
  const { output, bias } = withBias(view, columnScaled.output[0], n);
  return {
    input: scaled.input[0],
    output,
    inFeatures: k,
    outFeatures: n,
    weight: Int8Array.from(tensorValues(weight)),
    // The graph's scales carry the 1/127 of the activation's row scale; the plan's are the weight's own.
    scales: Float32Array.from(scales, (s) => s * INT8_MAX),
    bias,
  };
}

/** MatMul(A, fp32 constant W [K, N]) [-> Add(bias)]. */
function matchFloatLinear(view: GraphView, node: NodeProto): Linear | undefined {
  const weight = view.inits.get(node.input[1]);
  if (!weight || weight.dataType !== DataType.FLOAT || tensorDims(weight).length !== 2) return undefined;
  const [k, n] = tensorDims(weight);
  const { output, bias } = withBias(view, node.output[0], n);
  return {
    input: node.input[0],
    output,
    inFeatures: k,
    outFeatures: n,
    weight: view.float(weight.name),
    scales: null,
    bias,
  };
}

/** Gemm(A, fp32 constant B [, C]) with alpha 1, beta 1, A untransposed: torch's export of a linear on [batch, in]. */
function matchGemmLinear(view: GraphView, node: NodeProto): Linear | undefined {
  const b = view.inits.get(node.input[1]);
  if (!b || b.dataType !== DataType.FLOAT || tensorDims(b).length !== 2) return undefined;
  const plain = ['alpha', 'beta'].every((name) => (getAttribute(node, name) ?? 1) === 1);
  if (!plain || (getAttribute(node, 'transA') ?? 0) !== 0) refuse(`Gemm ${node.name} scales or transposes its input`);
  const transposed = (getAttribute(node, 'transB') ?? 0) === 1;
  const [rows, columns] = tensorDims(b);
  const [k, n] = transposed ? [columns, rows] : [rows, columns];
  const values = view.float(b.name);
  const weight = transposed
    ? Float32Array.from({ length: k * n }, (_, i) => values[(i % n) * k + Math.floor(i / n)])
    : values;
  const bias = node.input[2] ? view.float(node.input[2]) : null;
  if (bias && bias.length !== n) refuse(`Gemm ${node.name} has a bias that is not one value per output`);
  return { input: node.input[0], output: node.output[0], inFeatures: k, outFeatures: n, weight, scales: null, bias };
}

function findLinears(view: GraphView): void {
  for (const node of view.graph.node as NodeProto[]) {
    if (node.opType === 'DequantizeLinear') refuse('int8-storage graphs are not lowered (the plan runs int8-compute)');
    const linear =
      node.opType === 'MatMulInteger'
        ? matchInt8Linear(view, node)
        : node.opType === 'MatMul'
          ? matchFloatLinear(view, node)
          : node.opType === 'Gemm'
            ? matchGemmLinear(view, node)
            : undefined;
    if (linear) view.linears.set(linear.output, linear);
  }
}

function linearByInput(view: GraphView, input: string): Linear[] {
  return [...view.linears.values()].filter((l) => l.input === input);
}

/** The LayerNormalization op over the last axis. */
function matchFusedLayerNorm(view: GraphView, node: NodeProto): LayerNormMatch | undefined {
  if (node.opType !== 'LayerNormalization') return undefined;
  if ((getAttribute(node, 'axis') ?? -1) !== -1) refuse(`LayerNormalization ${node.name} is not over the last axis`);
  const gamma = view.float(node.input[1]);
  const beta = node.input[2] ? view.float(node.input[2]) : new Float32Array(gamma.length);
  const epsilon = Number(getAttribute(node, 'epsilon') ?? 1e-5);
  return { input: node.input[0], output: node.output[0], gamma, beta, epsilon };
}

/** Add(Mul(Div(Sub(X, ReduceMean X), Sqrt(Add(ReduceMean(Pow(Sub, 2)), eps))), gamma), beta), matched at the last Add. */
function matchDecomposedLayerNorm(view: GraphView, node: NodeProto): LayerNormMatch | undefined {
  const addBeta = node.opType === 'Add' ? splitConstant(view, node) : undefined;
  const mul = addBeta && view.producer(addBeta[1], 'Mul');
  const mulGamma = mul && splitConstant(view, mul);
  const div = mulGamma && view.producer(mulGamma[1], 'Div');
  const sub = div && view.producer(div.input[0], 'Sub');
  const sqrt = div && view.producer(div.input[1], 'Sqrt');
  const addEps = sqrt && view.producer(sqrt.input[0], 'Add');
  const eps = addEps && splitConstant(view, addEps);
  const mean = sub && view.producer(sub.input[1], 'ReduceMean');
  if (!addBeta || !mulGamma || !eps || !mean || mean.input[0] !== sub.input[0]) return undefined;
  return {
    input: sub.input[0],
    output: node.output[0],
    gamma: view.float(mulGamma[0]),
    beta: view.float(addBeta[0]),
    epsilon: view.scalar(eps[0]) ?? refuse('a decomposed LayerNorm has no scalar epsilon'),
  };
}

function findLayerNorms(view: GraphView): void {
  for (const node of view.graph.node as NodeProto[]) {
    const match = matchFusedLayerNorm(view, node) ?? matchDecomposedLayerNorm(view, node);
    if (match) view.layerNorms.set(match.output, match);
  }
}

/** The LayerNorm whose input is `tensor`, if any. */
function layerNormOf(view: GraphView, tensor: string): LayerNormMatch | undefined {
  return [...view.layerNorms.values()].find((ln) => ln.input === tensor);
}

/**
 * How block input x reaches the tensor a block reads: itself (null) or LN(x); refuses anything else.
 * @example normBetween(view, x, qkvInput) // PlanLayerNorm for pre-norm, null for post-norm
 */
function normBetween(view: GraphView, x: string, read: string, what: string): LayerNormMatch | null {
  if (read === x) return null;
  const ln = view.layerNorms.get(read);
  if (ln?.input === x) return ln;
  return refuse(`${what} reads ${read}, which is neither the block input nor its LayerNorm`);
}

/** Walks back from `tensor` through Reshape/Transpose/scalar Mul or Div; returns where it starts and any scale. */
function traceBack(view: GraphView, tensor: string): { source: string; scale: number; reshape?: NodeProto } {
  let scale = 1;
  let reshape: NodeProto | undefined;
  let current = tensor;
  for (;;) {
    const node = view.producer(current);
    if (!node || view.linears.has(current)) return { source: current, scale, reshape };
    if (node.opType === 'Reshape') reshape = node;
    if (node.opType === 'Reshape' || node.opType === 'Transpose') current = node.input[0];
    else if ((node.opType === 'Mul' || node.opType === 'Div') && splitConstant(view, node)) {
      const [c, other] = splitConstant(view, node) ?? refuse('unreachable');
      const value = view.scalar(c) ?? refuse(`${node.name} scales by a non-scalar`);
      scale *= node.opType === 'Mul' ? value : 1 / value;
      current = other;
    } else return { source: current, scale, reshape };
  }
}

/** [heads, headDim] from a Reshape to [batch, tokens, heads, headDim]. */
function headShape(view: GraphView, reshape: NodeProto | undefined): [number, number] {
  if (!reshape) return refuse('no Reshape splits the attention heads');
  const direct = view.values(reshape.input[1]);
  if (direct?.length === 4) return [direct[2], direct[3]];
  const concat = view.producer(reshape.input[1], 'Concat');
  const dims = concat?.input.slice(2).map((name) => view.scalar(name));
  if (dims?.length === 2 && dims[0] !== undefined && dims[1] !== undefined) return [dims[0], dims[1]];
  return refuse(`cannot read the head shape of ${reshape.name}`);
}

/** Query, key and value linears: three on one input, or one whose output a Split cuts in three. */
function fusedQkv(view: GraphView, q: string, k: string, v: string): Linear {
  const split = view.producer(q, 'Split');
  if (split) {
    const linear = view.linears.get(split.input[0]) ?? refuse(`Split ${split.name} does not cut a linear layer`);
    const third = linear.outFeatures / 3;
    const sizes = split.input[1] ? view.values(split.input[1]) : undefined;
    const even = sizes === undefined || [...sizes].every((size) => size === third);
    if (split.output.join() !== [q, k, v].join() || !even) refuse(`Split ${split.name} is not [query | key | value]`);
    return linear;
  }
  const parts = [q, k, v].map((t) => view.linears.get(t) ?? refuse(`attention input ${t} is not a linear layer`));
  if (parts.some((p) => p.input !== parts[0].input || p.weight.constructor !== parts[0].weight.constructor)) {
    refuse('query, key and value read different inputs or differ in type');
  }
  return concatColumns(parts);
}

/** One linear whose columns are the parts' columns side by side (weights, scales, biases). */
function concatColumns(parts: Linear[]): Linear {
  const k = parts[0].inFeatures;
  const n = parts.reduce((sum, p) => sum + p.outFeatures, 0);
  const weight = parts[0].weight instanceof Int8Array ? new Int8Array(k * n) : new Float32Array(k * n);
  let column = 0;
  for (const part of parts) {
    for (let row = 0; row < k; row++) {
      weight.set(part.weight.subarray(row * part.outFeatures, (row + 1) * part.outFeatures), row * n + column);
    }
    column += part.outFeatures;
  }
  const join = (pick: (p: Linear) => Float32Array | null, fill: number) =>
    Float32Array.from(parts.flatMap((p) => [...(pick(p) ?? new Float32Array(p.outFeatures).fill(fill))]));
  return {
    input: parts[0].input,
    output: parts[0].output,
    inFeatures: k,
    outFeatures: n,
    weight,
    scales: parts[0].scales && join((p) => p.scales, 1),
    bias: join((p) => p.bias, 0),
  };
}

/** The Add of `tensor` and one other tensor: the residual connection; returns [add output, other operand]. */
function residualAdd(view: GraphView, tensor: string, what: string): [string, string] {
  const add = view.consumersOf(tensor, 'Add').find((n) => !splitConstant(view, n));
  if (!add) return refuse(`no residual Add follows the ${what}`);
  return [add.output[0], otherInput(add, tensor)];
}

interface Attention {
  x: string;
  y: string;
  normBefore: LayerNormMatch | null;
  heads: number;
  headDim: number;
  qkv: Linear;
  scoreScale: number;
  output: Linear;
  residual: Linear | null;
}

interface FeedForward {
  x: string;
  y: string;
  normBefore: LayerNormMatch | null;
  up: Linear;
  activation: PlanFeedForward['activation'];
  down: Linear;
}

/** The query.key scores before a Softmax: the MatMul and the product of scalar scales on the way (the mask skipped). */
function scoresOf(view: GraphView, softmax: NodeProto): { matmul: NodeProto; scale: number } {
  const outer = traceBack(view, softmax.input[0]);
  const maskAdd = view.producer(outer.source, 'Add');
  const inner = maskAdd
    ? (maskAdd.input.map((t) => traceBack(view, t)).find((t) => view.producer(t.source, 'MatMul')) ??
      refuse(`no query.key MatMul under the mask of ${softmax.name}`))
    : outer;
  const matmul = view.producer(inner.source, 'MatMul') ?? refuse(`no query.key MatMul before ${softmax.name}`);
  return { matmul, scale: maskAdd ? outer.scale * inner.scale : outer.scale };
}

/** The attention block around one Softmax. */
function matchAttention(view: GraphView, softmax: NodeProto): Attention {
  const scores = scoresOf(view, softmax);
  const context = view.consumersOf(softmax.output[0], 'MatMul')[0] ?? refuse(`no context MatMul after ${softmax.name}`);
  const q = traceBack(view, scores.matmul.input[0]);
  const k = traceBack(view, scores.matmul.input[1]);
  const v = traceBack(view, context.input[1]);
  if (v.scale !== 1) refuse(`the attention values of ${softmax.name} are scaled`);
  const qkv = fusedQkv(view, q.source, k.source, v.source);
  const [heads, headDim] = headShape(view, q.reshape);
  if (3 * heads * headDim !== qkv.outFeatures) refuse(`${heads} heads x ${headDim} do not match the projection`);
  const output = contextOutputLinear(view, context.output[0]);
  const [y, residualOperand] = residualAdd(view, output.output, 'attention output');
  const residual = view.linears.get(residualOperand) ?? null;
  const x = residual ? residual.input : residualOperand;
  const normBefore = normBetween(view, x, qkv.input, 'the query/key/value projection');
  return { x, y, normBefore, heads, headDim, qkv, scoreScale: scores.scale * q.scale * k.scale, output, residual };
}

/** The linear the attention context (heads merged by Transpose and Reshape) feeds. */
function contextOutputLinear(view: GraphView, context: string): Linear {
  let current = context;
  for (let step = 0; step < 4; step++) {
    const [linear] = linearByInput(view, current);
    if (linear) return linear;
    const next = view.consumersOf(current).filter((n) => n.opType === 'Transpose' || n.opType === 'Reshape');
    if (next.length !== 1) break;
    current = next[0].output[0];
  }
  return refuse('the attention context does not reach an output linear layer');
}

function activationName(ops: Set<string>): PlanFeedForward['activation'] {
  if (ops.has('Erf')) return 'gelu-erf';
  if (ops.has('Tanh')) return 'gelu-tanh';
  if (ops.has('Relu')) return 'relu';
  return refuse(`unknown feed-forward activation (${[...ops].join(', ')})`);
}

/** The down projection after `up`, and the activation made of the ops in between. */
function activationBetween(view: GraphView, up: Linear): { activation: PlanFeedForward['activation']; down: Linear } {
  const seen = new Set<string>();
  let frontier = [up.output];
  for (let depth = 0; depth < 12 && frontier.length; depth++) {
    const next: string[] = [];
    for (const tensor of frontier) {
      const [down] = tensor === up.output ? [] : linearByInput(view, tensor);
      if (down) return { activation: activationName(seen), down };
      for (const node of view.consumersOf(tensor)) {
        seen.add(node.opType);
        next.push(node.output[0]);
      }
    }
    frontier = next;
  }
  return refuse(`no down projection follows ${up.output}`);
}

/** The feed-forward block reading `y` (the attention block's residual sum) directly or through a LayerNorm. */
function matchFeedForward(view: GraphView, y: string): FeedForward {
  const ln = layerNormOf(view, y);
  const candidates = [...linearByInput(view, y), ...(ln ? linearByInput(view, ln.output) : [])];
  if (candidates.length !== 1) refuse(`expected one feed-forward projection after ${y}, found ${candidates.length}`);
  const up = candidates[0];
  const { activation, down } = activationBetween(view, up);
  const [sum, x] = residualAdd(view, down.output, 'feed-forward output');
  const normBefore = normBetween(view, x, up.input, 'the feed-forward projection');
  return { x, y: sum, normBefore, up, activation, down };
}

/** The LayerNorm (or none) between a block's sum and what reads it next. */
function normAfter(view: GraphView, sum: string, next: string, what: string): LayerNormMatch | null {
  if (next === sum) return null;
  const ln = view.layerNorms.get(next);
  if (ln?.input === sum) return ln;
  return refuse(`${what}: ${next} is neither the residual sum nor its LayerNorm`);
}

/** Rows read in order from an offset: Gather(table, Slice(arange)) or Slice(table, start). */
function positionTable(view: GraphView, node: NodeProto): { table: string; offset: number } | undefined {
  if (node.opType === 'Slice' && view.inits.has(node.input[0])) {
    const axes = node.input[3] ? view.values(node.input[3]) : undefined;
    if (axes && !(axes.length === 1 && axes[0] === 0)) return undefined;
    const start = view.values(node.input[1])?.[0] ?? refuse('the position Slice does not start at a constant');
    return { table: node.input[0], offset: start };
  }
  if (node.opType !== 'Gather' || !view.inits.has(node.input[0])) return undefined;
  const ids = view.producer(node.input[1], 'Slice');
  const arange = ids && view.values(ids.input[0]);
  const start = ids && view.values(ids.input[1]);
  if (!arange || !start || start.length !== 1) return undefined;
  if (!arange.every((value, i) => value === arange[0] + i)) refuse('position ids are not consecutive');
  return { table: node.input[0], offset: arange[start[0]] };
}

/** The leaves of the Add tree that sums the embeddings into `tensor`. */
function sumLeaves(view: GraphView, tensor: string): string[] {
  const add = view.producer(tensor, 'Add');
  if (!add || splitConstant(view, add)) return [tensor];
  return [...sumLeaves(view, add.input[0]), ...sumLeaves(view, add.input[1])];
}

/**
 * The embedding sum and its LayerNorm. `tokenTypes` 'row-0' keeps the token-type-0 row every token adds (an embedder,
 * which is sent no token types); 'table' keeps the whole table, one row per token type (a cross-encoder's pairs).
 */
function matchEmbeddings(view: GraphView, x: string, tokenTypes: TokenTypes): PlanEmbeddings {
  const ln = view.layerNorms.get(x);
  let word: Pick<PlanEmbeddings, 'word' | 'wordScales'> | undefined;
  let position: Pick<PlanEmbeddings, 'position' | 'positionOffset'> = { position: null, positionOffset: 0 };
  let tokenType: PlanTensor | null = null;
  for (const leaf of sumLeaves(view, ln ? ln.input : x)) {
    const node = view.producer(leaf) ?? refuse(`embedding term ${leaf} has no producer`);
    const table = positionTable(view, node);
    if (table) {
      position = { position: tensorOf(view, table.table), positionOffset: table.offset };
    } else if (node.opType === 'Gather' && node.input[1] === 'token_type_ids') {
      const types = view.inits.get(node.input[0]) ?? refuse('the token type table is not constant');
      const width = tensorDims(types)[1];
      tokenType =
        tokenTypes === 'table'
          ? tensorOf(view, types.name)
          : view.weights.add('float32', [width], view.float(types.name).subarray(0, width));
    } else word = wordTable(view, node);
  }
  if (!word) return refuse('no word embedding in the embedding sum');
  return { ...word, ...position, tokenType, norm: ln ? view.norm(ln) : null };
}

/** A constant fp32 initializer copied into plan.bin with its shape. */
function tensorOf(view: GraphView, name: string): PlanTensor {
  const tensor = view.inits.get(name) ?? refuse(`${name} is not an initializer`);
  return view.weights.add('float32', tensorDims(tensor), view.float(name));
}

/** Mul(Cast(Gather(int8 rows)), Gather(row scales)), or Gather(fp32 table, input_ids). */
function wordTable(view: GraphView, node: NodeProto): Pick<PlanEmbeddings, 'word' | 'wordScales'> {
  if (node.opType === 'Gather' && node.input[1] === 'input_ids' && view.inits.has(node.input[0])) {
    return { word: tensorOf(view, node.input[0]), wordScales: null };
  }
  const cast = node.opType === 'Mul' ? view.producer(node.input[0], 'Cast') : undefined;
  const rows = cast && view.producer(cast.input[0], 'Gather');
  const scales = node.opType === 'Mul' ? view.producer(node.input[1], 'Gather') : undefined;
  const table = rows && view.inits.get(rows.input[0]);
  const scaleTable = scales && view.inits.get(scales.input[0]);
  if (!table || !scaleTable || rows.input[1] !== 'input_ids' || table.dataType !== DataType.INT8) {
    return refuse(`embedding term ${node.output[0]} is not the word, position or token-type table`);
  }
  const [vocabulary, width] = tensorDims(table);
  return {
    word: view.weights.add('int8', [vocabulary, width], Int8Array.from(tensorValues(table))),
    wordScales: view.weights.add('float32', [vocabulary], view.float(scaleTable.name)),
  };
}

function denseHeads(view: GraphView, heads: readonly DenseHead[]): PlanDense[] {
  return heads.map((head) => ({
    activation: head.activation,
    linear: view.linear({
      input: '',
      output: '',
      inFeatures: head.inFeatures,
      outFeatures: head.outFeatures,
      weight: head.weight,
      scales: null,
      bias: head.bias,
    }),
  }));
}

/** Writes one layer's tensors; `next` is what reads the layer's output (the next layer's x, or the hidden output). */
function emitLayer(view: GraphView, attention: Attention, feedForward: FeedForward, next: string, i: number) {
  const norm = (ln: LayerNormMatch | null) => (ln ? view.norm(ln) : null);
  const planAttention: PlanAttention = {
    normBefore: norm(attention.normBefore),
    normAfter: norm(normAfter(view, attention.y, feedForward.x, `layer ${i} attention`)),
    heads: attention.heads,
    headDim: attention.headDim,
    qkv: view.linear(attention.qkv),
    scoreScale: attention.scoreScale,
    output: view.linear(attention.output),
    residual: attention.residual && view.linear(attention.residual),
  };
  const planFeedForward: PlanFeedForward = {
    normBefore: norm(feedForward.normBefore),
    normAfter: norm(normAfter(view, feedForward.y, next, `layer ${i} feed-forward`)),
    up: view.linear(feedForward.up),
    activation: feedForward.activation,
    down: view.linear(feedForward.down),
  };
  return { attention: planAttention, feedForward: planFeedForward };
}

/**
 * What follows the last layer. `dense` writes the head's tensors when called, after the layers', so that an embedder's
 * plan.bin keeps the order it always had.
 */
interface Tail {
  hiddenOutput: string;
  pooling: PoolingMode;
  dense: () => PlanDense[];
  normalize: boolean;
  tokenTypes: TokenTypes;
}

/** An embedder's tail: pooling, Dense modules and normalisation from the model folder. */
function sentenceTail(view: GraphView, options: LowerPlanOptions): Tail {
  const { hiddenOutput, pooling, normalize } = options;
  return { hiddenOutput, pooling, normalize, dense: () => denseHeads(view, options.dense), tokenTypes: 'row-0' };
}

/** Gather(hidden, 0) on axis 1: the first token's state, hidden[:, 0]. */
function isFirstToken(view: GraphView, node: NodeProto): boolean {
  return node.opType === 'Gather' && getAttribute(node, 'axis') === 1 && view.scalar(node.input[1]) === 0;
}

/**
 * A sequence classifier's tail, matched back from its logits: linear layers, each followed by Tanh or by the next
 * linear, down to hidden[:, 0] (CLS pooling). BERT's pooler (dense, tanh) and classifier, and RoBERTa's
 * classifier.dense, tanh and out_proj, are both that chain. No normalisation: the plan's output is the logits.
 */
function classifierTail(view: GraphView, logits: string): Tail {
  const chain: { linear: Linear; activation: PlanDense['activation'] }[] = [];
  let tensor = logits;
  let activation: PlanDense['activation'] = 'identity';
  for (let depth = 0; depth < 4; depth++) {
    const linear = view.linears.get(tensor) ?? refuse(`the classifier head's ${tensor} is not a linear layer's output`);
    chain.unshift({ linear, activation });
    const node = view.producer(linear.input);
    if (node && isFirstToken(view, node)) {
      const dense = () => chain.map((step) => ({ activation: step.activation, linear: view.linear(step.linear) }));
      return { hiddenOutput: node.input[0], pooling: 'cls', dense, normalize: false, tokenTypes: 'table' };
    }
    if (node?.opType === 'Tanh') activation = 'tanh';
    else if (view.linears.has(linear.input)) activation = 'identity';
    else
      return refuse(`the classifier head reads ${linear.input}, which is not hidden[:, 0], a Tanh or a linear layer`);
    tensor = node?.opType === 'Tanh' ? node.input[0] : linear.input;
  }
  return refuse('the classifier head has more than 4 linear layers before the logits');
}

function lower(model: ModelProto, maxTokens: number, tailOf: (view: GraphView) => Tail) {
  const view = new GraphView(model.graph as GraphProto);
  findLinears(view);
  findLayerNorms(view);
  const softmaxes = (view.graph.node as NodeProto[]).filter((n) => n.opType === 'Softmax');
  if (softmaxes.length === 0) refuse('the graph has no attention Softmax');
  const blocks = softmaxes.map((softmax) => {
    const attention = matchAttention(view, softmax);
    return { attention, feedForward: matchFeedForward(view, attention.y) };
  });
  const tail = tailOf(view);
  const embeddings = matchEmbeddings(view, blocks[0].attention.x, tail.tokenTypes);
  const layers = blocks.map(({ attention, feedForward }, i) =>
    emitLayer(view, attention, feedForward, blocks[i + 1]?.attention.x ?? tail.hiddenOutput, i),
  );
  const plan: EncoderPlan = {
    // The lowest version that expresses the plan, so that older readers keep running embedders' plans.
    planVersion: embeddings.tokenType?.shape.length === 2 ? ENCODER_PLAN_VERSION : 1,
    hidden: blocks[blocks.length - 1].feedForward.down.outFeatures,
    maxTokens,
    embeddings,
    layers,
    pooling: tail.pooling,
    dense: tail.dense(),
    normalize: tail.normalize,
    weightBytes: view.weights.size,
  };
  return { plan, weights: view.weights.bytes() };
}

function lowered(make: () => { plan: EncoderPlan; weights: Uint8Array }): LoweredPlan {
  try {
    return make();
  } catch (error) {
    if (error instanceof NoPlan) return { plan: null, reason: error.message };
    throw error;
  }
}

/**
 * The encoder plan of a packed sentence encoder, or null and why not.
 * @example const lowered = lowerEncoderPlan(model, options); if (!lowered.plan) reporter.note(lowered.reason)
 */
export function lowerEncoderPlan(model: ModelProto, options: LowerPlanOptions): LoweredPlan {
  return lowered(() => lower(model, options.maxTokens, (view) => sentenceTail(view, options)));
}

/**
 * The encoder plan of a packed cross-encoder (sequence classifier), whose output is the logits, or null and why not.
 * @example const lowered = lowerClassifierPlan(model, { logits: 'logits', maxTokens: 512 })
 */
export function lowerClassifierPlan(model: ModelProto, options: LowerClassifierPlanOptions): LoweredPlan {
  return lowered(() => lower(model, options.maxTokens, (view) => classifierTail(view, options.logits)));
}
