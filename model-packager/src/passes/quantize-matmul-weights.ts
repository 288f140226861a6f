/**
 * Pass: int8 weights for every linear layer.
 *
 * Matches every MatMul whose B input is a constant 2-D float32 initializer [K, N], and every Gemm (transA = 0) whose B
 * is one ([K, N], or [N, K] with transB = 1). Weights are quantized symmetrically with one scale per output channel
 * (column N). Activations, biases, LayerNorm parameters and every Gather table stay fp32.
 *
 * Two lowerings:
 * - 'int8-compute': activations quantized at run time with one scale per row (per token), so a text's embedding does
 *   not depend on the other texts in its batch (onnxruntime's quantize_dynamic / DynamicQuantizeLinear use one scale
 *   per tensor, i.e. per batch: a long or unusual text in the batch coarsens everyone's activations).
 *     m = Max(ReduceMax(Abs(A), axis -1, keepdims), 1e-30)                         once per distinct activation
 *     A_u8 = QuantizeLinear(A * (127 / m), 1, 128)    i.e. round(A / s) + 128, s = m / 127, in [1, 255]
 *     MatMulInteger(A_u8, W_i8, 128) -> int32 -> Cast float -> Mul(m) -> Mul(w_scale[N] / 127)
 *   Only standard ONNX ops (opset >= 11: negative ReduceMax axes). uint8 activations with zero point 128 rather than
 *   int8: onnxruntime-web 1.30's WASM kernel runs int8 x int8 MatMulInteger correctly but ~10x slower than uint8 x
 *   int8. No b_zero_point input: the weights are symmetric, so it is 0.
 *   Against the per-tensor lowering (which onnxruntime fuses into one DynamicQuantizeMatMul kernel), measured as
 *   process CPU time in one process, sessions interleaved, onnxruntime-web 1.30 WASM, 1 thread: batch of 8 about
 *   3-6% slower, a single sentence 5-15% slower, session creation ~60 ms more (more nodes); mean cosine to fp32
 *   the same (MiniLM-sized fixture 0.99996) or better (USE Lite 0.99949 vs 0.99935). Rows stay independent up to
 *   fp32 noise in the unquantized ops (attention over a padded length), which can flip a rounding: USE Lite batch 32
 *   vs one by one min cosine 0.99996, where one scale per batch gave 0.9983.
 * - 'int8-storage': the int8 weight is dequantized to fp32 inside the graph and fed to the original fp32 MatMul.
 *     opset >= 13: DequantizeLinear(W_i8, w_scale[N], axis = 1) -> MatMul.
 *     opset 10-12: per-axis DequantizeLinear does not exist and raising the opset would change the meaning of
 *       Squeeze/Unsqueeze/ReduceSum/Split in the rest of the graph, so: DequantizeLinear(W_i8, 1.0) -> MatMul ->
 *       Mul(w_scale[N]) (the per-column scale commutes with the matrix product).
 *     opset < 10: refused. A Cast of an int8 initializer would be constant-folded by onnxruntime into an fp32 copy,
 *       defeating the point; DequantizeLinear is the op onnxruntime deliberately leaves unfolded.
 * A Gemm is lowered to the MatMul form first: Y = (A x W[K, N]) * alpha + beta * C, alpha folded into the scales.
 */
import { PackError } from '../errors.js';
import { defaultOpset, dropUnusedInitializers, getAttribute, initializerMap, makeNode } from '../onnx/graph.js';
import { DataType, type GraphProto, type ModelProto, type NodeProto, type TensorProto } from '../onnx/proto.js';
import { float32Tensor, int8Tensor, int64Tensor, readFloat32, tensorDims, uint8Tensor } from '../onnx/tensor.js';
import { dequantizePerColumn, INT8_MAX, maxAbsDifference, quantizePerColumn } from '../quant/int8.js';
import { uniqueNamer } from '../quant/names.js';

export interface QuantizeReport {
  /** Float tensors replaced by int8 ones. */
  tensors: number;
  /** Stored bytes of those tensors before (fp32). */
  bytesBefore: number;
  /** Stored bytes after (int8 values plus fp32 scales). */
  bytesAfter: number;
  /** Largest |w - dequantize(quantize(w))| over every quantized element. */
  maxAbsError: number;
}

export type MatMulQuantizationMode = 'int8-compute' | 'int8-storage';

interface LinearMatch {
  node: NodeProto;
  activation: string;
  weight: TensorProto;
  transB: boolean;
  alpha: number;
  /** Gemm's C input and beta, when present. */
  bias?: { name: string; beta: number };
}

interface QuantizedActivation {
  /** uint8 [..., K], zero point {@link ACTIVATION_ZERO_POINT}. */
  values: string;
  /** fp32 [..., 1]: each row's max |A| (= 127 x its scale). */
  rowMax: string;
  zeroPoint: string;
}

