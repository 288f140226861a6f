/**
 * The Workers entry for tenants served by the encoder plan engine (`npm run tenant -- add <name> --engine plan`): the
 * same API as index.ts, built without ONNX Runtime's 14 MB wasm and without model.onnx, so the upload is the plan's
 * weights, the tokenizer and kilobytes of kernels. Serves the compiled-in default bundle's plan (with its static
 * companion), or the BUNDLE_STORE bundle that BUNDLE_HASH names (a tenant whose bundle is always in KV uses
 * index-kv-plan.ts, without the compiled-in one); a bundle without a usable plan (or ENGINE=ort) is answered with 503
 * saying this worker has no ONNX Runtime. No reranker: the cross-encoder fixture has no plan.
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
