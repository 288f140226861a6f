/**
 * onnxruntime-web's WASM backend in Node, set up the way the worker runs it (one thread, no proxy worker), plus a
 * reading of the WASM heap so the packager can measure a bundle's memory against the Workers isolate limit.
 */
import * as ort from 'onnxruntime-web';
import type { OrtRuntime } from '../../../bundle-runtime/ort-engine.js';

ort.env.wasm.numThreads = 1;
ort.env.wasm.proxy = false;

const memories = new Set<WebAssembly.Memory>();
const originalInstantiate = WebAssembly.instantiate;

function rememberMemories(instance: WebAssembly.Instance, imports?: WebAssembly.Imports): void {
  for (const value of Object.values(instance.exports)) if (value instanceof WebAssembly.Memory) memories.add(value);
  for (const ns of Object.values(imports ?? {})) {
    for (const value of Object.values(ns as Record<string, unknown>))
      if (value instanceof WebAssembly.Memory) memories.add(value);
  }
}

// ORT does not expose its heap; watching instantiation is the one way to read it without patching ORT itself.
WebAssembly.instantiate = (async (source: BufferSource | WebAssembly.Module, imports?: WebAssembly.Imports) => {
  const result = (await originalInstantiate(source as BufferSource, imports)) as
    | WebAssembly.Instance
    | WebAssembly.WebAssemblyInstantiatedSource;
  rememberMemories('instance' in result ? result.instance : result, imports);
  return result;
}) as typeof WebAssembly.instantiate;

export { ort };

/** Bytes currently reserved by onnxruntime-web's WASM memory (0 before the runtime first loads). */
export function wasmHeapBytes(): number {
  let total = 0;
  for (const memory of memories) total += memory.buffer.byteLength;
  return total;
}

/** Creates a single-threaded WASM inference session from ONNX bytes. */
export function createWasmSession(modelBytes: Uint8Array, options: ort.InferenceSession.SessionOptions = {}) {
  return ort.InferenceSession.create(modelBytes, {
    executionProviders: ['wasm'],
    graphOptimizationLevel: 'all',
    ...options,
  });
}

/** onnxruntime-web in Node as bundle-runtime's {@link OrtRuntime}, set up as the worker runs it. */
export const nodeOrt: OrtRuntime = { Tensor: ort.Tensor, createSession: (model) => createWasmSession(model) };
