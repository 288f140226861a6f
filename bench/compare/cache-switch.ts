/**
 * Wraps the worker's app for the benchmark: with the var BENCH_CACHE = "off" the request sees no EMBED_CACHE binding,
 * an empty in-isolate LRU (LRU_MAX_BYTES = 0) and CACHE_POLICY = "off" (no Cache API), so every input is computed. With
 * BENCH_KV_LATENCY = "cold" the EMBED_CACHE binding answers like production KV for keys this location has not read:
 * 50-300 ms per read, seeded (test/support/kv-latency.ts), one harness per isolate. With "flaky", 10% of reads fail,
 * 10% never answer and 20% of writes fail, on top of that latency.
 */

import { mulberry32 } from '../../model-packager/src/fixtures/random.js';
import { withKvLatency } from '../../test/support/kv-latency.js';
import type { Env, KvNamespaceLike } from '../../worker/src/env.js';
import type { createApp } from '../../worker/src/http/app.js';

type App = ReturnType<typeof createApp>;
type BenchEnv = Env & { BENCH_CACHE?: string; BENCH_KV_LATENCY?: string };

let slowKv: KvNamespaceLike | undefined;

/** KV with production-like latency, and for "flaky" failing and hanging reads and failing writes. */
function slow(kv: KvNamespaceLike, mode: string): KvNamespaceLike {
  if (mode !== 'flaky') return withKvLatency(kv, { seed: 20261201 });
  const reads = withKvLatency(kv, { seed: 20261201, errorRate: 0.1, timeoutRate: 0.1 });
  const writeFate = mulberry32(20261202);
  return {
    get: (key, options) => reads.get(key, options),
    put: async (key, value, options) => {
      if (writeFate() < 0.2) throw new Error('KV PUT failed: 503 (simulated)');
      return kv.put(key, value, options);
    },
  };
}

function bindingsFor(env: BenchEnv): Env {
  if (env.BENCH_CACHE === 'off') return { ...env, EMBED_CACHE: undefined, LRU_MAX_BYTES: '0', CACHE_POLICY: 'off' };
  const mode = env.BENCH_KV_LATENCY;
  if ((mode === 'cold' || mode === 'flaky') && env.EMBED_CACHE !== undefined) {
    slowKv ??= slow(env.EMBED_CACHE, mode);
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
