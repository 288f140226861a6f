/**
 * An in-isolate LRU of embeddings bounded by bytes (not entries), so a model with larger vectors cannot push the
 * isolate past its memory limit. A Map keeps insertion order; a hit is re-inserted to become the newest.
 */
import type { CachedEmbedding } from './codec.js';

/** Rough per-entry overhead of the Map slot, the key string and the typed array header. */
const ENTRY_OVERHEAD_BYTES = 64;

export class ByteLruCache {
  private readonly entries = new Map<string, CachedEmbedding>();
  private used = 0;

  constructor(readonly maxBytes: number) {}

  get bytes(): number {
    return this.used;
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: string): CachedEmbedding | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry;
  }

  /** @example lru.set(key, { tokenCount: 7, vector }) // evicts the oldest entries past maxBytes */
  set(key: string, entry: CachedEmbedding): void {
    const cost = ByteLruCache.cost(key, entry);
    if (cost > this.maxBytes) return;
    this.delete(key);
    this.entries.set(key, entry);
    this.used += cost;
    for (const [oldestKey] of this.entries) {
      if (this.used <= this.maxBytes) break;
      this.delete(oldestKey);
    }
  }

  private delete(key: string): void {
    const entry = this.entries.get(key);
    if (entry === undefined) return;
    this.entries.delete(key);
    this.used -= ByteLruCache.cost(key, entry);
  }

  private static cost(key: string, entry: CachedEmbedding): number {
    return key.length * 2 + entry.vector.byteLength + ENTRY_OVERHEAD_BYTES;
  }
}

/**
 * An LRU created on first use with the config's size, which several services may hold: the models of one worker share
 * the isolate's LRU_MAX_BYTES (their keys hold the bundle hash, so they never share an entry).
 */
export class SharedLru {
  private cache: ByteLruCache | undefined;

  get current(): ByteLruCache | undefined {
    return this.cache;
  }

  /** @example sharedLru.get(config.lruMaxBytes).get(key) */
  get(maxBytes: number): ByteLruCache {
    this.cache ??= new ByteLruCache(maxBytes);
    return this.cache;
  }
}
