/**
 * The full Workers entry: the API around the bundle compiled into the worker, or, when the BUNDLE_HASH var names one, a
 * bundle read from the BUNDLE_STORE KV namespace (so a tenant switches model without a code deploy), running the encoder
 * plan engine or ORT's WASM backend in workerd (the ENGINE var); with the MODELS var, several named models (compiled-in
 * or from KV), chosen by each request's `model`. Nothing is loaded here; a model and its tokenizer load on the first
 * request that needs them.
 *
 * It compiles in both engines, model.onnx and plan.bin, and the reranker fixture: about 22 MiB gzip, over Workers' 10
 * MiB upload limit, so it is not deployed (`npm run deploy:dry-run` refuses it) but served locally by `ENGINE=ort npm
 * start` and tested in workerd. Deployments use index-plan.ts (the default), index-kv.ts, index-kv-plan.ts or
 * index-static.ts.
 */
import type { Hono } from 'hono';
import { compiledBundles, defaultBundle } from './bundle/default-bundle.js';
import type { Env } from './env.js';
import { type App, createApp } from './http/app.js';
import { kvAppFor } from './kv-app.js';
import { workerdRuntime } from './runtime/workerd.js';

const defaultApp = createApp({ bundle: defaultBundle, compiled: compiledBundles, ...workerdRuntime });

/** The app serving the bundle the env selects. */
export function appFor(env: Env | undefined): App {
  const hash = env?.BUNDLE_HASH?.trim();
  return hash === undefined || hash === '' ? defaultApp : kvAppFor(env, workerdRuntime);
}

const worker: Pick<Hono<{ Bindings: Env }>, 'fetch'> = {
  fetch: (request, env, executionCtx) => appFor(env as Env | undefined).fetch(request, env, executionCtx),
};

export default worker;