/** Smallest row maximum: keeps an all-zero row finite. */
const MIN_ROW_MAX = 1e-30;
/** Activations are stored as uint8 with this zero point: onnxruntime-web runs uint8 x int8 MatMulInteger ~10x faster than int8 x int8. */
const ACTIVATION_ZERO_POINT = 128;

interface QuantizedWeight {
  values: string;
  scales: string;
}

/** Everything one run of the pass shares: fresh names, the initializers it adds, its report, what it already made. */
interface Rewrite {
  mode: MatMulQuantizationMode;
  opset: number;
  fresh: (base: string) => string;
  /** Initializers to append to the graph, in the order they were made. */
  added: TensorProto[];
  report: QuantizeReport;
  /** Shared weights (and weights read by several nodes) are quantized once per layout and alpha. */
  weights: Map<string, QuantizedWeight>;
  /** int8-compute quantizes each distinct activation once, before its first consumer. */
  activations: Map<string, QuantizedActivation>;
  /** Scalar initializers, by base name. */
  constants: Map<string, string>;
}

/** The model's default opset, refusing one the lowering for `mode` cannot be written in. */
function supportedOpset(model: ModelProto, mode: MatMulQuantizationMode): number {
  const opset = defaultOpset(model);
  if (mode === 'int8-compute' && opset < 11) {
    throw new PackError(
      'unsupported-graph',
      `quantizeMatMulWeights: int8-compute needs opset >= 11 (ReduceMax over axis -1, QuantizeLinear, MatMulInteger), the model imports opset ${opset}`,
    );
  }
  if (mode === 'int8-storage' && opset < 10) {
    throw new PackError(
      'unsupported-graph',
      `quantizeMatMulWeights: int8-storage needs opset >= 10 (DequantizeLinear), the model imports opset ${opset}`,
    );
  }
  return opset;
}

/** A MatMul or Gemm whose B is a constant 2-D float32 initializer (a linear layer), or null; refuses a Gemm with transA. */
function matchLinear(node: NodeProto, inits: Map<string, TensorProto>): LinearMatch | null {
  if (node.domain && node.domain !== 'ai.onnx') return null;
  if (node.opType !== 'MatMul' && node.opType !== 'Gemm') return null;
  const weight = inits.get(node.input[1]);
  if (!weight || weight.dataType !== DataType.FLOAT || tensorDims(weight).length !== 2) return null;
  if (node.opType === 'MatMul') return { node, activation: node.input[0], weight, transB: false, alpha: 1 };
  if ((getAttribute(node, 'transA') ?? 0) !== 0) {
    throw new PackError(
      'unsupported-graph',
      `quantizeMatMulWeights: Gemm ${node.name} has transA=1; only Gemm with transA=0 (a linear layer) is supported`,
    );
  }
  const alpha = Number(getAttribute(node, 'alpha') ?? 1);
  const beta = Number(getAttribute(node, 'beta') ?? 1);
  const c = node.input[2];
  return {
    node,
    activation: node.input[0],
    weight,
    transB: (getAttribute(node, 'transB') ?? 0) !== 0,
    alpha,
    bias: c && beta !== 0 ? { name: c, beta } : undefined,
  };
}

/** The weight as row-major [K, N], transposing a Gemm's transB layout. */
function weightKN(match: LinearMatch): { data: Float32Array; k: number; n: number } {
  const [rows, cols] = tensorDims(match.weight);
  const data = readFloat32(match.weight);
  if (!match.transB) return { data, k: rows, n: cols };
  const t = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = data[r * cols + c];
  return { data: t, k: cols, n: rows };
}

/** The linear layers of the graph, by node; refuses a graph with none. */
function findLinearLayers(graph: GraphProto, keep: ReadonlySet<string>): Map<NodeProto, LinearMatch> {
  const inits = initializerMap(graph);
  const matches = new Map<NodeProto, LinearMatch>();
  for (const node of graph.node as NodeProto[]) {
    if (keep.has(node.name)) continue;
    const match = matchLinear(node, inits);
    if (match) matches.set(node, match);
  }
  if (matches.size === 0) {
    throw new PackError(
      'unsupported-graph',
      'quantizeMatMulWeights: found no MatMul or Gemm with a constant 2-D float32 weight; expected the linear layers of a BERT-family encoder',
    );
  }
  return matches;
}

