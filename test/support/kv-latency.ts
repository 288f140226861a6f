/**
 * A KV namespace with production-like latency, for tests and benchmarks: wraps a real one (Miniflare's) and delays
 * each read as Workers KV does, by a seeded random draw, so a run is repeatable. A key read before in this location is
 * "hot" (served from the edge cache: about `hotMs`), any other "cold" (a trip to the central store: `coldMs[0]` to
 * `coldMs[1]`). A share of reads can fail (`errorRate`) or never answer (`timeoutRate`), as KV does under trouble.
 * Writes pass through at once. Every read is recorded with the options it was made with (e.g. `cacheTtl`).
 */
import { mulberry32 } from '../../model-packager/src/fixtures/random.js';
import type { KvGetOptions, KvNamespaceLike } from '../../worker/src/env.js';

export interface KvLatencyOptions {
  /** Seed of the draws: the same seed gives the same delays, errors and timeouts in the same order. */
  seed: number;
  /** Milliseconds for a key read before. Default 5. */
  hotMs?: number;
  /** Range of milliseconds for a key not read before. Default [50, 300]. */
  coldMs?: [number, number];
  /** Share of reads that reject. Default 0. */
  errorRate?: number;
  /** Share of reads that never settle. Default 0. */
  timeoutRate?: number;
  /** Waits; default setTimeout. A benchmark may pass a scaled clock. */
  sleep?: (ms: number) => Promise<void>;
}

/** One read as the wrapper saw it. */
export interface KvRead {
  key: string;
  options: KvGetOptions;
  outcome: 'hot' | 'cold' | 'error' | 'timeout';
  delayMs: number;
}

/**
 * @example
 *   const kv = withKvLatency(env.EMBED_CACHE, { seed: 7, timeoutRate: 0.1 });
 *   await call('/v1/embeddings', { body }, { EMBED_CACHE: kv }); kv.reads // what the worker read, and how it went
 */
export function withKvLatency(kv: KvNamespaceLike, options: KvLatencyOptions): KvNamespaceLike & { reads: KvRead[] } {
  const random = mulberry32(options.seed);
  const { hotMs = 5, coldMs = [50, 300], errorRate = 0, timeoutRate = 0 } = options;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const seen = new Set<string>();
  const reads: KvRead[] = [];
  return {
    reads,
    async get(key, getOptions) {
      // Draw in a fixed order whatever the outcome, so one read's fate never shifts the next one's.
      const fate = random();
      const coldDelay = coldMs[0] + random() * (coldMs[1] - coldMs[0]);
      if (fate < timeoutRate) {
        reads.push({ key, options: getOptions, outcome: 'timeout', delayMs: Number.POSITIVE_INFINITY });
        return new Promise<never>(() => {});
      }
      const hot = seen.has(key);
      const delayMs = hot ? hotMs : coldDelay;
      seen.add(key);
      if (fate < timeoutRate + errorRate) {
        reads.push({ key, options: getOptions, outcome: 'error', delayMs });
        await sleep(delayMs);
        throw new Error(`KV GET failed: 503 (simulated, key ${key.slice(0, 24)}...)`);
      }
      reads.push({ key, options: getOptions, outcome: hot ? 'hot' : 'cold', delayMs });
      await sleep(delayMs);
      return kv.get(key, getOptions);
    },
    put: (key, value, putOptions) => kv.put(key, value, putOptions),
  };
}
