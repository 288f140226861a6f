/**
 * The embedding cache's tiers against workerd's real caches.default and Miniflare's KV; each `isolate()` is a fresh LRU and
 * policy, as a new isolate would have, sharing the data centre's Cache API and the global KV.
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { CacheApiEmbeddingStore, cacheApiUrl } from '../../src/cache/cache-api.js';
import { EmbeddingCache, emptyCacheCounters } from '../../src/cache/embedding-cache.js';
import { type CacheInput, cacheKey, inIsolateKey } from '../../src/cache/key.js';
import { KvEmbeddingStore } from '../../src/cache/kv.js';
import { ByteLruCache } from '../../src/cache/lru.js';
import { CachePolicy, type CachePolicyMode } from '../../src/cache-policy/policy.js';
import { LIST_PRICES } from '../../src/cache-policy/prices.js';
import { lookupCached } from '../../src/embedding/cache-lookup.js';
import type { KvNamespaceLike } from '../../src/env.js';

const kvNamespace = (env as unknown as { EMBED_CACHE: KvNamespaceLike }).EMBED_CACHE;
const DIMENSIONS = 4;
const entryFor = (n: number, tokens = 10) => ({ tokenCount: tokens, vector: Float32Array.from([n, 0, 0, 1]) });

interface IsolateOptions {
  budget?: number;
  admitAfter?: number;
  kv?: KvNamespaceLike;
  /** 0.25 by default (USE Lite); 2 for a heavy model, for which a KV hit pays. */
  cpuMsPerToken?: number;
  /** Tokens of every text. */
  tokens?: number;
  /** Cache API reads and writes per request (unlimited by default). */
  cacheApiOps?: number;
}

function isolateParts(mode: CachePolicyMode, options: IsolateOptions = {}) {
  const counters = { ...emptyCacheCounters(), kvErrors: 0, kvTimeouts: 0, cacheApiErrors: 0 };
  const storeOptions = { timeoutMs: 500, ttlSeconds: 3600, dimensions: DIMENSIONS };
  const parts = {
    lru: new ByteLruCache(1024 * 1024),
    cacheApi: new CacheApiEmbeddingStore(caches.default, storeOptions, counters),
    kv: new KvEmbeddingStore(options.kv ?? kvNamespace, storeOptions, counters),
    policy: new CachePolicy({
      mode,
      cost: { prices: LIST_PRICES, cpuMsPerToken: options.cpuMsPerToken ?? 0.25, modelLoadCpuMs: 500 },
      admitAfter: options.admitAfter ?? 3,
      maxTokens: 128,
      kvWritesPerDay: options.budget ?? 1000,
      // Every LRU miss goes to the Cache API here; policy.test.ts covers which ones the policy skips.
      cacheApiReadMinMs: 0,
    }),
    counters,
    cacheApiOpsPerRequest: options.cacheApiOps,
  };
  return parts;
}

function isolate(mode: CachePolicyMode, options: IsolateOptions = {}) {
  const tokens = options.tokens ?? 10;
  const parts = isolateParts(mode, options);
  const { counters } = parts;
  const background: Promise<unknown>[] = [];
  const waitUntil = (promise: Promise<unknown>) => background.push(promise);
  /** One request: look the keys up, "compute" the misses, store them, and wait for the background work. */
  async function request(keys: string[], modelLoaded = true) {
    // One EmbeddingCache per request, as the worker makes one per embedding call (the Cache API cap is per request).
    const cache = new EmbeddingCache(parts);
    const found = await cache.getMany(keys, { tokens: keys.map(() => tokens), modelLoaded, waitUntil });
    const computed = keys.flatMap((key, i) =>
      found[i] === undefined ? [[key, entryFor(i + 1, tokens)] as const] : [],
    );
    cache.putMany(computed, waitUntil);
    await Promise.all(background.splice(0));
    return found;
  }
  return { counters, request };
}

const uniqueKeys = (count: number) => Array.from({ length: count }, () => `e1:test:${crypto.randomUUID()}`);

