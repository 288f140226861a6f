/** The Cache API store against workerd's real caches.default (Miniflare's cache). */
import { describe, expect, it } from 'vitest';
import { CacheApiEmbeddingStore, type CacheLike } from '../../src/cache/cache-api.js';

const options = { ttlSeconds: 3600, dimensions: 3, timeoutMs: 500 };
const entry = { tokenCount: 7, vector: Float32Array.from([0.25, -0.5, 1]) };

describe('the Cache API embedding store', () => {
  it('gives back what it stored, under a key with the characters cache keys use', async () => {
    const counters = { cacheApiErrors: 0 };
    const store = new CacheApiEmbeddingStore(caches.default, options, counters);
    const key = `t:acme:e1:${'a'.repeat(64)}:r:t:${crypto.randomUUID()}`;
    expect(await store.get(key)).toBeUndefined();
    await store.put(key, entry);
    expect(await store.get(key)).toEqual(entry);
    expect(counters.cacheApiErrors).toBe(0);
  });

  it('reads an undecodable value as a miss', async () => {
    const store = new CacheApiEmbeddingStore(caches.default, { ...options, dimensions: 4 }, { cacheApiErrors: 0 });
    const key = `e1:${crypto.randomUUID()}`;
    await new CacheApiEmbeddingStore(caches.default, options, { cacheApiErrors: 0 }).put(key, entry);
    expect(await store.get(key)).toBeUndefined();
  });

  it('turns a failing cache into misses and dropped writes, counted', async () => {
    const failing: CacheLike = {
      match: () => Promise.reject(new Error('cache down')),
      put: () => Promise.reject(new Error('cache down')),
    };
    const counters = { cacheApiErrors: 0 };
    const store = new CacheApiEmbeddingStore(failing, options, counters);
    await expect(store.put('k', entry)).resolves.toBeUndefined();
    expect(await store.get('k')).toBeUndefined();
    expect(counters.cacheApiErrors).toBe(2);
  });

  it('reads a cache slower than the timeout as a miss', async () => {
    const hanging: CacheLike = { match: () => new Promise(() => {}), put: () => Promise.resolve() };
    const counters = { cacheApiErrors: 0 };
    const store = new CacheApiEmbeddingStore(hanging, { ...options, timeoutMs: 20 }, counters);
    expect(await store.get('k')).toBeUndefined();
    expect(counters.cacheApiErrors).toBe(1);
  });
});
