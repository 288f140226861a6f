/**
 * The embedding cache: the in-isolate LRU, then the Cache API, then KV, each consulted as the cache policy says
 * (cache-policy/policy.ts; CACHE_POLICY=always is the old LRU-then-KV cache, with no Cache API).
 * Reads go to the LRU, then the LRU misses to the Cache API in parallel, then the keys the policy picks to KV in
 * parallel; anything found is promoted into the tiers above it. Computed vectors land in the LRU at once and in the
 * Cache API and (if admitted) KV in the background. Every store reads a failure as a miss, so no tier can fail a request.
 */
import type { CachePolicy, KvPromotion } from '../cache-policy/policy.js';
import type { CachedEmbedding } from './codec.js';
import type { ByteLruCache } from './lru.js';

/** A shared store of embeddings: KvEmbeddingStore, CacheApiEmbeddingStore, or an in-memory one in the benchmark. */
export interface EmbeddingStore {
  get(key: string): Promise<CachedEmbedding | undefined>;
  put(key: string, entry: CachedEmbedding): Promise<void>;
}

export interface CacheCounters {
  lruHits: number;
  cacheApiHits: number;
  cacheApiMisses: number;
  /** KV reads made (each billed, found or not). */
  kvReads: number;
  kvHits: number;
  /** KV writes made (each billed). */
  kvWrites: number;
  /** Admitted writes refused because today's budget was spent. */
  kvWritesOverBudget: number;
  /** Distinct keys no tier had. */
  misses: number;
  /** Cache API reads and writes skipped: the request had spent its `cacheApiOpsPerRequest`. */
  cacheApiOverCap: number;
}

export function emptyCacheCounters(): CacheCounters {
  return {
    lruHits: 0,
    cacheApiHits: 0,
    cacheApiMisses: 0,
    kvReads: 0,
    kvHits: 0,
    kvWrites: 0,
    kvWritesOverBudget: 0,
    misses: 0,
    cacheApiOverCap: 0,
  };
}

export interface EmbeddingCacheParts {
  lru: ByteLruCache;
  cacheApi: EmbeddingStore | undefined;
  kv: EmbeddingStore | undefined;
  policy: CachePolicy;
  counters: CacheCounters;
  /** Prepended to every key in every tier (the tenant), so two tenants never share an entry. */
  keyPrefix?: string;
  /** Milliseconds since the epoch, for the daily write budget. */
  now?: () => number;
  /**
   * Cache API reads and writes this cache (one per embedding call) may make: each is a subrequest, and Workers cap
   * subrequests per request (50 on the free plan). Reads come first; writes get what is left. Unlimited by default.
   */
  cacheApiOpsPerRequest?: number;
}

export interface LookupContext {
  /** Estimated tokens per key, for the policy's recompute cost. */
  tokens: readonly number[];
  /** Whether this isolate has its model loaded (a fresh one may skip loading it if every miss is found). */
  modelLoaded: boolean;
  /** Hands background work (promotions into faster tiers) to the platform, e.g. ctx.waitUntil. */
  waitUntil: (promise: Promise<unknown>) => void;
}

export class EmbeddingCache {
  private readonly keyPrefix: string;
  private readonly now: () => number;
  private cacheApiOpsLeft: number;

  constructor(private readonly parts: EmbeddingCacheParts) {
    this.keyPrefix = parts.keyPrefix ?? '';
    this.now = parts.now ?? (() => Date.now());
    this.cacheApiOpsLeft = parts.cacheApiOpsPerRequest ?? Number.POSITIVE_INFINITY;
  }

  /**
   * Whether every tier this cache may read or write is in the isolate (the LRU alone): its keys then need no digest
   * (cache/key.ts's inIsolateKey), as they never leave the isolate.
   */
  get inIsolateOnly(): boolean {
    const { policy, cacheApi, kv } = this.parts;
    return !(policy.usesCacheApi && cacheApi !== undefined) && !(policy.usesKv && kv !== undefined);
  }

  /** How many of `wanted` Cache API operations may still be made (taken from what is left); the rest are counted. */
  private takeCacheApiOps(wanted: number): number {
    const granted = Math.min(wanted, this.cacheApiOpsLeft);
    this.cacheApiOpsLeft -= granted;
    this.parts.counters.cacheApiOverCap += wanted - granted;
    return granted;
  }

  /**
   * One entry (or undefined for a miss) per key, in order; keys must be distinct.
   * @example await cache.getMany(keys, { tokens: [9], modelLoaded: false, waitUntil: (p) => ctx.waitUntil(p) })
   */
  async getMany(requestKeys: readonly string[], context: LookupContext): Promise<Array<CachedEmbedding | undefined>> {
    const { lru, policy, counters } = this.parts;
    const keys = requestKeys.map((key) => this.keyPrefix + key);
    policy.recordAccess(keys);
    const found = keys.map((key) => lru.get(key));
    counters.lruHits += found.filter((entry) => entry !== undefined).length;
    const freeHits = found.flatMap((entry, i) => (entry === undefined ? [] : [i]));
    const cacheApi = policy.usesCacheApi ? this.parts.cacheApi : undefined;
    if (cacheApi !== undefined) freeHits.push(...(await this.readCacheApi(cacheApi, keys, found, context)));
    const kv = policy.usesKv ? this.parts.kv : undefined;
    if (kv !== undefined) {
      await this.readKv(kv, cacheApi, keys, found, context);
      this.promotePopular(kv, keys, found, freeHits, context.waitUntil);
    }
    counters.misses += missing(found).length;
    return found;
  }