describe('the embedding cache under each policy', () => {
  it("counts a scripted sequence exactly: a heavy model's text asked for 3 times is written once, then a fresh isolate elsewhere reads it", async () => {
    const [hot] = uniqueKeys(1);
    const heavy = { cpuMsPerToken: 2, tokens: 100 };
    const a = isolate('cost', heavy);
    await a.request([hot], false); // 0.5 (prior) x 200 ms of CPU beats a KV read; it finds nothing
    expect(a.counters).toMatchObject({ lruHits: 0, cacheApiMisses: 1, kvReads: 1, kvHits: 0, kvWrites: 0, misses: 1 });
    await a.request([hot]); // LRU
    await a.request([hot]); // LRU, third access: promoted, after a check read that finds nothing
    await a.request([hot]); // LRU, already promoted
    expect(a.counters).toMatchObject({
      lruHits: 3,
      cacheApiHits: 0,
      cacheApiMisses: 1,
      kvReads: 2,
      kvHits: 0,
      kvWrites: 1,
      misses: 1,
    });
    expect(await kvNamespace.get(hot, 'arrayBuffer')).not.toBeNull();

    const sameColo = isolate('cost', heavy);
    expect(await sameColo.request([hot], false)).toEqual([entryFor(1, 100)]);
    expect(sameColo.counters).toMatchObject({ cacheApiHits: 1, kvReads: 0, kvWrites: 0, misses: 0 });

    await caches.default.delete(new Request(cacheApiUrl(hot))); // another data centre: its Cache API never had it
    const elsewhere = isolate('cost', heavy);
    expect(await elsewhere.request([hot], false)).toEqual([entryFor(1, 100)]);
    expect(elsewhere.counters).toMatchObject({ cacheApiMisses: 1, kvReads: 1, kvHits: 1, kvWrites: 0, misses: 0 });
  });

  it("`cost` makes no KV operations for a fast model's short texts once the model is loaded, however often they come; `always` reads and writes each miss once", async () => {
    const keys = uniqueKeys(5);
    const cost = isolate('cost');
    await cost.request(keys);
    for (let i = 0; i < 5; i++) await cost.request(keys);
    expect(cost.counters).toMatchObject({ kvReads: 0, kvWrites: 0, cacheApiMisses: 5, lruHits: 25, misses: 5 });
    const always = isolate('always');
    const fresh = uniqueKeys(5);
    await always.request(fresh);
    await always.request(fresh);
    expect(always.counters).toMatchObject({ kvReads: 5, kvWrites: 5, lruHits: 5, cacheApiHits: 0, cacheApiMisses: 0 });
  });

  it('makes at most CACHE_API_MAX_OPS Cache API reads and writes per request, reads first', async () => {
    const keys = uniqueKeys(3);
    const capped = isolate('cost', { cacheApiOps: 4 });
    await capped.request(keys);
    // Three reads (all miss), then one of the three writes; two skipped.
    expect(capped.counters).toMatchObject({ cacheApiMisses: 3, cacheApiOverCap: 2, misses: 3 });
    await capped.request(uniqueKeys(5));
    expect(capped.counters).toMatchObject({ cacheApiMisses: 7, cacheApiOverCap: 2 + 1 + 5 });
    // Elsewhere (a fresh LRU, no cap): only the first key was written to the data centre's cache.
    const other = isolate('cost');
    const found = await other.request(keys);
    expect(found.map((entry) => entry !== undefined)).toEqual([true, false, false]);
    expect(other.counters).toMatchObject({ cacheApiHits: 1, cacheApiMisses: 2, cacheApiOverCap: 0 });
  });

  it('`off` keeps to the LRU', async () => {
    const keys = uniqueKeys(2);
    const off = isolate('off');
    await off.request(keys, false);
    await off.request(keys);
    expect(off.counters).toMatchObject({
      lruHits: 2,
      cacheApiHits: 0,
      cacheApiMisses: 0,
      kvReads: 0,
      kvWrites: 0,
      misses: 2,
    });
    expect(await caches.default.match(new Request(cacheApiUrl(keys[0])))).toBeUndefined();
  });

  it('stops writing at the daily budget', async () => {
    const budgeted = isolate('cost', { budget: 2, admitAfter: 1, cpuMsPerToken: 10, tokens: 100 });
    await budgeted.request(uniqueKeys(3));
    await budgeted.request(uniqueKeys(3));
    expect(budgeted.counters).toMatchObject({ kvWrites: 2, kvWritesOverBudget: 4 });
  });

  it('drops failing KV writes without failing the request', async () => {
    const failingKv: KvNamespaceLike = {
      get: () => Promise.resolve(null),
      put: () => Promise.reject(new Error('KV write limit exceeded')),
    };
    const failing = isolate('always', { kv: failingKv });
    const keys = uniqueKeys(3);
    await expect(failing.request(keys)).resolves.toEqual([undefined, undefined, undefined]);
    expect(failing.counters).toMatchObject({ kvWrites: 3, kvErrors: 3 });
    expect(await failing.request(keys)).toEqual([entryFor(1), entryFor(2), entryFor(3)]);
  });
});

describe('the keys a lookup uses', () => {
  const HASH = 'c'.repeat(64);
  const right = { truncationDirection: 'right' } as const;
  const long = 'a text long enough that its key would pass KV’s 512-byte limit. '.repeat(20);
  const inputs: CacheInput[] = [{ text: 'hello' }, { text: long }, { tokenIds: [5, 6] }, { text: 'hello' }];
  const lookup = (cache: EmbeddingCache) =>
    lookupCached(cache, HASH, right, inputs, { maxTokens: 128, modelLoaded: true, waitUntil: () => {} });

  it('is the text itself, no digest, when the cache stays in the isolate (a static bundle under `cost`: LRU only)', async () => {
    const parts = isolateParts('off');
    const { keys, slotOfInput } = await lookup(new EmbeddingCache(parts));
    expect(keys).toEqual(inputs.slice(0, 3).map((input) => inIsolateKey(HASH, right, input)));
    expect(keys[1]).toBe(`m1:${HASH}:r:t:${long}`);
    expect(slotOfInput).toEqual([0, 1, 2, 0]);
    // Without a Cache API or KV binding, `cost` stays in the isolate too.
    const unbound = new EmbeddingCache({ ...isolateParts('cost'), cacheApi: undefined, kv: undefined });
    expect((await lookup(unbound)).keys).toEqual(keys);
    const inLru = new EmbeddingCache(parts).cachedInIsolate(keys);
    expect(inLru).toEqual([undefined, undefined, undefined]);
  });

  it('is a sha256 under 512 bytes whenever the Cache API or KV may see it', async () => {
    const hashed = await Promise.all(inputs.slice(0, 3).map((input) => cacheKey(HASH, right, input)));
    for (const mode of ['cost', 'always'] as const) {
      const { keys } = await lookup(new EmbeddingCache(isolateParts(mode)));
      expect(keys).toEqual(hashed);
      for (const key of keys) expect(new TextEncoder().encode(key).length).toBeLessThanOrEqual(512);
    }
    const kvOnly = new EmbeddingCache({ ...isolateParts('always'), cacheApi: undefined });
    expect((await lookup(kvOnly)).keys).toEqual(hashed);
  });
});
