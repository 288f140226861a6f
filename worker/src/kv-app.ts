/**
 * The app serving the KV bundle that BUNDLE_HASH names, for every entry (index.ts, index-kv.ts, index-static.ts). It
 * is created on the first request with that hash and kept while the hash stays the same: an isolate sees one
 * deployment's vars, so one hash in practice. The entry passes its ONNX Runtime, so this file imports none and a
 * static-only entry ships without ORT's wasm.
 */
import { kvBundle } from './bundle/kv-bundle.js';
import type { Env } from './env.js';
import { type App, type AppDeps, createApp } from './http/app.js';

/** The entry's ONNX Runtime (runtime/ort-workerd.ts, or runtime/no-ort.ts for a static-only worker) and plan kernels. */
export type KvAppRuntime = Pick<AppDeps, 'ort' | 'planKernels' | 'wasmHeapBytes'>;

let current: { hash: string; runtime: KvAppRuntime['ort']; app: App } | undefined;

/**
 * The app for the env's BUNDLE_HASH (trimmed; an empty hash gives an app whose every route answers 503 saying so).
 * @example kvAppFor(env, { ort: workerdOrt, wasmHeapBytes }).fetch(request, env, ctx)
 */
export function kvAppFor(env: Env | undefined, runtime: KvAppRuntime): App {
  const hash = env?.BUNDLE_HASH?.trim() ?? '';
  if (current?.hash !== hash || current.runtime !== runtime.ort) {
    current = { hash, runtime: runtime.ort, app: createApp({ bundle: kvBundle(env?.BUNDLE_STORE, hash), ...runtime }) };
  }
  return current.app;
}
