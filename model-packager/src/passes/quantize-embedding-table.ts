/**
 * Pass: int8 word-embedding table.
 *
 * Matches the word-embedding Gather (axis 0) reading a 2-D float32 initializer [V, H] that nothing else reads.
 * The table becomes int8 with one scale per row (per token), and the lookup becomes
 *   Gather(table_i8, ids) -> Cast float -> Mul(Gather(scale[V, 1], ids))
 * so each call dequantizes only the rows it gathers ([batch, sequence, H]), never the whole table: the isolate keeps
 * V * H bytes, not 4 * V * H. Position and token-type tables are left as they are.
 */
import { PackError } from '../errors.js';
import { consumerMap, dropUnusedInitializers, getAttribute, initializerMap, makeNode } from '../onnx/graph.js';
import { DataType, type GraphProto, type ModelProto, type NodeProto, type TensorProto } from '../onnx/proto.js';
import { float32Tensor, int8Tensor, readFloat32, tensorDims } from '../onnx/tensor.js';
import { dequantizePerRow, maxAbsDifference, quantizePerRow } from '../quant/int8.js';
import { uniqueNamer } from '../quant/names.js';
import type { QuantizeReport } from './quantize-matmul-weights.js';

/**
 * Quantizes the word-embedding table to int8 with per-row scales, dequantizing only gathered rows at run time.
 *
 * @example
 *   const { report } = quantizeEmbeddingTable(model, {
 *     initializer: 'embeddings.word_embeddings.weight',
 *     gatherNode: '/embeddings/word_embeddings/Gather',
 *   });
 */
export function quantizeEmbeddingTable(
  model: ModelProto,
  embedding: { initializer: string; gatherNode: string },
): { model: ModelProto; report: QuantizeReport } {
  const graph = model.graph as GraphProto | null | undefined;
  if (!graph) throw new PackError('corrupt-onnx', 'quantizeEmbeddingTable: the model has no graph');
  const nodes = graph.node as NodeProto[];
  const gather = nodes.find((n) => n.name === embedding.gatherNode);
  if (gather?.opType !== 'Gather' || gather.input[0] !== embedding.initializer) {
    throw new PackError(
      'unsupported-graph',
      `quantizeEmbeddingTable: expected a Gather node ${embedding.gatherNode} reading ${embedding.initializer}, found ${gather ? `${gather.opType} reading ${gather.input[0]}` : 'no such node'}`,
    );
  }
  if ((getAttribute(gather, 'axis') ?? 0) !== 0) {
    throw new PackError(
      'unsupported-graph',
      `quantizeEmbeddingTable: Gather ${gather.name} gathers along axis ${getAttribute(gather, 'axis')}, expected axis 0 (rows)`,
    );
  }
  const table = initializerMap(graph).get(embedding.initializer);
  const dims = table ? tensorDims(table) : [];
  if (!table || table.dataType !== DataType.FLOAT || dims.length !== 2) {
    throw new PackError(
      'unsupported-graph',
      `quantizeEmbeddingTable: ${embedding.initializer} is ${table ? `${DataType[table.dataType]} [${dims.join(', ')}]` : 'not an initializer'}, expected a float32 [vocab, hidden] table`,
    );
  }
  const readers = consumerMap(graph).get(embedding.initializer) ?? [];
  if (readers.length !== 1 || graph.output.some((o) => o.name === embedding.initializer)) {
    throw new PackError(
      'unsupported-graph',
      `quantizeEmbeddingTable: ${embedding.initializer} is read by ${readers.length} nodes (${readers.map((n) => n.name).join(', ')}); a table shared with other layers (tied weights) is not supported`,
    );
  }

  const [vocab, hidden] = dims;
  const data = readFloat32(table);
  const q = quantizePerRow(data, vocab, hidden);
  const fresh = uniqueNamer(graph);
  const values = fresh(`${embedding.initializer}_quantized`);
  const scales = fresh(`${embedding.initializer}_scale`);
  const ids = gather.input[1];
  const rows = fresh(`${gather.name}_int8_rows`);
  const rowsFloat = fresh(`${gather.name}_rows_float`);
  const rowScales = fresh(`${gather.name}_row_scales`);
  const lookup = [
    makeNode('Gather', [values, ids], [rows], { axis: 0 }),
    makeNode('Cast', [rows], [rowsFloat], { to: DataType.FLOAT }),
    // Scales stored as [V, 1] so the gathered [batch, sequence, 1] broadcasts over hidden without an Unsqueeze.
    makeNode('Gather', [scales, ids], [rowScales], { axis: 0 }),
    makeNode('Mul', [rowsFloat, rowScales], [gather.output[0]]),
  ];
  const at = nodes.indexOf(gather);
  graph.node = [...nodes.slice(0, at), ...lookup, ...nodes.slice(at + 1)];
  graph.initializer = [
    ...(graph.initializer as TensorProto[]),
    int8Tensor(values, [vocab, hidden], q.values),
    float32Tensor(scales, [vocab, 1], q.scales),
  ];
  dropUnusedInitializers(graph);

  const report: QuantizeReport = {
    tensors: 1,
    bytesBefore: data.length * 4,
    bytesAfter: q.values.length + q.scales.length * 4,
    maxAbsError: maxAbsDifference(data, dequantizePerRow(q, vocab, hidden)),
  };
  return { model, report };
}
