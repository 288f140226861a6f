/**
 * Reads the facts every other pass relies on from a BERT-family export (the graph contract: inputs input_ids,
 * attention_mask[, token_type_ids]; output last_hidden_state; a word-embedding Gather on input_ids), and refuses,
 * with one line naming what was found and what was expected, any graph the passes cannot handle safely.
 */
import { PackError } from '../errors.js';
import { defaultOpset, getAttribute, initializerMap, producerMap } from '../onnx/graph.js';
import {
  DataType,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
  toNumber,
  type ValueInfoProto,
} from '../onnx/proto.js';
import { tensorDims } from '../onnx/tensor.js';

export type BertInputName = 'input_ids' | 'attention_mask' | 'token_type_ids';

export interface BertGraphInfo {
  opset: number;
  layerNorm: 'fused' | 'decomposed';
  /** Graph inputs in canonical order (input_ids, attention_mask, token_type_ids). */
  inputs: BertInputName[];
  inputDtype: 'int64' | 'int32';
  /** The output the passes build on: 'last_hidden_state', or a sequence classifier's (cross-encoder's) 'logits'. */
  hiddenOutput: string;
  /** A sequence-classification export (output logits [batch, labels]); labels null when the graph does not declare it. */
  classifier: { labels: 1 | 2 | null } | null;
  hidden: number;
  /** Number of attention Softmax nodes. */
  layers: number;
  wordEmbedding: { initializer: string; gatherNode: string; vocabSize: number };
}

const MIN_OPSET = 11;
const INPUT_ORDER: BertInputName[] = ['input_ids', 'attention_mask', 'token_type_ids'];
const HIDDEN_OUTPUT = 'last_hidden_state';
const LOGITS_OUTPUT = 'logits';

/** Ops of an already-quantized graph: quantizing again would stack int8 on int8. */
const QUANTIZED_OPS = new Set([
  'MatMulInteger',
  'QLinearMatMul',
  'QuantizeLinear',
  'DequantizeLinear',
  'DynamicQuantizeLinear',
  'ConvInteger',
  'QLinearConv',
  'MatMulNBits',
  'DynamicQuantizeMatMul',
  'QAttention',
  'QGemm',
]);

/**
 * The ops torch/optimum exports of BERT, MiniLM, bge, e5, gte and DistilBERT use, plus the plain tensor and
 * elementwise math other encoder exports use. Control flow, quantized and custom-domain ops are not here on purpose:
 * the passes cannot see through them.
 */
export const ALLOWED_OPS: ReadonlySet<string> = new Set([
  // shapes and indexing
  'Shape',
  'Size',
  'Gather',
  'GatherElements',
  'GatherND',
  'Unsqueeze',
  'Squeeze',
  'Concat',
  'Slice',
  'Split',
  'Reshape',
  'Flatten',
  'Transpose',
  'Expand',
  'Tile',
  'Range',
  'ScatterND',
  'Identity',
  'Dropout',
  // constants and types
  'Constant',
  'ConstantOfShape',
  'Cast',
  'CastLike',
  // comparisons and selection
  'Equal',
  'Less',
  'LessOrEqual',
  'Greater',
  'GreaterOrEqual',
  'Not',
  'And',
  'Or',
  'Xor',
  'Where',
  'IsNaN',
  'IsInf',
  // arithmetic
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Pow',
  'Sqrt',
  'Reciprocal',
  'Neg',
  'Abs',
  'Exp',
  'Log',
  'Erf',
  'Max',
  'Min',
  'Sum',
  'Mean',
  'Clip',
  'Floor',
  'Ceil',
  'Round',
  'Sign',
  'Mod',
  'CumSum',
  // activations
  'Tanh',
  'Relu',
  'Sigmoid',
  'Gelu',
  'Softmax',
  'LogSoftmax',
  'Softplus',
  'LeakyRelu',
  'Elu',
  'HardSigmoid',
  // matrix products and normalisation
  'MatMul',
  'Gemm',
  'LayerNormalization',
  'ReduceMean',
  'ReduceSum',
  'ReduceMax',
  'ReduceMin',
  'ReduceProd',
  'ReduceL2',
  'ReduceSumSquare',
]);

function refuse(message: string): never {
  throw new PackError('unsupported-graph', message);
}

/** "a, b, c" with at most `limit` items and "and N more". */
function listOf(items: string[], limit = 6): string {
  const shown = items.slice(0, limit).join(', ');
  return items.length > limit ? `${shown} and ${items.length - limit} more` : shown;
}

function elemTypeOf(info: ValueInfoProto): number | undefined {
  const type = info.type?.tensorType?.elemType;
  return type === null || type === undefined ? undefined : type;
}

