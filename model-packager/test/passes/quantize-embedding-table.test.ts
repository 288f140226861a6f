import { describe, expect, it } from 'vitest';
import { PackError } from '../../src/errors.js';
import { consumerMap, initializerMap, makeNode, producerMap } from '../../src/onnx/graph.js';
import {
  DataType,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  onnx,
  type TensorProto,
} from '../../src/onnx/proto.js';
import { float32Tensor, tensorDims } from '../../src/onnx/tensor.js';
import { encodeOnnxModel } from '../../src/onnx/write-model.js';
import { quantizeEmbeddingTable } from '../../src/passes/quantize-embedding-table.js';
import { dequantizePerRow, quantizePerRow } from '../../src/quant/int8.js';
import { createWasmSession, ort } from '../../src/runtime/ort-node.js';

const VOCAB = 50;
const HIDDEN = 16;
const TABLE = 'embeddings.word_embeddings.weight';
const GATHER = '/embeddings/word_embeddings/Gather';

/** Rows of very different magnitudes, so per-row scales matter. */
function table(): Float32Array {
  return Float32Array.from(
    { length: VOCAB * HIDDEN },
    (_, i) => Math.sin(i * 12.9898) * 0.01 * (1 + (Math.floor(i / HIDDEN) % 7) ** 2),
  );
}

function valueInfo(name: string, elemType: number) {
  return onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType } } });
}

/** input_ids -> Gather(word table) -> + position row -> output; `tied` adds a second reader of the table. */
function embeddingModel(options: { tied?: boolean; axis?: number } = {}): ModelProto {
  const nodes = [
    makeNode('Gather', [TABLE, 'input_ids'], ['words'], { axis: options.axis ?? 0 }, GATHER),
    makeNode('Add', ['words', 'position_row'], ['embedded']),
  ];
  if (options.tied)
    nodes.push(makeNode('MatMul', ['embedded', 'table_t'], ['logits']), makeNode('Transpose', [TABLE], ['table_t']));
  const graph = onnx.GraphProto.create({
    name: 'embeddings',
    node: nodes,
    initializer: [
      float32Tensor(TABLE, [VOCAB, HIDDEN], table()),
      float32Tensor('position_row', [HIDDEN], new Float32Array(HIDDEN).fill(0.25)),
    ],
    input: [valueInfo('input_ids', DataType.INT64)],
    output: [valueInfo('embedded', DataType.FLOAT)],
  });
  return onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: '', version: 17 }], graph });
}

async function embed(model: ModelProto, ids: number[][]): Promise<Float32Array> {
  const session = await createWasmSession(encodeOnnxModel(model));
  const flat = BigInt64Array.from(ids.flat(), (v) => BigInt(v));
  const result = await session.run({ input_ids: new ort.Tensor('int64', flat, [ids.length, ids[0].length]) });
  await session.release();
  return result.embedded.data as Float32Array;
}

describe('quantizeEmbeddingTable', () => {
  const ids = [
    [1, 7, 49, 0],
    [3, 3, 20, 11],
  ];

  it('gathers exactly the dequantized rows, each within half a step of its row scale', async () => {
    const { model, report } = quantizeEmbeddingTable(embeddingModel(), { initializer: TABLE, gatherNode: GATHER });
    const actual = await embed(model, ids);
    const original = table();
    const q = quantizePerRow(original, VOCAB, HIDDEN);
    const dq = dequantizePerRow(q, VOCAB, HIDDEN);
    ids.flat().forEach((id, t) => {
      for (let h = 0; h < HIDDEN; h++) {
        const got = actual[t * HIDDEN + h];
        expect(got).toBe(Math.fround(dq[id * HIDDEN + h] + 0.25));
        expect(Math.abs(got - 0.25 - original[id * HIDDEN + h])).toBeLessThanOrEqual(q.scales[id] / 2 + 1e-6);
      }
    });
    expect(report).toMatchObject({
      tensors: 1,
      bytesBefore: VOCAB * HIDDEN * 4,
      bytesAfter: VOCAB * HIDDEN + VOCAB * 4,
    });
    expect(report.maxAbsError).toBeGreaterThan(0);
  });

  it('never dequantizes the whole table: the int8 table is read only by a Gather on the ids, and the Cast follows it', () => {
    const { model } = quantizeEmbeddingTable(embeddingModel(), { initializer: TABLE, gatherNode: GATHER });
    const graph = model.graph as GraphProto;
    const inits = initializerMap(graph);
    expect(inits.has(TABLE)).toBe(false);
    const int8 = [...inits.values()].filter((t) => t.dataType === DataType.INT8);
    expect(int8).toHaveLength(1);
    expect(tensorDims(int8[0])).toEqual([VOCAB, HIDDEN]);
    const readers = consumerMap(graph).get(int8[0].name)!;
    expect(readers.map((n) => [n.opType, n.input[1]])).toEqual([['Gather', 'input_ids']]);
    const producers = producerMap(graph);
    for (const node of graph.node as NodeProto[]) {
      if (node.opType !== 'Cast' && node.opType !== 'DequantizeLinear' && node.opType !== 'Mul') continue;
      for (const input of node.input) {
        // No float conversion reads a whole [V, H] table: every input is a gathered tensor or a small constant.
        const init = inits.get(input);
        if (init) expect(tensorDims(init).reduce((a, b) => a * b, 1)).toBeLessThan(VOCAB * HIDDEN);
      }
    }
    const cast = (graph.node as NodeProto[]).find((n) => n.opType === 'Cast')!;
    expect(producers.get(cast.input[0])?.opType).toBe('Gather');
  });

  it('refuses a missing Gather, a non-row Gather and a table shared with another layer', () => {
    expect(() => quantizeEmbeddingTable(embeddingModel(), { initializer: TABLE, gatherNode: 'nope' })).toThrow(
      /expected a Gather node nope/,
    );
    expect(() =>
      quantizeEmbeddingTable(embeddingModel({ axis: 1 }), { initializer: TABLE, gatherNode: GATHER }),
    ).toThrow(/axis 1/);
    const tied = () =>
      quantizeEmbeddingTable(embeddingModel({ tied: true }), { initializer: TABLE, gatherNode: GATHER });
    expect(tied).toThrow(PackError);
    expect(tied).toThrow(/read by 2 nodes/);
  });

  it('leaves the other tables in fp32', () => {
    const { model } = quantizeEmbeddingTable(embeddingModel(), { initializer: TABLE, gatherNode: GATHER });
    const position = initializerMap(model.graph as GraphProto).get('position_row') as TensorProto;
    expect(position.dataType).toBe(DataType.FLOAT);
  });
});
