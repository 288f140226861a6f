import { type ModelProto, onnx } from './proto.js';

/** Serialises a model to ONNX bytes (all tensors inline). */
export function encodeOnnxModel(model: ModelProto): Uint8Array {
  return onnx.ModelProto.encode(model).finish();
}
