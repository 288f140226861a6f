/**
 * Finds a sequence classifier's head (a cross-encoder's pooler + classifier) so the quantizer can keep it fp32.
 *
 * Matches the first-token selection the head starts with, hidden[:, 0] as torch exports it: a Gather on axis 1 at the
 * constant index 0 (a Constant node or an initializer), from which `logits` is reached. The head is every MatMul and
 * Gemm downstream of that Gather. Refuses, naming what it expected, a graph where no such selection feeds `logits`.
 */
import { PackError } from '../errors.js';
import { consumerMap, getAttribute, initializerMap, producerMap } from '../onnx/graph.js';
import type { GraphProto, ModelProto, NodeProto, TensorProto } from '../onnx/proto.js';
import { integerScalar } from '../onnx/tensor.js';

export interface ClassifierHead {
  /** The Gather taking the first token's hidden state. */
  firstToken: string;
  /** Names of the head's linear layers (MatMul / Gemm), in graph order. */
  linearNodes: string[];
}

/**
 * @example findClassifierHead(model, 'logits') // { firstToken: '/pooler/Gather', linearNodes: ['/pooler/dense/Gemm', '/classifier/Gemm'] }
 */
export function findClassifierHead(model: ModelProto, logits: string): ClassifierHead {
  const graph = model.graph as GraphProto;
  const consumers = consumerMap(graph);
  const firstTokenGathers = (graph.node as NodeProto[]).filter((n) => isFirstTokenGather(graph, n));
  for (const gather of firstTokenGathers) {
    const downstream = descendants(gather, consumers);
    if (!downstream.some((n) => n.output.includes(logits))) continue;
    if (!gather.name) gather.name = gather.output[0];
    const linear = downstream.filter((n) => n.opType === 'MatMul' || n.opType === 'Gemm');
    linear.forEach((n) => {
      if (!n.name) n.name = n.output[0];
    });
    return { firstToken: gather.name, linearNodes: linear.map((n) => n.name) };
  }
  throw new PackError(
    'unsupported-graph',
    `no first-token selection feeds ${logits} (found ${firstTokenGathers.length} Gather on axis 1 at index 0); expected a classification head reading hidden[:, 0] (BERT's pooler, RoBERTa's classifier)`,
  );
}

function isFirstTokenGather(graph: GraphProto, node: NodeProto): boolean {
  if (node.opType !== 'Gather' || (getAttribute(node, 'axis') ?? 0) !== 1) return false;
  const index = node.input[1];
  const constant = producerMap(graph).get(index);
  const tensor =
    constant?.opType === 'Constant'
      ? (constant.attribute.find((a) => a.name === 'value')?.t as TensorProto | null | undefined)
      : initializerMap(graph).get(index);
  return tensor !== undefined && tensor !== null && integerScalar(tensor) === 0;
}

/** Nodes reachable from `start`'s outputs, in graph order of discovery. */
function descendants(start: NodeProto, consumers: Map<string, NodeProto[]>): NodeProto[] {
  const seen = new Set<NodeProto>();
  const queue = [...start.output];
  while (queue.length > 0) {
    for (const node of consumers.get(queue.shift() ?? '') ?? []) {
      if (seen.has(node)) continue;
      seen.add(node);
      queue.push(...node.output);
    }
  }
  return [...seen];
}
