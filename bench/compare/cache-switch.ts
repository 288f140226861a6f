/**
 * Wraps the worker's app for the benchmark: with the var BENCH_CACHE = "off" the request sees no EMBED_CACHE binding
 * and an empty in-isolate LRU (LRU_MAX_BYTES = 0), so every input is computed and nothing is written to KV.
 */

import type { Env } from '../../worker/src/env.js';
import type { createApp } from '../../worker/src/http/app.js';

type App = ReturnType<typeof createApp>;

export function withCacheSwitch(app: App) {
  return {
    fetch(request: Request, env: Env & { BENCH_CACHE?: string }, ctx: Parameters<App['fetch']>[2]) {
      const bindings = env.BENCH_CACHE === 'off' ? { ...env, EMBED_CACHE: undefined, LRU_MAX_BYTES: '0' } : env;
      return app.fetch(request, bindings, ctx);
    },
  };
}
