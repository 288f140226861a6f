/**
 * The two-level embedding cache: the in-isolate LRU in front of KV. Reads go to the LRU, then all LRU misses go to KV
 * in parallel; KV hits are promoted into the LRU. Writes land in the LRU at once and in KV in the background.
 */
import type { CachedEmbedding } from './codec.js';
import type { KvEmbeddingStore } from './kv.js';
import type { ByteLruCache } from './lru.js';

export interface CacheCounters {
  lruHits: number;
  kvHits: number;
  misses: number;
}

export class EmbeddingCache {
  constructor(
    private readonly lru: ByteLruCache,
    private readonly kv: KvEmbeddingStore | undefined,
    private readonly counters: CacheCounters,
    /** Prepended to every key in the LRU and KV (the tenant), so two tenants never share an entry. */
    private readonly keyPrefix = '',
  ) {}

  /** One entry (or undefined for a miss) per key, in order. */
  async getMany(requestKeys: readonly string[]): Promise<Array<CachedEmbedding | undefined>> {
    const keys = requestKeys.map((key) => this.keyPrefix + key);
    const found = keys.map((key) => this.lru.get(key));
    this.counters.lruHits += found.filter((entry) => entry !== undefined).length;
    const kv = this.kv;
    if (kv !== undefined) {
      await Promise.all(
        keys.map(async (key, i) => {
          if (found[i] !== undefined) return;
          const entry = await kv.get(key);
          if (entry === undefined) return;
          found[i] = entry;
          this.lru.set(key, entry);
          this.counters.kvHits++;
        }),
      );
    }
    this.counters.misses += found.filter((entry) => entry === undefined).length;
    return found;
  }

  /**
   * Stores computed entries; the KV writes are handed to `waitUntil` so the response does not wait for them.
   * @example cache.putMany([[key, entry]], (p) => ctx.waitUntil(p))
   */
  putMany(entries: ReadonlyArray<readonly [string, CachedEmbedding]>, waitUntil: (promise: Promise<unknown>) => void): void {
    for (const [key, entry] of entries) this.lru.set(this.keyPrefix + key, entry);
    const kv = this.kv;
    if (kv !== undefined && entries.length > 0) {
      waitUntil(Promise.all(entries.map(([key, entry]) => kv.put(this.keyPrefix + key, entry))));
    }
  }
}
