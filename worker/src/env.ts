/** Minimal view of a Workers KV namespace: the calls the cache makes, so tests can inject a failing one. */
export interface KvNamespaceLike {
  get(key: string, type: 'arrayBuffer'): Promise<ArrayBuffer | null>;
  put(key: string, value: ArrayBuffer, options?: { expirationTtl?: number }): Promise<void>;
}

/** The worker's bindings: wrangler.toml [vars], the EMBED_CACHE and BUNDLE_STORE KV namespaces and the API_KEYS secret. */
export interface Env {
  EMBED_CACHE?: KvNamespaceLike;
  /** Bundles uploaded by `edge-embed upload-bundle`; used when BUNDLE_HASH is set. */
  BUNDLE_STORE?: Pick<KvNamespaceLike, 'get'>;
  /** The contentHash of a bundle in BUNDLE_STORE to serve instead of the compiled-in default bundle. */
  BUNDLE_HASH?: string;
  /** The tenant this deployment serves (wrangler environment); prefixes every cache key. */
  TENANT_ID?: string;
  /** Comma-separated Bearer keys; when unset or empty the API is open. */
  API_KEYS?: string;
  MAX_INPUTS?: string;
  MAX_INPUT_CHARS?: string;
  MAX_BODY_BYTES?: string;
  MAX_BATCH_SIZE?: string;
  MAX_BATCH_TOKENS?: string;
  CACHE_TTL_SECONDS?: string;
  KV_TIMEOUT_MS?: string;
  LRU_MAX_BYTES?: string;
  RETRY_AFTER_SECONDS?: string;
}
