import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PackError } from '../../src/errors.js';
import { buildBertModel, FIXTURE_PRESETS } from '../../src/fixtures/bert-fixture.js';
import { DataType, onnx, type TensorProto } from '../../src/onnx/proto.js';
import { decodeOnnxModel, readOnnxModel } from '../../src/onnx/read-model.js';
import { readFloat32 } from '../../src/onnx/tensor.js';
import { encodeOnnxModel } from '../../src/onnx/write-model.js';

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'edge-embed-onnx-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('ONNX read/write', () => {
  it('round-trips a model byte for byte and keeps every node and weight', async () => {
    const model = buildBertModel(FIXTURE_PRESETS.tiny, 30522);
    const bytes = encodeOnnxModel(model);
    const path = join(work, 'model.onnx');
    await writeFile(path, bytes);
    const again = await readOnnxModel(path);
    expect(again.graph!.node!.map((n) => n.opType)).toEqual(model.graph!.node!.map((n) => n.opType));
    // Every tensor, not just the first: decoded raw data are views into the file buffer at non-zero offsets.
    const floats = (m: typeof model) =>
      (m.graph!.initializer as TensorProto[]).filter((t) => t.dataType === DataType.FLOAT);
    expect(floats(again).map((t) => t.name)).toEqual(floats(model).map((t) => t.name));
    const bytesOf = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    const mismatched = floats(model).filter(
      (before, i) => !bytesOf(readFloat32(floats(again)[i])).equals(bytesOf(readFloat32(before))),
    );
    expect(mismatched.map((t) => t.name)).toEqual([]);
    expect(Buffer.from(encodeOnnxModel(again)).equals(Buffer.from(bytes))).toBe(true);
  });

  it('reads tensors stored as external data next to the model', async () => {
    const dir = join(work, 'external');
    const model = buildBertModel(FIXTURE_PRESETS.tiny, 30522);
    const table = model.graph!.initializer![0] as TensorProto;
    const values = readFloat32(table);
    const raw = Buffer.from(values.buffer, values.byteOffset, values.byteLength);
    const padded = Buffer.concat([Buffer.alloc(64), raw]);
    table.rawData = new Uint8Array();
    table.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    table.externalData = [
      { key: 'location', value: 'weights.bin' },
      { key: 'offset', value: '64' },
      { key: 'length', value: String(raw.length) },
    ];
    await import('node:fs/promises').then((fs) => fs.mkdir(dir, { recursive: true }));
    await writeFile(join(dir, 'model.onnx'), encodeOnnxModel(model));
    await writeFile(join(dir, 'weights.bin'), padded);
    const read = await readOnnxModel(join(dir, 'model.onnx'));
    const restored = read.graph!.initializer!.find((t) => t.name === table.name) as TensorProto;
    expect(restored.dataLocation).toBe(onnx.TensorProto.DataLocation.DEFAULT);
    expect(
      Buffer.from(readFloat32(restored).buffer).equals(
        Buffer.from(values.buffer, values.byteOffset, values.byteLength),
      ),
    ).toBe(true);
  });

  it('refuses external data that is missing or points outside the model folder', async () => {
    const dir = join(work, 'external-bad');
    await import('node:fs/promises').then((fs) => fs.mkdir(dir, { recursive: true }));
    const model = buildBertModel(FIXTURE_PRESETS.tiny, 30522);
    const table = model.graph!.initializer![0] as TensorProto;
    table.rawData = new Uint8Array();
    table.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    table.externalData = [{ key: 'location', value: 'missing.bin' }];
    await writeFile(join(dir, 'model.onnx'), encodeOnnxModel(model));
    await expect(readOnnxModel(join(dir, 'model.onnx'))).rejects.toThrow(/external data file .*missing\.bin/);
    table.externalData = [{ key: 'location', value: '../../etc/passwd' }];
    await writeFile(join(dir, 'model.onnx'), encodeOnnxModel(model));
    await expect(readOnnxModel(join(dir, 'model.onnx'))).rejects.toThrow(/points outside the model folder/);
  });

  it('refuses bytes that are not an ONNX model with a corrupt-onnx error', () => {
    const attempt = () => decodeOnnxModel(new TextEncoder().encode('definitely not protobuf'), 'x.onnx');
    expect(attempt).toThrow(PackError);
    expect(attempt).toThrow(/x\.onnx is not a valid ONNX file/);
    expect(() => decodeOnnxModel(new Uint8Array(), 'empty.onnx')).toThrow(/no graph nodes/);
  });
});
