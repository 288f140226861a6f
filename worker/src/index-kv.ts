/**
 * The Workers entry for tenants whose bundle lives in KV (`npm run tenant -- add <name> --bundle <dir>` points their
 * environment's `main` here): the same API as index.ts, but without the compiled-in default bundle, so the upload
 * carries no model (about 7.5 MB less). Serves the BUNDLE_STORE bundle named by BUNDLE_HASH; without one, every route
 * answers 503 saying so.
 */
import type { Hono } from 'hono';
import type { Env } from './env.js';
import { kvAppFor } from './kv-app.js';
import { workerdRuntime } from './runtime/workerd.js';

const worker: Pick<Hono<{ Bindings: Env }>, 'fetch'> = {
  fetch: (request, env, executionCtx) =>
    kvAppFor(env as Env | undefined, workerdRuntime).fetch(request, env, executionCtx),
};

export default worker;
