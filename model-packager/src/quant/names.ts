import type { GraphProto, NodeProto, TensorProto } from '../onnx/proto.js';

/**
 * Hands out tensor names no graph element uses yet, so a pass can add nodes and initializers next to whatever an
 * exporter named things (optimum names are paths like `/encoder/layer.0/attention/self/query/MatMul_output_0`).
 *
 * @example
 *   const fresh = uniqueNamer(graph);
 *   fresh('pooling/mask'); // 'pooling/mask', or 'pooling/mask_1' if taken
 */
export function uniqueNamer(graph: GraphProto): (base: string) => string {
  const taken = new Set<string>();
  for (const node of graph.node as NodeProto[]) {
    taken.add(node.name ?? '');
    for (const name of [...node.input, ...node.output]) taken.add(name);
  }
  for (const t of graph.initializer as TensorProto[]) taken.add(t.name);
  for (const v of [...graph.input, ...graph.output, ...graph.valueInfo]) taken.add(v.name ?? '');
  return (base: string) => {
    let name = base;
    for (let i = 1; taken.has(name); i++) name = `${base}_${i}`;
    taken.add(name);
    return name;
  };
}
