/**
 * Appends a sentence-transformers Dense module (and the L2 normalisation that follows it) after pooling, as ONNX
 * nodes, so models such as Universal Sentence Encoder keep their post-pooling layers inside the bundle's graph.
 */
import { SENTENCE_EMBEDDING_OUTPUT } from '../../../bundle-format/manifest.js';
import { PackError } from '../errors.js';
import { makeNode } from '../onnx/graph.js';
import { DataType, type GraphProto, type ModelProto, type NodeProto, onnx } from '../onnx/proto.js';
import { float32Tensor, int64Tensor } from '../onnx/tensor.js';
import { uniqueNamer } from '../quant/names.js';
import type { DenseHead } from '../readers/dense-module.js';

/**
 * Pass: appends a Dense module (MatMul + Add + activation) and optionally L2 normalisation after a graph whose output
 * is the pooled, not yet normalised `sentence_embedding` (appendPooling with normalize: false). The output keeps the
 * name `sentence_embedding`.
 *
 * @example
 *   appendPooling(model, { pooling: 'mean', normalize: false, hiddenOutput: 'last_hidden_state' });
 *   appendDenseHead(model, await readDenseModule('use-lite/2_Dense'), { normalize: true });
 */
export function appendDenseHead(model: ModelProto, head: DenseHead, options: { normalize: boolean }): ModelProto {
  const graph = model.graph as GraphProto | null | undefined;
  const producer = (graph?.node as NodeProto[] | undefined)?.find((n) => n.output.includes(SENTENCE_EMBEDDING_OUTPUT));
  if (!graph || !producer || !graph.output.some((o) => o.name === SENTENCE_EMBEDDING_OUTPUT)) {
    throw new PackError(
      'unsupported-graph',
      `appendDenseHead: the graph has no ${SENTENCE_EMBEDDING_OUTPUT} output; append pooling first`,
    );
  }
  const fresh = uniqueNamer(graph);
  const pooled = fresh('dense/pooled');
  producer.output = producer.output.map((o) => (o === SENTENCE_EMBEDDING_OUTPUT ? pooled : o));
  const weight = fresh('dense/linear.weight');
  const bias = fresh('dense/linear.bias');
  graph.initializer.push(
    float32Tensor(weight, [head.inFeatures, head.outFeatures], head.weight),
    float32Tensor(bias, [head.outFeatures], head.bias),
  );
  const nodes: NodeProto[] = [];
  const op = (opType: string, inputs: string[], output: string = fresh(`dense/${opType}`), attributes = {}) => {
    nodes.push(makeNode(opType, inputs, [output], attributes, fresh(`dense/${opType}_node`)));
    return output;
  };
  const last = (name: string, final: boolean) => (final ? SENTENCE_EMBEDDING_OUTPUT : fresh(name));
  const projected = op(
    'Add',
    [op('MatMul', [pooled, weight]), bias],
    head.activation === 'identity' && !options.normalize ? SENTENCE_EMBEDDING_OUTPUT : undefined,
  );
  const activated =
    head.activation === 'tanh' ? op('Tanh', [projected], last('dense/Tanh', !options.normalize)) : projected;
  if (options.normalize) {
    const axes = fresh('dense/axes');
    const minNorm = fresh('dense/min_norm');
    graph.initializer.push(int64Tensor(axes, [1], [-1]), float32Tensor(minNorm, [], Float32Array.of(1e-12)));
    // ReduceSum takes axes as an input from opset 13 on; ReduceL2 only from 18.
    const norm = op('Sqrt', [op('ReduceSum', [op('Mul', [activated, activated]), axes], undefined, { keepdims: 1 })]);
    op('Div', [activated, op('Max', [norm, minNorm])], SENTENCE_EMBEDDING_OUTPUT);
  }
  graph.node.push(...nodes);
  graph.output = [
    onnx.ValueInfoProto.create({
      name: SENTENCE_EMBEDDING_OUTPUT,
      type: {
        tensorType: {
          elemType: DataType.FLOAT,
          shape: { dim: [{ dimParam: 'batch_size' }, { dimValue: head.outFeatures }] },
        },
      },
    }),
  ];
  return model;
}
