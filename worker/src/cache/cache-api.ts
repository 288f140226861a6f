/**
 * The Cache API (`caches.default`) as an embedding store: free, per data centre, and allowed to forget at any time.
 * Same shape as KvEmbeddingStore: a failure or a timeout reads as a miss and a failed write is dropped. Entries live
 * under made-up URLs (the Cache API keys by URL); note that Cloudflare ignores Cache API writes on workers.dev
 * hostnames, so this tier only helps on a custom domain.
 */
import { type CachedEmbedding, decodeCachedEmbedding, encodeCachedEmbedding } from './codec.js';
import { TIMED_OUT, withTimeout } from './timeout.js';

/** The calls the store makes on a Cache (caches.default), so a test can hand in a failing one. */
export interface CacheLike {
  match(request: Request): Promise<Response | undefined>;
  put(request: Request, response: Response): Promise<void>;
}

export interface CacheApiCounters {
  cacheApiErrors: number;
}

export interface CacheApiStoreOptions {
  ttlSeconds: number;
  dimensions: number;
  timeoutMs: number;
}

/**
 * The data centre's cache (caches.default), or undefined where there is none (Node). Read off globalThis because the
 * DOM typings the Node build uses know no `caches.default`.
 */
export function defaultCache(): CacheLike | undefined {
  return (globalThis as { caches?: { default?: CacheLike } }).caches?.default;
}

/** Never resolved by DNS: the Cache API only needs a URL to key by. */
const ORIGIN = 'https://embedding-cache.edge-embed.invalid/';

/** @example cacheApiUrl('e1:abc:r:t:def') // 'https://embedding-cache.edge-embed.invalid/e1%3Aabc%3Ar%3At%3Adef' */
export function cacheApiUrl(key: string): string {
  return ORIGIN + encodeURIComponent(key);
}

export class CacheApiEmbeddingStore {
  constructor(
    private readonly cache: CacheLike,
    private readonly options: CacheApiStoreOptions,
    private readonly counters: CacheApiCounters,
  ) {}

  /** The cached entry, or undefined on a miss, an error, a timeout or an undecodable value. */
  async get(key: string): Promise<CachedEmbedding | undefined> {
    try {
      const read = this.cache.match(new Request(cacheApiUrl(key))).then((response) => response?.arrayBuffer());
      const value = await withTimeout(read, this.options.timeoutMs);
      if (value === TIMED_OUT) {
        this.counters.cacheApiErrors++;
        return undefined;
      }
      return value === undefined ? undefined : decodeCachedEmbedding(value, this.options.dimensions);
    } catch {
      this.counters.cacheApiErrors++;
      return undefined;
    }
  }

  /** Stores an entry for ttlSeconds; resolves even when the Cache API rejects the write. */
  async put(key: string, entry: CachedEmbedding): Promise<void> {
    try {
      const response = new Response(encodeCachedEmbedding(entry), {
        headers: { 'content-type': 'application/octet-stream', 'cache-control': `max-age=${this.options.ttlSeconds}` },
      });
      await this.cache.put(new Request(cacheApiUrl(key)), response);
    } catch {
      this.counters.cacheApiErrors++;
    }
  }
}
