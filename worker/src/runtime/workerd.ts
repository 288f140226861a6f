/**
 * The engines of the full worker (index.ts, index-kv.ts) in workerd: ONNX Runtime's WASM backend and the plan engine's
 * kernels, with the bytes of both engines' WASM memories for /info.
 */
import type { KvAppRuntime } from '../kv-app.js';
import { wasmHeapBytes as ortHeapBytes, workerdOrt } from './ort-workerd.js';
import { planHeapBytes, planKernels } from './plan-kernels.js';

/** @example createApp({ bundle: defaultBundle, ...workerdRuntime }) */
export const workerdRuntime: KvAppRuntime = {
  ort: workerdOrt,
  planKernels: planKernels(),
  wasmHeapBytes: () => ortHeapBytes() + planHeapBytes(),
};
