/**
 * The Workers entry for tenants whose bundle lives in KV (`npm run tenant -- add <name> --bundle <dir>` points their
 * environment's `main` here): the same API as index.ts, but without the compiled-in default bundle, so the upload
 * carries no model (about 7.5 MB less). Serves the BUNDLE_STORE bundle named by BUNDLE_HASH; without one, every route
 * answers 503 saying so.
 */
import type { Hono } from 'hono';
import { createApp } from './app.js';
import { kvBundle } from './bundle/kv-bundle.js';
import type { Env } from './env.js';
import { wasmHeapBytes, workerdOrt } from './runtime/ort-workerd.js';

let current: { hash: string; app: ReturnType<typeof createApp> } | undefined;

const worker: Pick<Hono<{ Bindings: Env }>, 'fetch'> = {
  fetch: (request, env, executionCtx) => {
    const bindings = env as Env | undefined;
    const hash = bindings?.BUNDLE_HASH?.trim() ?? '';
    if (current?.hash !== hash) current = { hash, app: createApp({ bundle: kvBundle(bindings?.BUNDLE_STORE, hash), ort: workerdOrt, wasmHeapBytes }) };
    return current.app.fetch(request, env, executionCtx);
  },
};

export default worker;
