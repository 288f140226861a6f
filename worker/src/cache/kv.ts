/**
 * Workers KV as an embedding store that can only help: a failing or slow KV (past the timeout) reads as a miss and a
 * failed write is dropped, so KV trouble costs inference time but never fails a request.
 */
import type { KvNamespaceLike } from '../env.js';
import { type CachedEmbedding, decodeCachedEmbedding, encodeCachedEmbedding } from './codec.js';
import { TIMED_OUT, withTimeout } from './timeout.js';

export interface KvStoreCounters {
  kvErrors: number;
  kvTimeouts: number;
}

export interface KvStoreOptions {
  timeoutMs: number;
  ttlSeconds: number;
  dimensions: number;
}

/**
 * Seconds a read result stays in the edge cache of the location that read it (KV's default is 60, its minimum 30).
 * An entry never changes once written (its key is the bundle and the text), so a hit can stay cached as long as it
 * lives; the cost is that a location may not see an entry written elsewhere for this long, which a recompute covers.
 */
export const KV_READ_CACHE_TTL_SECONDS = 300;

export class KvEmbeddingStore {
  constructor(
    private readonly kv: KvNamespaceLike,
    private readonly options: KvStoreOptions,
    private readonly counters: KvStoreCounters,
  ) {}

  /** The cached entry, or undefined on a miss, an error, a timeout or an undecodable value. */
  async get(key: string): Promise<CachedEmbedding | undefined> {
    try {
      const cacheTtl = Math.min(KV_READ_CACHE_TTL_SECONDS, this.options.ttlSeconds);
      const value = await withTimeout(this.kv.get(key, { type: 'arrayBuffer', cacheTtl }), this.options.timeoutMs);
      if (value === TIMED_OUT) {
        this.counters.kvTimeouts++;
        return undefined;
      }
      return value === null ? undefined : decodeCachedEmbedding(value, this.options.dimensions);
    } catch {
      this.counters.kvErrors++;
      return undefined;
    }
  }

  /** Stores an entry; resolves even when KV rejects the write. */
  async put(key: string, entry: CachedEmbedding): Promise<void> {
    try {
      await this.kv.put(key, encodeCachedEmbedding(entry), { expirationTtl: this.options.ttlSeconds });
    } catch {
      this.counters.kvErrors++;
    }
  }
}
