/**
 * The ONNX protobuf schema, from the maintained onnx-proto package (protobufjs static code).
 * Everything else in the packager imports `onnx` from here, never from the package directly.
 */
import onnxProto from 'onnx-proto';

export const onnx = onnxProto.onnx;
export type ModelProto = onnxProto.onnx.ModelProto;
export type GraphProto = onnxProto.onnx.GraphProto;
export type NodeProto = onnxProto.onnx.NodeProto;
export type TensorProto = onnxProto.onnx.TensorProto;
export type ValueInfoProto = onnxProto.onnx.ValueInfoProto;
export type AttributeProto = onnxProto.onnx.AttributeProto;
export type IGraphProto = onnxProto.onnx.IGraphProto;

export const DataType = onnxProto.onnx.TensorProto.DataType;
export const AttributeType = onnxProto.onnx.AttributeProto.AttributeType;

/** protobufjs decodes int64 fields as Long objects (or numbers); the packager only needs safe integers. */
export function toNumber(value: number | { toNumber(): number } | null | undefined): number {
  if (value === null || value === undefined) return 0;
  return typeof value === 'number' ? value : value.toNumber();
}