  /**
   * What the in-isolate LRU holds for the keys right now, without counting a lookup (a hedged request's view when the
   * shared tiers are slow; getMany has counted the keys already).
   */
  cachedInIsolate(requestKeys: readonly string[]): Array<CachedEmbedding | undefined> {
    return requestKeys.map((key) => this.parts.lru.get(this.keyPrefix + key));
  }

  /** Fills the LRU misses the policy picks and the Cache API has (into the LRU too); returns their indices. */
  private async readCacheApi(
    cacheApi: EmbeddingStore,
    keys: readonly string[],
    found: Array<CachedEmbedding | undefined>,
    context: LookupContext,
  ): Promise<number[]> {
    const { lru, counters, policy } = this.parts;
    const candidates = missing(found);
    const plan = policy.planCacheApiReads(
      candidates.map((i) => ({ key: keys[i], tokens: context.tokens[i] })),
      context,
    );
    const planned = candidates.filter((_, n) => plan[n]);
    const reads = planned.slice(0, this.takeCacheApiOps(planned.length));
    const hits: number[] = [];
    await Promise.all(
      reads.map(async (i) => {
        const entry = await cacheApi.get(keys[i]);
        if (entry === undefined) {
          counters.cacheApiMisses++;
          return;
        }
        counters.cacheApiHits++;
        found[i] = entry;
        lru.set(keys[i], entry);
        hits.push(i);
      }),
    );
    return hits;
  }

  /** Reads the remaining misses the policy picks from KV; a hit goes into the LRU and (background) the Cache API. */
  private async readKv(
    kv: EmbeddingStore,
    cacheApi: EmbeddingStore | undefined,
    keys: readonly string[],
    found: Array<CachedEmbedding | undefined>,
    context: LookupContext,
  ): Promise<void> {
    const { lru, policy, counters } = this.parts;
    const candidates = missing(found);
    const plan = policy.planKvReads(
      candidates.map((i) => ({ key: keys[i], tokens: context.tokens[i] })),
      context,
    );
    await Promise.all(
      candidates.map(async (i, n) => {
        if (!plan[n]) return;
        counters.kvReads++;
        const entry = await kv.get(keys[i]);
        policy.observeKvRead(keys[i], entry !== undefined);
        if (entry === undefined) return;
        counters.kvHits++;
        found[i] = entry;
        lru.set(keys[i], entry);
        if (cacheApi !== undefined && this.takeCacheApiOps(1) === 1) context.waitUntil(cacheApi.put(keys[i], entry));
      }),
    );
  }

  /** Hands the promotions of texts served by the LRU or the Cache API that became popular enough for KV to `waitUntil`. */
  private promotePopular(
    kv: EmbeddingStore,
    keys: readonly string[],
    found: ReadonlyArray<CachedEmbedding | undefined>,
    freeHits: readonly number[],
    waitUntil: (promise: Promise<unknown>) => void,
  ): void {
    const popular = freeHits.map((i) => ({ key: keys[i], tokens: (found[i] as CachedEmbedding).tokenCount }));
    for (const promotion of this.parts.policy.planPromotions(popular, this.now())) {
      const entry = found[keys.indexOf(promotion.key)] as CachedEmbedding;
      waitUntil(this.promote(kv, promotion, entry));
    }
  }

  /**
   * Stores computed entries: in the LRU at once, in the Cache API and (as the policy admits) KV via `waitUntil`.
   * @example cache.putMany([[key, entry]], (p) => ctx.waitUntil(p))
   */
  putMany(
    entries: ReadonlyArray<readonly [string, CachedEmbedding]>,
    waitUntil: (promise: Promise<unknown>) => void,
  ): void {
    const { lru, policy, counters } = this.parts;
    const prefixed = entries.map(([key, entry]) => [this.keyPrefix + key, entry] as const);
    for (const [key, entry] of prefixed) lru.set(key, entry);
    if (prefixed.length === 0) return;
    const cacheApi = policy.usesCacheApi ? this.parts.cacheApi : undefined;
    if (cacheApi !== undefined) {
      const writes = prefixed.slice(0, this.takeCacheApiOps(prefixed.length));
      if (writes.length > 0) waitUntil(Promise.all(writes.map(([key, entry]) => cacheApi.put(key, entry))));
    }
    const kv = policy.usesKv ? this.parts.kv : undefined;
    if (kv === undefined) return;
    const plan = policy.planKvWrites(
      prefixed.map(([key, entry]) => ({ key, tokens: entry.tokenCount })),
      this.now(),
    );
    const writes = prefixed.filter((_, i) => plan.admitted[i]);
    counters.kvWrites += writes.length;
    counters.kvWritesOverBudget += plan.overBudget;
    if (writes.length > 0) waitUntil(Promise.all(writes.map(([key, entry]) => kv.put(key, entry))));
  }

  /** Writes a popular entry to KV, after a check read when the policy asks for one. */
  private async promote(kv: EmbeddingStore, promotion: KvPromotion, entry: CachedEmbedding): Promise<void> {
    const { policy, counters } = this.parts;
    if (promotion.checkFirst) {
      counters.kvReads++;
      const existing = await kv.get(promotion.key);
      policy.observeKvRead(promotion.key, existing !== undefined);
      if (existing !== undefined) {
        counters.kvHits++;
        return;
      }
    }
    if (!policy.takePromotionWrite(promotion.key, this.now())) {
      counters.kvWritesOverBudget++;
      return;
    }
    counters.kvWrites++;
    await kv.put(promotion.key, entry);
  }
}

function missing(found: ReadonlyArray<CachedEmbedding | undefined>): number[] {
  return found.flatMap((entry, i) => (entry === undefined ? [i] : []));
}
