/** Test helper: runs a BERT-family fixture graph on token ids and returns last_hidden_state. */
import type { ModelProto } from '../../src/onnx/proto.js';
import { encodeOnnxModel } from '../../src/onnx/write-model.js';
import { createWasmSession, ort } from '../../src/runtime/ort-node.js';

export interface HiddenStates {
  run(ids: number[]): Promise<Float32Array>;
  release(): Promise<void>;
}

/** Encodes `model` now (later in-place passes do not affect it) and opens a WASM session on it. */
export async function hiddenStates(model: ModelProto): Promise<HiddenStates> {
  const session = await createWasmSession(encodeOnnxModel(model));
  const int64 = (values: number[]) => new ort.Tensor('int64', BigInt64Array.from(values, BigInt), [1, values.length]);
  return {
    async run(ids) {
      const feeds: Record<string, ort.Tensor> = { input_ids: int64(ids), attention_mask: int64(ids.map(() => 1)) };
      if (session.inputNames.includes('token_type_ids')) feeds.token_type_ids = int64(ids.map(() => 0));
      const out = await session.run(feeds);
      return out.last_hidden_state!.data as Float32Array;
    },
    release: () => session.release(),
  };
}

export function maxAbsDifference(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Infinity;
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}
