/**
 * Wraps the worker's app for the benchmark: with the var BENCH_CACHE = "off" the request sees no EMBED_CACHE binding
 * and an empty in-isolate LRU (LRU_MAX_BYTES = 0), so every input is computed and nothing is written to KV. With
 * BENCH_KV_LATENCY = "cold" the EMBED_CACHE binding answers like production KV for keys this location has not read:
 * 50-300 ms per read, seeded (test/support/kv-latency.ts), one harness per isolate.
 */

import { withKvLatency } from '../../test/support/kv-latency.js';
import type { Env, KvNamespaceLike } from '../../worker/src/env.js';
import type { createApp } from '../../worker/src/http/app.js';

type App = ReturnType<typeof createApp>;
type BenchEnv = Env & { BENCH_CACHE?: string; BENCH_KV_LATENCY?: string };

let slowKv: KvNamespaceLike | undefined;

function bindingsFor(env: BenchEnv): Env {
  if (env.BENCH_CACHE === 'off') return { ...env, EMBED_CACHE: undefined, LRU_MAX_BYTES: '0' };
  if (env.BENCH_KV_LATENCY === 'cold' && env.EMBED_CACHE !== undefined) {
    slowKv ??= withKvLatency(env.EMBED_CACHE, { seed: 20261201 });
    return { ...env, EMBED_CACHE: slowKv };
  }
  return env;
}

export function withCacheSwitch(app: App) {
  return {
    fetch(request: Request, env: BenchEnv, ctx: Parameters<App['fetch']>[2]) {
      return app.fetch(request, bindingsFor(env), ctx);
    },
  };
}
