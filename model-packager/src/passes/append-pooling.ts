/**
 * Pass: sentence pooling (and optional L2 normalisation) folded into the graph.
 *
 * Matches a hidden-state tensor [batch, sequence, hidden] and the graph input attention_mask [batch, sequence].
 * Appends, as sentence-transformers' Pooling and Normalize modules compute them:
 *   mean           sum(h * mask) / max(sum(mask), 1e-9)
 *   mean_sqrt_len  sum(h * mask) / sqrt(max(sum(mask), 1e-9))
 *   cls            h[:, 0]
 *   max            max over tokens of (h where mask = 1, else -1e9)
 *   normalize      x / max(||x||2, 1e-12)
 * The graph's only output becomes `sentence_embedding` [batch, hidden] float32; the hidden-state output and every node
 * that only fed other outputs (e.g. a pooler) are removed.
 */
import { type PoolingMode, SENTENCE_EMBEDDING_OUTPUT } from '../../../bundle-format/manifest.js';
import { PackError } from '../errors.js';
import { defaultOpset, dropUnusedInitializers, makeNode, producerMap } from '../onnx/graph.js';
import {
  AttributeType,
  DataType,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  onnx,
  type TensorProto,
  type ValueInfoProto,
} from '../onnx/proto.js';
import { float32Tensor, int64Tensor } from '../onnx/tensor.js';
import { uniqueNamer } from '../quant/names.js';

export interface PoolingOptions {
  pooling: PoolingMode;
  normalize: boolean;
  /** The tensor holding the encoder's hidden states [batch, sequence, hidden], usually `last_hidden_state`. */
  hiddenOutput: string;
}

const ATTENTION_MASK = 'attention_mask';
const MASKED_VALUE = -1e9;
const MIN_TOKEN_COUNT = 1e-9;
const MIN_NORM = 1e-12;

type Dim = { dimValue?: number; dimParam?: string };

function dimsOf(info: ValueInfoProto | undefined): Dim[] | undefined {
  const dims = info?.type?.tensorType?.shape?.dim;
  if (!dims) return undefined;
  return dims.map((d) =>
    d.dimValue !== null && d.dimValue !== undefined && Number(d.dimValue) > 0
      ? { dimValue: Number(d.dimValue) }
      : { dimParam: d.dimParam ?? '' },
  );
}

/** Removes nodes that no longer contribute to a graph output, unless a subgraph might read outer-scope names. */
function dropDeadNodes(graph: GraphProto): void {
  const nodes = graph.node as NodeProto[];
  const hasSubgraphs = nodes.some((n) =>
    n.attribute.some((a) => a.type === AttributeType.GRAPH || a.type === AttributeType.GRAPHS),
  );
  if (hasSubgraphs) return;
  const live = new Set(graph.output.map((o) => o.name ?? ''));
  const kept: NodeProto[] = [];
  for (let i = nodes.length - 1; i >= 0; i--) {
    const node = nodes[i];
    if (!node.output.some((o) => live.has(o))) continue;
    kept.push(node);
    for (const input of node.input) if (input) live.add(input);
  }
  graph.node = kept.reverse();
  const produced = new Set((graph.node as NodeProto[]).flatMap((n) => n.output));
  graph.valueInfo = graph.valueInfo.filter((v) => produced.has(v.name ?? ''));
}

/**
 * Appends pooling (and L2 normalisation when asked) after the encoder, making `sentence_embedding` the one output.
 *
 * @example
 *   appendPooling(model, { pooling: 'mean', normalize: true, hiddenOutput: 'last_hidden_state' });
 */
