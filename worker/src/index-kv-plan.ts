/**
 * The Workers entry for tenants whose bundle lives in KV and runs on the encoder plan engine (`npm run tenant -- add
 * <name> --bundle <dir> --engine plan`): index-kv.ts without ONNX Runtime's wasm, so the upload is the code and the
 * kernels; the bundle's plan.json and plan.bin come from BUNDLE_STORE. A bundle there without a usable plan is answered
 * with 503 saying this worker has no ONNX Runtime.
 */
import type { Hono } from 'hono';
import type { Env } from './env.js';
import { kvAppFor } from './kv-app.js';
import { planOnlyRuntime } from './runtime/plan-only.js';

const worker: Pick<Hono<{ Bindings: Env }>, 'fetch'> = {
  fetch: (request, env, executionCtx) =>
    kvAppFor(env as Env | undefined, planOnlyRuntime).fetch(request, env, executionCtx),
};

export default worker;
