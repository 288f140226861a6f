/**
 * The Workers entry: the API around the bundle compiled into the worker, or, when the BUNDLE_HASH var names one, a
 * bundle read from the BUNDLE_STORE KV namespace (so a tenant switches model without a code deploy), running ORT's WASM
 * backend in workerd. Nothing is loaded here; the model and tokenizer load on the first request that needs them.
 */
import type { Hono } from 'hono';
import { createApp } from './app.js';
import { defaultBundle } from './bundle/default-bundle.js';
import { kvBundle } from './bundle/kv-bundle.js';
import type { Env } from './env.js';
import { wasmHeapBytes, workerdOrt } from './runtime/ort-workerd.js';

type App = ReturnType<typeof createApp>;

const defaultApp = createApp({ bundle: defaultBundle, ort: workerdOrt, wasmHeapBytes });
/** The app for the KV bundle this isolate serves; an isolate sees one deployment's vars, so one hash in practice. */
let kvApp: { hash: string; app: App } | undefined;

/** The app serving the bundle the env selects. */
export function appFor(env: Env | undefined): App {
  const hash = env?.BUNDLE_HASH?.trim();
  if (hash === undefined || hash === '') return defaultApp;
  if (kvApp?.hash !== hash) kvApp = { hash, app: createApp({ bundle: kvBundle(env?.BUNDLE_STORE, hash), ort: workerdOrt, wasmHeapBytes }) };
  return kvApp.app;
}

const worker: Pick<Hono<{ Bindings: Env }>, 'fetch'> = {
  fetch: (request, env, executionCtx) => appFor(env as Env | undefined).fetch(request, env, executionCtx),
};

export default worker;
