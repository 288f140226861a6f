/** Minimal view of a Workers KV namespace: the calls the cache makes, so tests can inject a failing one. */
export interface KvNamespaceLike {
  get(key: string, type: 'arrayBuffer'): Promise<ArrayBuffer | null>;
  put(key: string, value: ArrayBuffer, options?: { expirationTtl?: number }): Promise<void>;
}

/** The worker's bindings: wrangler.toml [vars], the EMBED_CACHE KV namespace and the API_KEYS secret. */
export interface Env {
  EMBED_CACHE?: KvNamespaceLike;
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
