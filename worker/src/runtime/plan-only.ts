/**
 * The engines of the workers built without ONNX Runtime for the plan engine (index-plan.ts, index-kv-plan.ts): the
 * plan's kernels, ONNX Runtime's refusal (a 503 naming why), and the plan engine's WASM memory for /info.
 */
import type { KvAppRuntime } from '../kv-app.js';
import { planOnlyOrt } from './no-ort.js';
import { planHeapBytes, planKernels } from './plan-kernels.js';

/** @example createApp({ bundle: planDefaultBundle, ...planOnlyRuntime }) */
export const planOnlyRuntime: KvAppRuntime = {
  ort: planOnlyOrt,
  planKernels: planKernels(),
  wasmHeapBytes: planHeapBytes,
};
