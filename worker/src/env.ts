import type { ConfigVarName } from './config.js';
import type { AnalyticsDataset } from './http/middleware/analytics.js';

/** How a value is read: as bytes, optionally kept in the reading location's cache `cacheTtl` seconds (at least 30). */
export type KvGetOptions = 'arrayBuffer' | { type: 'arrayBuffer'; cacheTtl?: number };

/** Minimal view of a Workers KV namespace: the calls the cache makes, so tests can inject a failing one. */
export interface KvNamespaceLike {
  get(key: string, options: KvGetOptions): Promise<ArrayBuffer | null>;
  put(key: string, value: ArrayBuffer, options?: { expirationTtl?: number }): Promise<void>;
}

/** Workers' Rate Limiting binding (`[[ratelimits]]` in wrangler.toml): counts per key against its own limit and period. */
export interface RateLimitBinding {
  limit(options: { key: string }): Promise<{ success: boolean }>;
}

/**
 * The worker's bindings: the EMBED_CACHE and BUNDLE_STORE KV namespaces, BUNDLE_HASH, and the config vars and the
 * API_KEYS secret (one string each, listed with what they do in config.ts's CONFIG_VARS).
 */
export interface Env extends Partial<Record<ConfigVarName, string>> {
  EMBED_CACHE?: KvNamespaceLike;
  /** Bundles uploaded by `edge-embed upload-bundle`; used when BUNDLE_HASH is set. */
  BUNDLE_STORE?: Pick<KvNamespaceLike, 'get'>;
  /** The contentHash of a bundle in BUNDLE_STORE to serve instead of the compiled-in default bundle. */
  BUNDLE_HASH?: string;
  /** Used for RATE_LIMIT_REQUESTS when bound; without it each isolate counts on its own. */
  RATE_LIMITER?: RateLimitBinding;
  /** Workers Analytics Engine: one data point per request when bound (docs/operations.md). */
  ANALYTICS?: AnalyticsDataset;
}