/** The layer's weight as int8 [K, N] with one fp32 scale per column (alpha folded in), made once per layout and alpha. */
function quantizeWeight(rewrite: Rewrite, match: LinearMatch): QuantizedWeight {
  const key = `${match.weight.name}|${match.transB}|${match.alpha}`;
  const known = rewrite.weights.get(key);
  if (known) return known;
  const { data, k, n } = weightKN(match);
  const q = quantizePerColumn(data, k, n);
  const error = maxAbsDifference(data, dequantizePerColumn(q, k, n));
  // Per-row int8-compute multiplies by the row maximum m = 127 * s, so its weight scales carry the 1/127.
  const factor = match.alpha / (rewrite.mode === 'int8-compute' ? INT8_MAX : 1);
  const scales = factor === 1 ? q.scales : q.scales.map((s) => s * factor);
  const result = {
    values: rewrite.fresh(`${match.weight.name}_quantized`),
    scales: rewrite.fresh(`${match.weight.name}_scale`),
  };
  rewrite.added.push(int8Tensor(result.values, [k, n], q.values), float32Tensor(result.scales, [n], scales));
  rewrite.report.tensors += 1;
  rewrite.report.bytesBefore += data.length * 4;
  rewrite.report.bytesAfter += q.values.length + scales.length * 4;
  rewrite.report.maxAbsError = Math.max(rewrite.report.maxAbsError, error);
  rewrite.weights.set(key, result);
  return result;
}

/** A scalar (or small) initializer made on first use and shared after. */
function sharedConstant(rewrite: Rewrite, base: string, tensor: (name: string) => TensorProto): string {
  const known = rewrite.constants.get(base);
  if (known) return known;
  const name = rewrite.fresh(base);
  rewrite.added.push(tensor(name));
  rewrite.constants.set(base, name);
  return name;
}

/** The fp32 scalar 1: QuantizeLinear's activation scale, or DequantizeLinear's weight scale below opset 13. */
function unitScale(rewrite: Rewrite): string {
  return sharedConstant(rewrite, 'quantize_matmul_unit_scale', (n) => float32Tensor(n, [], new Float32Array([1])));
}

/**
 * One scale per row (per token), emitted once per distinct activation before its first consumer:
 *   m = max(max(|A|) over the last axis, tiny), A_u8 = QuantizeLinear(A * (127 / m), scale 1, zero point 128)
 * i.e. A_u8 - 128 = round(A / s) in [-127, 127] with s = m / 127; the 1/127 is folded into the weight scales.
 */
function quantizeActivationPerRow(rewrite: Rewrite, activation: string, out: NodeProto[]): QuantizedActivation {
  const known = rewrite.activations.get(activation);
  if (known) return known;
  const name = (suffix: string) => rewrite.fresh(`${activation}_${suffix}`);
  const abs = name('abs');
  const maxAbs = name('row_max_abs');
  const rowMax = name('row_max');
  const inverse = name('row_inverse_scale');
  const scaled = name('scaled');
  const values = name('quantized');
  const int8Max = sharedConstant(rewrite, 'quantize_matmul_int8_max', (n) =>
    float32Tensor(n, [], new Float32Array([INT8_MAX])),
  );
  // An all-zero row gets a tiny maximum instead of 0, so it quantizes to zeros rather than NaN (0 * inf).
  const tiny = sharedConstant(rewrite, 'quantize_matmul_min_row_max', (n) =>
    float32Tensor(n, [], new Float32Array([MIN_ROW_MAX])),
  );
  const one = unitScale(rewrite);
  const zeroPoint = sharedConstant(rewrite, 'quantize_matmul_zero_point', (n) =>
    uint8Tensor(n, [], new Uint8Array([ACTIVATION_ZERO_POINT])),
  );
  // ReduceMax takes its axes as an input from opset 18 on, as an attribute before.
  const reduce =
    rewrite.opset >= 18
      ? makeNode(
          'ReduceMax',
          [abs, sharedConstant(rewrite, 'quantize_matmul_last_axis', (n) => int64Tensor(n, [1], [-1]))],
          [maxAbs],
          { keepdims: 1 },
        )
      : makeNode('ReduceMax', [abs], [maxAbs], { axes: [-1], keepdims: 1 });
  out.push(
    makeNode('Abs', [activation], [abs]),
    reduce,
    makeNode('Max', [maxAbs, tiny], [rowMax]),
    makeNode('Div', [int8Max, rowMax], [inverse]),
    makeNode('Mul', [activation, inverse], [scaled]),
    makeNode('QuantizeLinear', [scaled, one, zeroPoint], [values]),
  );
  const result = { values, rowMax, zeroPoint };
  rewrite.activations.set(activation, result);
  return result;
}

/** The name new tensors of a layer are derived from. */
function layerName(match: LinearMatch): string {
  return match.node.name || match.node.output[0];
}

/** Appends to `out` the nodes computing A x W (fp32 [.., N]) into the tensor `target`, one function per lowering. */
type EmitProduct = (rewrite: Rewrite, match: LinearMatch, w: QuantizedWeight, out: NodeProto[], target: string) => void;

