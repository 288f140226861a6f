import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PackError } from '../../../src/errors.js';
import { makeNode } from '../../../src/onnx/graph.js';
import { DataType, onnx } from '../../../src/onnx/proto.js';
import { encodeOnnxModel } from '../../../src/onnx/write-model.js';
import { appendDenseHead } from '../../../src/passes/append-dense-head.js';
import {
  applyDenseHead,
  type DenseHead,
  readDenseModule,
  writeDenseModule,
} from '../../../src/readers/dense-module.js';
import { createWasmSession, ort } from '../../../src/runtime/ort-node.js';

const IN = 3;
const OUT = 2;
/** [in, out]: a non-symmetric matrix so a transposition mistake shows. */
const HEAD: DenseHead = {
  inFeatures: IN,
  outFeatures: OUT,
  weight: Float32Array.from([1, -2, 0.5, 3, -1, 0.25]),
  bias: Float32Array.from([0.1, -0.3]),
  activation: 'tanh',
};

/** A graph whose pooled output `sentence_embedding` is its input, standing in for appendPooling's result. */
function pooledGraph() {
  const info = (name: string) =>
    onnx.ValueInfoProto.create({
      name,
      type: { tensorType: { elemType: DataType.FLOAT, shape: { dim: [{ dimParam: 'batch' }, { dimValue: IN }] } } },
    });
  const graph = onnx.GraphProto.create({
    name: 'pooled',
    node: [makeNode('Identity', ['pooled_in'], ['sentence_embedding'])],
    input: [info('pooled_in')],
    output: [info('sentence_embedding')],
  });
  return onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: '', version: 17 }], graph });
}

describe('Dense head (USE: dense 512x512 + tanh after pooling)', () => {
  it('round-trips through the sentence-transformers Dense layout (config.json + model.safetensors)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dense-'));
    try {
      await writeDenseModule(join(dir, '2_Dense'), HEAD);
      const read = await readDenseModule(join(dir, '2_Dense'));
      expect(read).toMatchObject({ inFeatures: IN, outFeatures: OUT, activation: 'tanh' });
      expect(Array.from(read.weight)).toEqual(Array.from(HEAD.weight));
      expect(Array.from(read.bias)).toEqual(Array.from(HEAD.bias));
      await expect(readDenseModule(join(dir, 'nope'))).rejects.toBeInstanceOf(PackError);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('computes tanh(x · W + b), then L2-normalises, in TypeScript and as appended ONNX nodes alike', async () => {
    const x = [0.5, -1, 2];
    const expected = [Math.tanh(0.5 * 1 - 1 * 0.5 + 2 * -1 + 0.1), Math.tanh(0.5 * -2 - 1 * 3 + 2 * 0.25 - 0.3)];
    const norm = Math.hypot(...expected);
    const inTs = applyDenseHead(x, HEAD, true);
    for (const [i, v] of expected.entries()) expect(inTs[i]).toBeCloseTo(v / norm, 6);

    const model = appendDenseHead(pooledGraph(), HEAD, { normalize: true });
    expect(model.graph!.output!.map((o) => o.name)).toEqual(['sentence_embedding']);
    const session = await createWasmSession(encodeOnnxModel(model));
    const out = await session.run({
      pooled_in: new ort.Tensor('float32', Float32Array.from([...x, 0, 0, 0]), [2, IN]),
    });
    const data = out.sentence_embedding.data as Float32Array;
    expect(out.sentence_embedding.dims).toEqual([2, OUT]);
    for (const [i, v] of expected.entries()) expect(data[i]).toBeCloseTo(v / norm, 6);
    // The all-zero pooled row gives tanh(bias), normalised (what USE returns for an empty text).
    const biasNorm = Math.hypot(Math.tanh(0.1), Math.tanh(-0.3));
    expect(data[2]).toBeCloseTo(Math.tanh(0.1) / biasNorm, 6);
    await session.release();
  });

  it('refuses a graph without a pooled sentence_embedding output', () => {
    const model = pooledGraph();
    model.graph!.output![0].name = 'other';
    expect(() => appendDenseHead(model, HEAD, { normalize: false })).toThrow(/append pooling first/);
  });
});
