/**
 * KV as production has it, through test/support/kv-latency.ts over Miniflare's KV: reads carry a cacheTtl that real KV
 * accepts; the harness is repeatable; slow, failing and hanging reads never fail a request nor change a vector; and a
 * request whose inputs are all in KV never loads the model.
 */
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../../model-packager/src/fixtures/random.js';
import { withKvLatency } from '../../../test/support/kv-latency.js';
import { defaultBundle } from '../../src/bundle/default-bundle.js';
import { KV_READ_CACHE_TTL_SECONDS, KvEmbeddingStore } from '../../src/cache/kv.js';
import type { KvNamespaceLike } from '../../src/env.js';
import { createApp } from '../../src/http/app.js';
import { workerdRuntime } from '../../src/runtime/workerd.js';
import { call, mixedTexts, testEnv } from '../helpers.js';

const kv = testEnv.EMBED_CACHE as KvNamespaceLike;
const instant = () => Promise.resolve();

async function vectorsOf(response: Response): Promise<number[][]> {
  expect(response.status).toBe(200);
  return ((await response.json()) as { data: Array<{ embedding: number[] }> }).data.map((item) => item.embedding);
}

describe('KV reads', () => {
  it('carry a cacheTtl that real KV accepts (Miniflare refuses one under 30 s)', async () => {
    const slow = withKvLatency(kv, { seed: 1, sleep: instant });
    const counters = { kvErrors: 0, kvTimeouts: 0 };
    const store = new KvEmbeddingStore(slow, { timeoutMs: 1000, ttlSeconds: 3600, dimensions: 4 }, counters);
    const entry = { tokenCount: 3, vector: new Float32Array([1, 2, 3, 4]) };
    await store.put('production:cache-ttl', entry);
    expect(await store.get('production:cache-ttl')).toEqual(entry);
    expect(counters).toEqual({ kvErrors: 0, kvTimeouts: 0 });
    expect(slow.reads.map((read) => read.options)).toEqual([
      { type: 'arrayBuffer', cacheTtl: KV_READ_CACHE_TTL_SECONDS },
    ]);
    expect(KV_READ_CACHE_TTL_SECONDS).toBeGreaterThanOrEqual(30);
  });
});

describe('the KV latency harness', () => {
  it('repeats a seed exactly: the same delays, errors and timeouts; a read key turns hot', async () => {
    const run = async (seed: number) => {
      const harness = withKvLatency(kv, { seed, errorRate: 0.2, timeoutRate: 0.2, sleep: instant });
      for (const key of ['a', 'b', 'a', 'c', 'b', 'd', 'e', 'a', 'f', 'g']) {
        void harness.get(`harness:${key}`, 'arrayBuffer').catch(() => undefined);
        await Promise.resolve();
      }
      return harness.reads.map((read) => `${read.key}:${read.outcome}:${read.delayMs}`);
    };
    expect(await run(42)).toEqual(await run(42));
    expect(await run(42)).not.toEqual(await run(43));
    const reads = await run(42);
    expect(reads.some((read) => read.includes(':timeout:'))).toBe(true);
    expect(reads.some((read) => read.includes(':error:'))).toBe(true);
    const outcomes = reads.map((read) => read.split(':')[2]);
    expect(outcomes).toContain('hot');
    for (const read of reads.filter((line) => line.includes(':cold:'))) {
      const delay = Number(read.split(':').at(-1));
      expect(delay).toBeGreaterThanOrEqual(50);
      expect(delay).toBeLessThanOrEqual(300);
    }
    expect(mulberry32(7)()).toBe(mulberry32(7)());
  });
});

describe('a slow, failing KV', () => {
  it('never fails a request and never changes a vector', async () => {
    const texts = mixedTexts('slow kv production', 8);
    const vars = { CACHE_POLICY: 'always', KV_TIMEOUT_MS: '150' };
    // Another app stands for another isolate: an empty in-isolate cache, so the second request reads KV.
    const reference = await vectorsOf(await call('/v1/embeddings', { body: { input: texts } }, vars));
    const slow = withKvLatency(kv, { seed: 9, errorRate: 0.25, timeoutRate: 0.25, coldMs: [50, 300] });
    // The worker's own engines: a vector read from KV equals one computed only on the same engine (ENGINE=auto).
    const fresh = createApp({ bundle: defaultBundle, ...workerdRuntime });
    const response = await call('/v1/embeddings', { body: { input: texts } }, { ...vars, EMBED_CACHE: slow }, fresh);
    expect(await vectorsOf(response)).toEqual(reference);
    const outcomes = new Set(slow.reads.map((read) => read.outcome));
    // Seed 9 gives each kind of read among the eight; the ones that failed or lagged were computed instead.
    expect([...outcomes].sort()).toEqual(['cold', 'error', 'timeout']);
    const hits = Number(response.headers.get('x-cache-hits'));
    expect(hits).toBeLessThan(texts.length);
    expect(hits + Number(response.headers.get('x-cache-misses'))).toBe(texts.length);
  });

  it('a request whose inputs are all in KV never loads the model', async () => {
    const texts = mixedTexts('kv only production', 4);
    const vars = { CACHE_POLICY: 'always' };
    const reference = await vectorsOf(await call('/v1/embeddings', { body: { input: texts } }, vars));
    let loads = 0;
    const counted = {
      ...defaultBundle,
      model: async () => {
        loads++;
        return defaultBundle.model();
      },
      planFiles: async () => {
        loads++;
        return defaultBundle.planFiles?.();
      },
    };
    const fresh = createApp({ bundle: counted, ...workerdRuntime });
    const slow = withKvLatency(kv, { seed: 3, coldMs: [50, 300] });
    const response = await call('/v1/embeddings', { body: { input: texts } }, { ...vars, EMBED_CACHE: slow }, fresh);
    expect(response.headers.get('x-cache-hits')).toBe(String(texts.length));
    expect(await vectorsOf(response)).toEqual(reference);
    expect(loads).toBe(0);
  });
});
