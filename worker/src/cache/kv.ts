/**
 * Workers KV as an embedding store that can only help: a failing or slow KV (past the timeout) reads as a miss and a
 * failed write is dropped, so KV trouble costs inference time but never fails a request.
 */
import type { KvNamespaceLike } from '../env.js';
import { type CachedEmbedding, decodeCachedEmbedding, encodeCachedEmbedding } from './codec.js';

export interface KvStoreCounters {
  kvErrors: number;
  kvTimeouts: number;
}

export interface KvStoreOptions {
  timeoutMs: number;
  ttlSeconds: number;
  dimensions: number;
}

const TIMED_OUT = Symbol('timed out');

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
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
      timer = setTimeout(() => resolve(TIMED_OUT), this.options.timeoutMs);
    });
    try {
      const cacheTtl = Math.min(KV_READ_CACHE_TTL_SECONDS, this.options.ttlSeconds);
      const value = await Promise.race([this.kv.get(key, { type: 'arrayBuffer', cacheTtl }), timeout]);
      if (value === TIMED_OUT) {
        this.counters.kvTimeouts++;
        return undefined;
      }
      return value === null ? undefined : decodeCachedEmbedding(value, this.options.dimensions);
    } catch {
      this.counters.kvErrors++;
      return undefined;
    } finally {
      if (timer !== undefined) clearTimeout(timer);
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
