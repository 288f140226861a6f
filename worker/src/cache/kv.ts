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
      const value = await Promise.race([this.kv.get(key, 'arrayBuffer'), timeout]);
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
