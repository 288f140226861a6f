import { DataType, onnx, type TensorProto, toNumber } from './proto.js';

/** The shape of a tensor as plain numbers. */
export function tensorDims(tensor: TensorProto): number[] {
  return tensor.dims.map((d) => toNumber(d as number));
}

function rawView(tensor: TensorProto): Uint8Array | null {
  return tensor.rawData && tensor.rawData.length > 0 ? tensor.rawData : null;
}

/**
 * An aligned copy of raw tensor bytes. Decoded rawData is often a Node Buffer view into the whole file, whose
 * `.slice()` does not copy, so `.buffer` would start at the file's first byte.
 */
function alignedCopy(raw: Uint8Array): ArrayBuffer {
  const copy = new Uint8Array(raw.length);
  copy.set(raw);
  return copy.buffer;
}

/** Reads a FLOAT tensor, whether stored in raw_data or float_data; the result is a copy the caller may mutate. */
export function readFloat32(tensor: TensorProto): Float32Array {
  if (tensor.dataType !== DataType.FLOAT) {
    throw new Error(`tensor ${tensor.name} is ${DataType[tensor.dataType]}, expected FLOAT`);
  }
  const raw = rawView(tensor);
  if (raw) return new Float32Array(alignedCopy(raw), 0, raw.length / 4);
  return Float32Array.from(tensor.floatData);
}

function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

/** A FLOAT initializer stored as raw little-endian bytes. */
export function float32Tensor(name: string, dims: number[], data: Float32Array): TensorProto {
  return onnx.TensorProto.create({ name, dims, dataType: DataType.FLOAT, rawData: bytesOf(data) });
}

/** An INT8 initializer. */
export function int8Tensor(name: string, dims: number[], data: Int8Array): TensorProto {
  return onnx.TensorProto.create({ name, dims, dataType: DataType.INT8, rawData: bytesOf(data) });
}

/** A UINT8 initializer. */
export function uint8Tensor(name: string, dims: number[], data: Uint8Array): TensorProto {
  return onnx.TensorProto.create({ name, dims, dataType: DataType.UINT8, rawData: bytesOf(data) });
}

/** An INT64 initializer (shapes, axes, gather indices). */
export function int64Tensor(name: string, dims: number[], values: number[]): TensorProto {
  const data = BigInt64Array.from(values, (v) => BigInt(v));
  return onnx.TensorProto.create({ name, dims, dataType: DataType.INT64, rawData: bytesOf(data) });
}

/** Byte size of a tensor's payload as stored in the file. */
export function tensorByteLength(tensor: TensorProto): number {
  const raw = rawView(tensor);
  if (raw) return raw.length;
  return (
    tensor.floatData.length * 4 +
    tensor.int32Data.length * 4 +
    tensor.int64Data.length * 8 +
    tensor.doubleData.length * 8
  );
}

/** The value of a one-element int64/int32 tensor. */
export function integerScalar(tensor: TensorProto): number | undefined {
  if (tensorDims(tensor).reduce((a, b) => a * b, 1) !== 1) return undefined;
  const raw = tensor.rawData && tensor.rawData.length > 0 ? tensor.rawData : undefined;
  if (tensor.dataType === DataType.INT64) {
    if (raw) return Number(new DataView(raw.buffer, raw.byteOffset, raw.byteLength).getBigInt64(0, true));
    return tensor.int64Data.length === 1 ? Number(tensor.int64Data[0]) : undefined;
  }
  if (tensor.dataType === DataType.INT32) {
    if (raw) return new DataView(raw.buffer, raw.byteOffset, raw.byteLength).getInt32(0, true);
    return tensor.int32Data.length === 1 ? tensor.int32Data[0] : undefined;
  }
  return undefined;
}