/**
 * Inspects a BERT-family model; throws PackError('unsupported-graph') when it is outside what the packager handles.
 * An unnamed word-embedding Gather is given its output's name, since later passes find that node by name.
 *
 * @example
 *   const info = inspectBertGraph(await readOnnxModel('minilm/model.onnx'));
 *   info.wordEmbedding; // { initializer: 'embeddings.word_embeddings.weight', gatherNode: '/embeddings/word_embeddings/Gather', vocabSize: 30522 }
 */
export function inspectBertGraph(model: ModelProto): BertGraphInfo {
  const graph = model.graph as GraphProto | null | undefined;
  if (!graph?.node || graph.node.length === 0)
    refuse('the model has no graph nodes; expected a BERT-family encoder graph');
  const nodes = graph.node as NodeProto[];
  const initializers = initializerMap(graph);

  const opset = defaultOpset(model);
  if (opset < MIN_OPSET)
    refuse(
      `the model imports ONNX opset ${opset || 'none'}; expected opset ${MIN_OPSET} or newer (re-export with a newer opset)`,
    );

  const foreign = nodes.filter((n) => n.domain && n.domain !== 'ai.onnx');
  if (foreign.length > 0) {
    const ops = [...new Set(foreign.map((n) => `${n.domain}.${n.opType}`))];
    refuse(
      `the graph uses custom-domain ops ${listOf(ops)}; expected only standard ONNX ops (export without ORT-specific fusions)`,
    );
  }

  const quantized = [...new Set(nodes.map((n) => n.opType).filter((op) => QUANTIZED_OPS.has(op)))];
  if (quantized.length > 0)
    refuse(`the graph is already quantized (found ${listOf(quantized)}); expected an fp32 export`);

  const unknown = [...new Set(nodes.map((n) => n.opType).filter((op) => !ALLOWED_OPS.has(op)))];
  if (unknown.length > 0) {
    refuse(
      `the graph uses ops outside what the packager supports (found ${listOf(unknown)}); expected only ${[...ALLOWED_OPS].join(', ')}`,
    );
  }

  // Old IR versions also list initializers as graph inputs; those are weights, not inputs.
  const inputs = (graph.input as ValueInfoProto[]).filter((i) => !initializers.has(i.name));
  const names = inputs.map((i) => i.name);
  const expectedInputs = 'expected input_ids, attention_mask and optionally token_type_ids';
  const extra = names.filter((n) => !(INPUT_ORDER as string[]).includes(n));
  if (extra.length > 0)
    refuse(
      `unknown graph input${extra.length > 1 ? 's' : ''} ${listOf(extra)} (inputs: ${listOf(names)}); ${expectedInputs}`,
    );
  for (const required of ['input_ids', 'attention_mask']) {
    if (!names.includes(required))
      refuse(`the graph has no ${required} input (inputs: ${listOf(names) || 'none'}); ${expectedInputs}`);
  }
  if (new Set(names).size !== names.length)
    refuse(`the graph declares an input twice (inputs: ${listOf(names)}); ${expectedInputs}`);
  const dtypes = inputs.map((i) => elemTypeOf(i));
  const bad = inputs.filter((_, k) => dtypes[k] !== DataType.INT64 && dtypes[k] !== DataType.INT32);
  if (bad.length > 0) {
    const found = bad.map((i) => `${i.name} is ${DataType[elemTypeOf(i) ?? 0] ?? 'untyped'}`);
    refuse(`graph inputs must be int64 or int32 tensors (${listOf(found)})`);
  }
  if (new Set(dtypes).size > 1) {
    refuse(
      `graph inputs mix integer types (${inputs.map((i) => `${i.name} ${DataType[elemTypeOf(i)!]}`).join(', ')}); expected one type for all`,
    );
  }
  const inputDtype = dtypes[0] === DataType.INT32 ? 'int32' : 'int64';

  const producers = producerMap(graph);
  const output = findModelOutput(graph.output as ValueInfoProto[], producers);
  const wordEmbedding = findWordEmbedding(nodes, initializers, producers);
  // The encoder width may differ from the table's (factorised embeddings: ALBERT, Universal Sentence Encoder).
  const hidden = output.classifier ? wordEmbedding.hidden : (output.declaredWidth ?? wordEmbedding.hidden);

  return {
    opset,
    layerNorm: nodes.some((n) => n.opType === 'LayerNormalization') ? 'fused' : 'decomposed',
    inputs: INPUT_ORDER.filter((name) => names.includes(name)),
    inputDtype,
    hiddenOutput: output.name,
    classifier: output.classifier,
    hidden,
    layers: nodes.filter((n) => n.opType === 'Softmax').length,
    wordEmbedding: {
      initializer: wordEmbedding.initializer,
      gatherNode: wordEmbedding.gatherNode,
      vocabSize: wordEmbedding.vocabSize,
    },
  };
}

