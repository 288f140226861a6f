/**
 * The app serving the KV bundle that BUNDLE_HASH names, for both entries (index.ts and index-kv.ts). It is created on
 * the first request with that hash and kept while the hash stays the same: an isolate sees one deployment's vars, so
 * one hash in practice.
 */
import { kvBundle } from './bundle/kv-bundle.js';
import type { Env } from './env.js';
import { type App, createApp } from './http/app.js';
import { wasmHeapBytes, workerdOrt } from './runtime/ort-workerd.js';

let current: { hash: string; app: App } | undefined;

/**
 * The app for the env's BUNDLE_HASH (trimmed; an empty hash gives an app whose every route answers 503 saying so).
 * @example kvAppFor(env).fetch(request, env, ctx)
 */
export function kvAppFor(env: Env | undefined): App {
  const hash = env?.BUNDLE_HASH?.trim() ?? '';
  if (current?.hash !== hash) {
    current = { hash, app: createApp({ bundle: kvBundle(env?.BUNDLE_STORE, hash), ort: workerdOrt, wasmHeapBytes }) };
  }
  return current.app;
}
