/**
 * The plan engine's int8 kernels for workerd: engine/dist/gemm-relaxed-exact.wasm (made by `npm run build`), imported
 * through wrangler's CompiledWasm rule as a module, since workerd cannot compile wasm from bytes at run time. workerd
 * runs relaxed SIMD correctly, and this build's dot products are exact int8 (bench:gemm checks it bit for bit there).
 * The engine instantiates the module itself; the memories of those instances are remembered (by wrapping
 * WebAssembly.instantiate for this one module, as runtime/ort-workerd.ts does for ORT's) so /info can report them.
 */
import kernels from '../../../engine/dist/gemm-relaxed-exact.wasm';

const memories = new Set<WebAssembly.Memory>();
let watching = false;

function watchInstances(): void {
  if (watching) return;
  watching = true;
  const instantiate = WebAssembly.instantiate.bind(WebAssembly) as (...args: unknown[]) => Promise<unknown>;
  WebAssembly.instantiate = (async (source: unknown, imports?: WebAssembly.Imports) => {
    const result = await instantiate(source, imports);
    if (source === kernels && result instanceof WebAssembly.Instance) {
      for (const value of Object.values(result.exports)) if (value instanceof WebAssembly.Memory) memories.add(value);
    }
    return result;
  }) as typeof WebAssembly.instantiate;
}

/**
 * The kernel module, for {@link AppDeps.planKernels}; reading it starts remembering the engine's memories.
 * @example createApp({ bundle: defaultBundle, ort: workerdOrt, planKernels: planKernels() })
 */
export function planKernels(): WebAssembly.Module {
  watchInstances();
  return kernels;
}

/** Bytes reserved by the plan engine's WASM memories in this isolate (0 until the first plan engine is created). */
export function planHeapBytes(): number {
  let total = 0;
  for (const memory of memories) total += memory.buffer.byteLength;
  return total;
}