/**
 * The encoder's last_hidden_state [batch, sequence, hidden] (feature extraction), else a sequence classifier's logits
 * [batch, 1 or 2] (a cross-encoder): declared once, computed by a node, float32.
 */
function findModelOutput(
  outputs: ValueInfoProto[],
  producers: Map<string, NodeProto>,
): { name: string; classifier: BertGraphInfo['classifier']; declaredWidth: number | undefined } {
  const names = outputs.map((o) => o.name);
  const name = names.includes(HIDDEN_OUTPUT) ? HIDDEN_OUTPUT : names.includes(LOGITS_OUTPUT) ? LOGITS_OUTPUT : null;
  if (name === null) {
    refuse(
      `the graph has no ${HIDDEN_OUTPUT} or ${LOGITS_OUTPUT} output (outputs: ${listOf(names) || 'none'}); expected a feature-extraction export whose output is ${HIDDEN_OUTPUT} [batch, sequence, hidden], or a sequence-classification (cross-encoder) export whose output is ${LOGITS_OUTPUT} [batch, 1 or 2]`,
    );
  }
  const declared = outputs.filter((o) => o.name === name);
  if (declared.length > 1) refuse(`the graph declares ${name} ${declared.length} times; expected one such output`);
  if (!producers.has(name)) refuse(`no node computes the ${name} output`);
  const type = elemTypeOf(declared[0]);
  if (type !== undefined && type !== DataType.FLOAT)
    refuse(`${name} is ${DataType[type]}; expected float32 (an fp32 export)`);
  const dims = declared[0].type?.tensorType?.shape?.dim ?? [];
  const dimValue = (k: number) => (dims[k]?.dimValue ? toNumber(dims[k].dimValue as number) : undefined);
  if (name === HIDDEN_OUTPUT) {
    if (dims.length > 0 && dims.length !== 3)
      refuse(`${name} has rank ${dims.length}; expected [batch, sequence, hidden]`);
    return { name, classifier: null, declaredWidth: dimValue(2) };
  }
  if (dims.length > 0 && dims.length !== 2) refuse(`${name} has rank ${dims.length}; expected [batch, labels]`);
  const labels = dimValue(1) ?? null;
  if (labels !== null && labels !== 1 && labels !== 2) {
    refuse(
      `${name} has ${labels} labels; a cross-encoder has 1 (a relevance logit) or 2 (irrelevant, relevant), not a multi-class classifier`,
    );
  }
  return { name, classifier: { labels: labels as 1 | 2 | null }, declaredWidth: undefined };
}

/** The Gather whose indices are input_ids (directly or through Cast) and whose data is a 2-D float initializer. */
function findWordEmbedding(
  nodes: NodeProto[],
  initializers: Map<string, TensorProto>,
  producers: Map<string, NodeProto>,
): { initializer: string; gatherNode: string; vocabSize: number; hidden: number } {
  const readsInputIds = (name: string): boolean => {
    if (name === 'input_ids') return true;
    const producer = producers.get(name);
    return producer?.opType === 'Cast' && readsInputIds(producer.input[0]);
  };
  const onInputIds = nodes.filter((n) => n.opType === 'Gather' && n.input.length >= 2 && readsInputIds(n.input[1]));
  const candidates = onInputIds.filter((n) => {
    const table = initializers.get(n.input[0]);
    return (
      table !== undefined &&
      table.dataType === DataType.FLOAT &&
      tensorDims(table).length === 2 &&
      (getAttribute(n, 'axis') ?? 0) === 0
    );
  });
  const expected = 'expected a Gather reading a 2-D float32 initializer [vocab, hidden] at the ids in input_ids';
  if (candidates.length === 0) {
    const found =
      onInputIds.length > 0
        ? `Gather of input_ids reads ${listOf(onInputIds.map((n) => describeTable(n.input[0], initializers)))}`
        : 'no Gather reads input_ids';
    refuse(`no word-embedding table found (${found}); ${expected}`);
  }
  const tables = [...new Set(candidates.map((n) => n.input[0]))];
  if (tables.length > 1)
    refuse(`several tables are indexed by input_ids (${listOf(tables)}); expected exactly one word-embedding table`);
  if (candidates.length > 1)
    refuse(`the word-embedding table ${tables[0]} is read by ${candidates.length} Gather nodes; expected exactly one`);
  const gather = candidates[0];
  // Later passes find the node by name, so an unnamed one gets the (unique) name of its output.
  if (!gather.name) gather.name = gather.output[0];
  const [vocabSize, hidden] = tensorDims(initializers.get(tables[0])!);
  return { initializer: tables[0], gatherNode: gather.name, vocabSize, hidden };
}

function describeTable(name: string, initializers: Map<string, TensorProto>): string {
  const table = initializers.get(name);
  if (!table) return `${name} (not an initializer)`;
  return `${name} (${DataType[table.dataType]} [${tensorDims(table).join(', ')}])`;
}
