/**
 * The default Workers entry (wrangler.toml's top-level main, what `npm start` serves and `npx wrangler deploy` uploads,
 * and what `npm run tenant -- add <name>` gives a tenant): the same API as index.ts, built without ONNX Runtime's 14 MB
 * wasm and without model.onnx, so the upload (about 9.2 MiB gzip) is the plan's weights, the static companion, the
 * tokenizer and kilobytes of kernels, under Workers' 10 MiB limit. Serves the compiled-in default bundle's plan (what
 * ENGINE=auto runs in the full worker too), or the BUNDLE_STORE bundle that BUNDLE_HASH names (a tenant whose bundle is
 * always in KV uses index-kv-plan.ts, without the compiled-in one); a bundle without a usable plan (or ENGINE=ort) is
 * answered with 503 saying this worker has no ONNX Runtime and where it is. No compiled-in reranker: the fixture's
 * plan would take the upload over 10 MiB, so /rerank needs a cross-encoder from KV named in MODELS (404 saying so).
 */
import type { Hono } from 'hono';
import { planDefaultBundle } from './bundle/plan-default-bundle.js';
import { staticDefaultBundle } from './bundle/static-default-bundle.js';
import type { Env } from './env.js';
import { type App, createApp } from './http/app.js';
import { kvAppFor } from './kv-app.js';
import { planOnlyRuntime } from './runtime/plan-only.js';

const planApp = createApp({
  bundle: planDefaultBundle,
  compiled: { default: planDefaultBundle, 'static-default': staticDefaultBundle },
  ...planOnlyRuntime,
});

/** The app serving the bundle the env selects: BUNDLE_HASH's from KV, else the compiled-in default bundle's plan. */
export function planAppFor(env: Env | undefined): App {
  const hash = env?.BUNDLE_HASH?.trim();
  return hash === undefined || hash === '' ? planApp : kvAppFor(env, planOnlyRuntime);
}

const worker: Pick<Hono<{ Bindings: Env }>, 'fetch'> = {
  fetch: (request, env, executionCtx) => planAppFor(env as Env | undefined).fetch(request, env, executionCtx),
};

export default worker;
