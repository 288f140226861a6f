import { describe, expect, it } from 'vitest';
import { type PoolingMode, SENTENCE_EMBEDDING_OUTPUT } from '../../../bundle-format/manifest.js';
import { PackError } from '../../src/errors.js';
import { makeNode } from '../../src/onnx/graph.js';
import { DataType, type GraphProto, type ModelProto, type NodeProto, onnx } from '../../src/onnx/proto.js';
import { int64Tensor } from '../../src/onnx/tensor.js';
import { encodeOnnxModel } from '../../src/onnx/write-model.js';
import { appendPooling } from '../../src/passes/append-pooling.js';
import { createWasmSession, ort } from '../../src/runtime/ort-node.js';

const BATCH = 3;
const SEQ = 5;
const HIDDEN = 4;
/** Padding at the end of rows 0 and 2; padded positions hold large values so an unmasked pooling shows. */
const MASK = [
  [1, 1, 1, 0, 0],
  [1, 1, 1, 1, 1],
  [1, 0, 0, 0, 0],
];
const HIDDEN_STATES = Float32Array.from({ length: BATCH * SEQ * HIDDEN }, (_, i) => {
  const token = Math.floor(i / HIDDEN) % SEQ;
  const row = Math.floor(i / (SEQ * HIDDEN));
  return MASK[row][token] ? Math.sin(i * 1.7) * 3 - 0.5 : 100 + i;
});

function valueInfo(name: string, elemType: number, dims: (number | string)[]) {
  const dim = dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d }));
  return onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType, shape: { dim } } } });
}

/** An "encoder" that passes hidden states through, plus a pooler branch that pooling must make dead. */
function encoderModel(opset: number): ModelProto {
  const graph = onnx.GraphProto.create({
    name: 'encoder',
    node: [
      makeNode('Identity', ['hidden_in'], ['last_hidden_state']),
      makeNode('Gather', ['last_hidden_state', 'pooler_index'], ['pooler_first'], { axis: 1 }),
      makeNode('Tanh', ['pooler_first'], ['pooler_output']),
    ],
    initializer: [int64Tensor('pooler_index', [], [0])],
    input: [
      valueInfo('hidden_in', DataType.FLOAT, ['batch', 'sequence', HIDDEN]),
      valueInfo('attention_mask', DataType.INT64, ['batch', 'sequence']),
    ],
    output: [
      valueInfo('last_hidden_state', DataType.FLOAT, ['batch', 'sequence', HIDDEN]),
      valueInfo('pooler_output', DataType.FLOAT, ['batch', HIDDEN]),
    ],
  });
  return onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: '', version: opset }], graph });
}

/** sentence-transformers' pooling, written out in plain TS. */
function referencePooling(mode: PoolingMode, normalize: boolean): number[][] {
  return MASK.map((mask, b) => {
    const at = (s: number, h: number) => HIDDEN_STATES[(b * SEQ + s) * HIDDEN + h];
    const count = mask.reduce((a, m) => a + m, 0);
    let v = Array.from({ length: HIDDEN }, (_, h) => {
      if (mode === 'cls') return at(0, h);
      if (mode === 'max') return Math.max(...mask.map((m, s) => (m ? at(s, h) : -1e9)));
      const sum = mask.reduce((a, m, s) => a + m * at(s, h), 0);
      return mode === 'mean' ? sum / count : sum / Math.sqrt(count);
    });
    if (normalize) {
      const norm = Math.hypot(...v);
      v = v.map((x) => x / Math.max(norm, 1e-12));
    }
    return v;
  });
}

async function pool(model: ModelProto): Promise<number[][]> {
  const session = await createWasmSession(encodeOnnxModel(model));
  expect(session.outputNames).toEqual([SENTENCE_EMBEDDING_OUTPUT]);
  const result = await session.run({
    hidden_in: new ort.Tensor('float32', HIDDEN_STATES, [BATCH, SEQ, HIDDEN]),
    attention_mask: new ort.Tensor('int64', BigInt64Array.from(MASK.flat(), BigInt), [BATCH, SEQ]),
  });
  await session.release();
  const out = result[SENTENCE_EMBEDDING_OUTPUT];
  expect(out.dims).toEqual([BATCH, HIDDEN]);
  const data = Array.from(out.data as Float32Array);
  return MASK.map((_, b) => data.slice(b * HIDDEN, (b + 1) * HIDDEN));
}

describe('appendPooling', () => {
  // Opset 12: axes as attributes; 17: ReduceSum/Unsqueeze axes as inputs; 18: ReduceMax axes as an input too.
  for (const opset of [12, 17, 18]) {
    for (const pooling of ['mean', 'cls', 'max', 'mean_sqrt_len'] as const) {
      for (const normalize of [false, true]) {
        it(`opset ${opset}: ${pooling}${normalize ? ' + normalize' : ''} matches the reference with padding present`, async () => {
          const model = appendPooling(encoderModel(opset), { pooling, normalize, hiddenOutput: 'last_hidden_state' });
          const actual = await pool(model);
          const expected = referencePooling(pooling, normalize);
          for (let b = 0; b < BATCH; b++) {
            for (let h = 0; h < HIDDEN; h++) expect(actual[b][h]).toBeCloseTo(expected[b][h], 5);
          }
          if (normalize) for (const v of actual) expect(Math.hypot(...v)).toBeCloseTo(1, 6);
        });
      }
    }
  }

  it('makes sentence_embedding [batch, hidden] the only output and drops the pooler branch', () => {
    const model = appendPooling(encoderModel(17), {
      pooling: 'mean',
      normalize: true,
      hiddenOutput: 'last_hidden_state',
    });
    const graph = model.graph as GraphProto;
    expect(graph.output.map((o) => o.name)).toEqual([SENTENCE_EMBEDDING_OUTPUT]);
    const dims = graph.output[0].type!.tensorType!.shape!.dim!.map((d) => d.dimParam || Number(d.dimValue));
    expect(dims).toEqual(['batch', HIDDEN]);
    const ops = (graph.node as NodeProto[]).map((n) => n.opType);
    expect(ops).not.toContain('Tanh');
    expect(graph.initializer!.map((t) => t.name)).not.toContain('pooler_index');
  });

  it('refuses a graph without attention_mask, an unknown hidden tensor, and a second application', () => {
    const noMask = encoderModel(17);
    noMask.graph!.input = noMask.graph!.input!.filter((i) => i.name !== 'attention_mask');
    expect(() =>
      appendPooling(noMask, { pooling: 'mean', normalize: false, hiddenOutput: 'last_hidden_state' }),
    ).toThrow(PackError);
    expect(() =>
      appendPooling(noMask, { pooling: 'mean', normalize: false, hiddenOutput: 'last_hidden_state' }),
    ).toThrow(/no attention_mask input/);
    expect(() =>
      appendPooling(encoderModel(17), { pooling: 'mean', normalize: false, hiddenOutput: 'encoder_out' }),
    ).toThrow(/no tensor named encoder_out/);
    const once = appendPooling(encoderModel(17), {
      pooling: 'cls',
      normalize: false,
      hiddenOutput: 'last_hidden_state',
    });
    expect(() => appendPooling(once, { pooling: 'cls', normalize: false, hiddenOutput: 'last_hidden_state' })).toThrow(
      /appended twice/,
    );
  });
});
