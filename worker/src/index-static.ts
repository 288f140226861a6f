/**
 * The Workers entry for a static-only tenant (`npm run tenant -- add <name> --static`, or `--bundle` with a static
 * bundle): the same API as index.ts around a static bundle (`edge-embed distill`), built without ONNX Runtime and
 * without the transformer's model.onnx, so its upload is the table and the tokenizer. Serves the compiled-in
 * bundles/static-default, or the BUNDLE_STORE bundle that BUNDLE_HASH names; a transformer bundle there is answered
 * with 503 saying this worker cannot run it.
 */
import type { Hono } from 'hono';
import { staticDefaultBundle } from './bundle/static-default-bundle.js';
import type { Env } from './env.js';
import { type App, createApp } from './http/app.js';
import { kvAppFor } from './kv-app.js';
import { noOrt } from './runtime/no-ort.js';

const staticRuntime = { ort: noOrt };
const staticApp = createApp({
  bundle: staticDefaultBundle,
  compiled: { 'static-default': staticDefaultBundle },
  ...staticRuntime,
});

/** The app serving the bundle the env selects: BUNDLE_HASH's from KV, else the compiled-in static bundle. */
export function staticAppFor(env: Env | undefined): App {
  const hash = env?.BUNDLE_HASH?.trim();
  return hash === undefined || hash === '' ? staticApp : kvAppFor(env, staticRuntime);
}

const worker: Pick<Hono<{ Bindings: Env }>, 'fetch'> = {
  fetch: (request, env, executionCtx) => staticAppFor(env as Env | undefined).fetch(request, env, executionCtx),
};

export default worker;