export function appendPooling(model: ModelProto, options: PoolingOptions): ModelProto {
  const graph = model.graph as GraphProto | null | undefined;
  if (!graph) throw new PackError('corrupt-onnx', 'appendPooling: the model has no graph');
  const { pooling, normalize, hiddenOutput } = options;
  const isInput = (name: string) => graph.input.some((i) => i.name === name);
  if (!producerMap(graph).has(hiddenOutput) && !isInput(hiddenOutput)) {
    throw new PackError(
      'unsupported-graph',
      `appendPooling: no tensor named ${hiddenOutput} in the graph; expected the encoder's hidden states [batch, sequence, hidden]`,
    );
  }
  if (!isInput(ATTENTION_MASK)) {
    throw new PackError(
      'unsupported-graph',
      `appendPooling: the graph has no ${ATTENTION_MASK} input (inputs: ${graph.input.map((i) => i.name).join(', ')}); pooling needs it to skip padding`,
    );
  }
  if (
    graph.output.some((o) => o.name === SENTENCE_EMBEDDING_OUTPUT) ||
    producerMap(graph).has(SENTENCE_EMBEDDING_OUTPUT)
  ) {
    throw new PackError(
      'unsupported-graph',
      `appendPooling: the graph already has a ${SENTENCE_EMBEDDING_OUTPUT} tensor; was pooling appended twice?`,
    );
  }

  const hiddenInfo = [...graph.output, ...graph.valueInfo].find((v) => v.name === hiddenOutput) as
    | ValueInfoProto
    | undefined;
  const hiddenDims = dimsOf(hiddenInfo);
  const outputDims: Dim[] = [hiddenDims?.[0] ?? { dimParam: 'batch' }, hiddenDims?.[2] ?? { dimParam: 'hidden' }];

  const opset = defaultOpset(model);
  const fresh = uniqueNamer(graph);
  const nodes: NodeProto[] = [];
  const initializers: TensorProto[] = [];
  const floatConstant = (base: string, value: number) => {
    const name = fresh(`pooling/${base}`);
    initializers.push(float32Tensor(name, [], new Float32Array([value])));
    return name;
  };
  const axesConstant = (axes: number[]) => {
    const name = fresh('pooling/axes');
    initializers.push(int64Tensor(name, [axes.length], axes));
    return name;
  };
  const op = (
    opType: string,
    inputs: string[],
    base: string,
    attributes: Record<string, number | number[]> = {},
    output?: string,
  ) => {
    const out = output ?? fresh(`pooling/${base}`);
    nodes.push(makeNode(opType, inputs, [out], attributes));
    return out;
  };
  // Unsqueeze and ReduceSum take axes as an input from opset 13, ReduceMax only from opset 18.
  const unsqueeze = (input: string, axes: number[], base: string) =>
    opset >= 13 ? op('Unsqueeze', [input, axesConstant(axes)], base) : op('Unsqueeze', [input], base, { axes });
  const reduce = (
    opType: 'ReduceSum' | 'ReduceMax',
    input: string,
    axes: number[],
    keepdims: number,
    base: string,
    output?: string,
  ) =>
    opset >= (opType === 'ReduceSum' ? 13 : 18)
      ? op(opType, [input, axesConstant(axes)], base, { keepdims }, output)
      : op(opType, [input], base, { axes, keepdims }, output);

  const pooledName = normalize ? undefined : SENTENCE_EMBEDDING_OUTPUT;
  let pooled: string;
  if (pooling === 'cls') {
    const first = fresh('pooling/first_token');
    initializers.push(int64Tensor(first, [], [0]));
    pooled = op('Gather', [hiddenOutput, first], 'cls', { axis: 1 }, pooledName);
  } else {
    const mask = op('Cast', [ATTENTION_MASK], 'mask', { to: DataType.FLOAT });
    const mask3 = unsqueeze(mask, [2], 'mask_expanded');
    const masked = op('Mul', [hiddenOutput, mask3], 'masked_hidden');
    if (pooling === 'max') {
      // (mask - 1) * 1e9 is 0 on tokens and -1e9 on padding; adding it leaves token values bit-exact.
      const offset = op('Sub', [mask3, floatConstant('one', 1)], 'mask_minus_one');
      const penalty = op('Mul', [offset, floatConstant('masked_value', -MASKED_VALUE)], 'padding_penalty');
      const filled = op('Add', [masked, penalty], 'padding_filled');
      pooled = reduce('ReduceMax', filled, [1], 0, 'max', pooledName);
    } else {
      const sum = reduce('ReduceSum', masked, [1], 0, 'sum');
      const count = reduce('ReduceSum', mask3, [1], 0, 'token_count');
      const clamped = op('Max', [count, floatConstant('min_token_count', MIN_TOKEN_COUNT)], 'token_count_clamped');
      const divisor = pooling === 'mean_sqrt_len' ? op('Sqrt', [clamped], 'sqrt_token_count') : clamped;
      pooled = op('Div', [sum, divisor], pooling, {}, pooledName);
    }
  }
  if (normalize) {
    const squares = op('Mul', [pooled, pooled], 'squares');
    const sumSquares = reduce('ReduceSum', squares, [1], 1, 'sum_squares');
    const norm = op('Sqrt', [sumSquares], 'norm');
    const clampedNorm = op('Max', [norm, floatConstant('min_norm', MIN_NORM)], 'norm_clamped');
    op('Div', [pooled, clampedNorm], 'normalized', {}, SENTENCE_EMBEDDING_OUTPUT);
  }

  graph.node = [...(graph.node as NodeProto[]), ...nodes];
  graph.initializer = [...(graph.initializer as TensorProto[]), ...initializers];
  graph.output = [
    onnx.ValueInfoProto.create({
      name: SENTENCE_EMBEDDING_OUTPUT,
      type: { tensorType: { elemType: DataType.FLOAT, shape: { dim: outputDims } } },
    }),
  ];
  dropDeadNodes(graph);
  dropUnusedInitializers(graph);
  return model;
}
