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
import { float32Tensor, int64Tensor, int8Tensor, readFloat32, tensorDims, uint8Tensor } from '../onnx/tensor.js';
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

/**
 * Quantizes the weights of every linear layer to int8 with per-output-channel scales.
 *
 * @example
 *   const { report } = quantizeMatMulWeights(model, 'int8-storage');
 *   console.log(`${report.tensors} weights, ${report.bytesBefore} -> ${report.bytesAfter} bytes`);
 */
export function quantizeMatMulWeights(
  model: ModelProto,
  mode: MatMulQuantizationMode,
): { model: ModelProto; report: QuantizeReport } {
  const graph = model.graph as GraphProto | null | undefined;
  if (!graph) throw new PackError('corrupt-onnx', 'quantizeMatMulWeights: the model has no graph');
  const opset = defaultOpset(model);
  if (mode === 'int8-compute' && opset < 11) {
    throw new PackError('unsupported-graph', `quantizeMatMulWeights: int8-compute needs opset >= 11 (ReduceMax over axis -1, QuantizeLinear, MatMulInteger), the model imports opset ${opset}`);
  }
  if (mode === 'int8-storage' && opset < 10) {
    throw new PackError('unsupported-graph', `quantizeMatMulWeights: int8-storage needs opset >= 10 (DequantizeLinear), the model imports opset ${opset}`);
  }

  const inits = initializerMap(graph);
  const nodes = graph.node as NodeProto[];
  const matches = new Map<NodeProto, LinearMatch>();
  for (const node of nodes) {
    const match = matchLinear(node, inits);
    if (match) matches.set(node, match);
  }
  if (matches.size === 0) {
    throw new PackError(
      'unsupported-graph',
      'quantizeMatMulWeights: found no MatMul or Gemm with a constant 2-D float32 weight; expected the linear layers of a BERT-family encoder',
    );
  }

  const fresh = uniqueNamer(graph);
  const added: TensorProto[] = [];
  const report: QuantizeReport = { tensors: 0, bytesBefore: 0, bytesAfter: 0, maxAbsError: 0 };
  // Shared weights (and weights read by several nodes) are quantized once per layout and alpha.
  const weights = new Map<string, QuantizedWeight>();
  const quantizedActivations = new Map<string, QuantizedActivation>();
  const constants = new Map<string, string>();
  let unitScale: string | undefined;

  const quantizeWeight = (match: LinearMatch): QuantizedWeight => {
    const key = `${match.weight.name}|${match.transB}|${match.alpha}`;
    const known = weights.get(key);
    if (known) return known;
    const { data, k, n } = weightKN(match);
    const q = quantizePerColumn(data, k, n);
    const error = maxAbsDifference(data, dequantizePerColumn(q, k, n));
    // Per-row int8-compute multiplies by the row maximum m = 127 * s, so its weight scales carry the 1/127.
    const factor = match.alpha / (mode === 'int8-compute' ? INT8_MAX : 1);
    const scales = factor === 1 ? q.scales : q.scales.map((s) => s * factor);
    const result = { values: fresh(`${match.weight.name}_quantized`), scales: fresh(`${match.weight.name}_scale`) };
    added.push(int8Tensor(result.values, [k, n], q.values), float32Tensor(result.scales, [n], scales));
    report.tensors += 1;
    report.bytesBefore += data.length * 4;
    report.bytesAfter += q.values.length + scales.length * 4;
    report.maxAbsError = Math.max(report.maxAbsError, error);
    weights.set(key, result);
    return result;
  };

  const constant = (base: string, tensor: (name: string) => TensorProto): string => {
    const known = constants.get(base);
    if (known) return known;
    const name = fresh(base);
    added.push(tensor(name));
    constants.set(base, name);
    return name;
  };

  /**
   * One scale per row (per token), emitted once per distinct activation before its first consumer:
   *   m = max(max(|A|) over the last axis, tiny), A_u8 = QuantizeLinear(A * (127 / m), scale 1, zero point 128)
   * i.e. A_u8 - 128 = round(A / s) in [-127, 127] with s = m / 127; the 1/127 is folded into the weight scales.
   */
  const quantizePerRow = (activation: string, out: NodeProto[]): QuantizedActivation => {
    const known = quantizedActivations.get(activation);
    if (known) return known;
    const name = (suffix: string) => fresh(`${activation}_${suffix}`);
    const abs = name('abs');
    const maxAbs = name('row_max_abs');
    const rowMax = name('row_max');
    const inverse = name('row_inverse_scale');
    const scaled = name('scaled');
    const values = name('quantized');
    const int8Max = constant('quantize_matmul_int8_max', (n) => float32Tensor(n, [], new Float32Array([INT8_MAX])));
    // An all-zero row gets a tiny maximum instead of 0, so it quantizes to zeros rather than NaN (0 * inf).
    const tiny = constant('quantize_matmul_min_row_max', (n) => float32Tensor(n, [], new Float32Array([MIN_ROW_MAX])));
    const one = constant('quantize_matmul_unit_scale', (n) => float32Tensor(n, [], new Float32Array([1])));
    const zeroPoint = constant('quantize_matmul_zero_point', (n) => uint8Tensor(n, [], new Uint8Array([ACTIVATION_ZERO_POINT])));
    // ReduceMax takes its axes as an input from opset 18 on, as an attribute before.
    const reduce =
      opset >= 18
        ? makeNode('ReduceMax', [abs, constant('quantize_matmul_last_axis', (n) => int64Tensor(n, [1], [-1]))], [maxAbs], { keepdims: 1 })
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
    quantizedActivations.set(activation, result);
    return result;
  };

  /** Appends to `out` the nodes computing A x W (fp32 [.., N]) into the tensor `target`. */
  const emitProduct = (match: LinearMatch, w: QuantizedWeight, out: NodeProto[], target: string): void => {
    const base = match.node.name || match.node.output[0];
    if (mode === 'int8-compute') {
      const act = quantizePerRow(match.activation, out);
      const acc = fresh(`${base}_int32`);
      const accFloat = fresh(`${base}_int32_float`);
      const rowScaled = fresh(`${base}_row_scaled`);
      out.push(
        makeNode('MatMulInteger', [act.values, w.values, act.zeroPoint], [acc]),
        makeNode('Cast', [acc], [accFloat], { to: DataType.FLOAT }),
        makeNode('Mul', [accFloat, act.rowMax], [rowScaled]),
        makeNode('Mul', [rowScaled, w.scales], [target]),
      );
      return;
    }
    if (opset >= 13) {
      const dequantized = fresh(`${w.values}_dequantized`);
      out.push(
        makeNode('DequantizeLinear', [w.values, w.scales], [dequantized], { axis: 1 }),
        makeNode('MatMul', [match.activation, dequantized], [target]),
      );
      return;
    }
    if (!unitScale) {
      unitScale = fresh('quantize_matmul_unit_scale');
      added.push(float32Tensor(unitScale, [], new Float32Array([1])));
    }
    const asFloat = fresh(`${w.values}_as_float`);
    const unscaled = fresh(`${base}_unscaled`);
    out.push(
      makeNode('DequantizeLinear', [w.values, unitScale], [asFloat]),
      makeNode('MatMul', [match.activation, asFloat], [unscaled]),
      makeNode('Mul', [unscaled, w.scales], [target]),
    );
  };

  const rewritten: NodeProto[] = [];
  for (const node of nodes) {
    const match = matches.get(node);
    if (!match) {
      rewritten.push(node);
      continue;
    }
    const w = quantizeWeight(match);
    const output = node.output[0];
    if (!match.bias) {
      emitProduct(match, w, rewritten, output);
      continue;
    }
    const product = fresh(`${node.name || output}_product`);
    emitProduct(match, w, rewritten, product);
    let bias = match.bias.name;
    if (match.bias.beta !== 1) {
      const beta = fresh(`${node.name || output}_beta`);
      const scaledBias = fresh(`${node.name || output}_scaled_bias`);
      added.push(float32Tensor(beta, [], new Float32Array([match.bias.beta])));
      rewritten.push(makeNode('Mul', [bias, beta], [scaledBias]));
      bias = scaledBias;
    }
    rewritten.push(makeNode('Add', [product, bias], [output]));
  }

  graph.node = rewritten;
  graph.initializer = [...(graph.initializer as TensorProto[]), ...added];
  dropUnusedInitializers(graph);
  return { model, report };
}
