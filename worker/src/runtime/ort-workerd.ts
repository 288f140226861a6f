/**
 * onnxruntime-web's WASM backend inside workerd. workerd forbids compiling wasm from bytes, and ORT cannot find its own
 * script URL there, so: one thread, no proxy worker, a zero-length `wasmBinary` (ORT then uses its inlined glue and
 * skips URL logic), and the glue's `WebAssembly.instantiate(bytes, imports)` call is answered with the precompiled
 * module wrangler imports for us. This leans on ORT internals; the ORT version is pinned exactly and the workerd tests
 * run real inference. See docs/workerd-runtime.md.
 */

import ortWasm from 'onnxruntime-web/ort-wasm-simd-threaded.wasm';
import * as ort from 'onnxruntime-web/wasm';
import type { OrtRuntime } from '../../../bundle-runtime/ort-engine.js';

const memories = new Set<WebAssembly.Memory>();
let prepared = false;

function rememberMemories(instance: WebAssembly.Instance, imports?: WebAssembly.Imports): void {
  for (const value of Object.values(instance.exports)) if (value instanceof WebAssembly.Memory) memories.add(value);
  for (const namespace of Object.values(imports ?? {})) {
    for (const value of Object.values(namespace as Record<string, unknown>)) {
      if (value instanceof WebAssembly.Memory) memories.add(value);
    }
  }
}

/** Patches the environment on first use rather than at import, so isolate startup stays cheap. */
function prepare(): void {
  if (prepared) return;
  prepared = true;
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  ort.env.wasm.wasmBinary = new Uint8Array(0);
  const instantiate = WebAssembly.instantiate.bind(WebAssembly) as (...args: unknown[]) => Promise<unknown>;
  WebAssembly.instantiate = (async (source: unknown, imports?: WebAssembly.Imports) => {
    const isPlaceholder = ArrayBuffer.isView(source)
      ? source.byteLength === 0
      : source instanceof ArrayBuffer && source.byteLength === 0;
    if (!isPlaceholder) return instantiate(source, imports);
    const instance = (await instantiate(ortWasm, imports)) as WebAssembly.Instance;
    rememberMemories(instance, imports);
    return { instance, module: ortWasm };
  }) as typeof WebAssembly.instantiate;
}

/** ORT set up for workerd, as the pipeline's {@link OrtRuntime}. */
export const workerdOrt: OrtRuntime = {
  Tensor: ort.Tensor,
  createSession(model: Uint8Array) {
    prepare();
    return ort.InferenceSession.create(model, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  },
};

/** Bytes reserved by ORT's WASM memory in this isolate (0 until the first model load). */
export function wasmHeapBytes(): number {
  let total = 0;
  for (const memory of memories) total += memory.buffer.byteLength;
  return total;
}