/** int8-compute: A x W as uint8 x int8 MatMulInteger, rescaled by each row's maximum and each column's scale. */
const emitInt8ComputeProduct: EmitProduct = (rewrite, match, w, out, target) => {
  const base = layerName(match);
  const act = quantizeActivationPerRow(rewrite, match.activation, out);
  const acc = rewrite.fresh(`${base}_int32`);
  const accFloat = rewrite.fresh(`${base}_int32_float`);
  const rowScaled = rewrite.fresh(`${base}_row_scaled`);
  out.push(
    makeNode('MatMulInteger', [act.values, w.values, act.zeroPoint], [acc]),
    makeNode('Cast', [acc], [accFloat], { to: DataType.FLOAT }),
    makeNode('Mul', [accFloat, act.rowMax], [rowScaled]),
    makeNode('Mul', [rowScaled, w.scales], [target]),
  );
};

/** int8-storage: the weight dequantized in the graph (per column from opset 13, else scaled after the product). */
const emitInt8StorageProduct: EmitProduct = (rewrite, match, w, out, target) => {
  if (rewrite.opset >= 13) {
    const dequantized = rewrite.fresh(`${w.values}_dequantized`);
    out.push(
      makeNode('DequantizeLinear', [w.values, w.scales], [dequantized], { axis: 1 }),
      makeNode('MatMul', [match.activation, dequantized], [target]),
    );
    return;
  }
  const scale = unitScale(rewrite);
  const asFloat = rewrite.fresh(`${w.values}_as_float`);
  const unscaled = rewrite.fresh(`${layerName(match)}_unscaled`);
  out.push(
    makeNode('DequantizeLinear', [w.values, scale], [asFloat]),
    makeNode('MatMul', [match.activation, asFloat], [unscaled]),
    makeNode('Mul', [unscaled, w.scales], [target]),
  );
};

/** Appends to `out` the nodes that replace one linear layer, writing its original output (plus beta x C for a Gemm). */
function emitQuantizedLayer(rewrite: Rewrite, match: LinearMatch, out: NodeProto[]): void {
  const w = quantizeWeight(rewrite, match);
  const emitProduct = rewrite.mode === 'int8-compute' ? emitInt8ComputeProduct : emitInt8StorageProduct;
  const output = match.node.output[0];
  if (!match.bias) {
    emitProduct(rewrite, match, w, out, output);
    return;
  }
  const product = rewrite.fresh(`${layerName(match)}_product`);
  emitProduct(rewrite, match, w, out, product);
  let bias = match.bias.name;
  if (match.bias.beta !== 1) {
    const beta = rewrite.fresh(`${layerName(match)}_beta`);
    const scaledBias = rewrite.fresh(`${layerName(match)}_scaled_bias`);
    rewrite.added.push(float32Tensor(beta, [], new Float32Array([match.bias.beta])));
    out.push(makeNode('Mul', [bias, beta], [scaledBias]));
    bias = scaledBias;
  }
  out.push(makeNode('Add', [product, bias], [output]));
}

/**
 * Quantizes the weights of every linear layer to int8 with per-output-channel scales, except the nodes named in `keep`
 * (e.g. a cross-encoder's classification head, kept fp32 when that scores closer to the original).
 *
 * @example
 *   const { report } = quantizeMatMulWeights(model, 'int8-storage');
 *   console.log(`${report.tensors} weights, ${report.bytesBefore} -> ${report.bytesAfter} bytes`);
 */
export function quantizeMatMulWeights(
  model: ModelProto,
  mode: MatMulQuantizationMode,
  keep: ReadonlySet<string> = new Set(),
): { model: ModelProto; report: QuantizeReport } {
  const graph = model.graph as GraphProto | null | undefined;
  if (!graph) throw new PackError('corrupt-onnx', 'quantizeMatMulWeights: the model has no graph');
  const opset = supportedOpset(model, mode);
  const layers = findLinearLayers(graph, keep);
  const rewrite: Rewrite = {
    mode,
    opset,
    fresh: uniqueNamer(graph),
    added: [],
    report: { tensors: 0, bytesBefore: 0, bytesAfter: 0, maxAbsError: 0 },
    weights: new Map(),
    activations: new Map(),
    constants: new Map(),
  };
  const rewritten: NodeProto[] = [];
  for (const node of graph.node as NodeProto[]) {
    const match = layers.get(node);
    if (match) emitQuantizedLayer(rewrite, match, rewritten);
    else rewritten.push(node);
  }
  graph.node = rewritten;
  graph.initializer = [...(graph.initializer as TensorProto[]), ...rewrite.added];
  dropUnusedInitializers(graph);
  return { model, report: rewrite.report };
}
