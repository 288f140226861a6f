/**
 * The per-isolate embedding state for one bundle: the manifest, tokenizer and model, each created on first use and
 * shared by all requests of the isolate, the in-isolate LRU, and the counters /info reports. This and ORT's WASM
 * instance are the only long-lived mutable state of the worker.
 */
import { type BundleManifest, parseBundleManifest } from '../../../bundle-format/manifest.js';
import { Embedder, type InferenceCounters } from '../../../bundle-runtime/embedder.js';
import { createOrtEngine, type OrtRuntime } from '../../../bundle-runtime/ort-engine.js';
import { BundleTokenizer } from '../../../bundle-runtime/tokenizer.js';
import { type BundleSource, BundleUnavailableError } from '../bundle/source.js';
import { type CacheCounters, EmbeddingCache } from '../cache/embedding-cache.js';
import { KvEmbeddingStore, type KvStoreCounters } from '../cache/kv.js';
import { ByteLruCache } from '../cache/lru.js';
import type { Config } from '../config.js';
import type { Env } from '../env.js';
import { ApiError } from '../errors.js';
import { Lazy } from './lazy.js';

export interface ServiceCounters extends InferenceCounters, CacheCounters, KvStoreCounters {
  modelLoads: number;
  modelLoadFailures: number;
}

export class EmbeddingService {
  readonly counters: ServiceCounters = {
    inferences: 0,
    embeddedSequences: 0,
    lruHits: 0,
    kvHits: 0,
    misses: 0,
    kvErrors: 0,
    kvTimeouts: 0,
    modelLoads: 0,
    modelLoadFailures: 0,
  };
  private readonly manifestValue: Lazy<BundleManifest>;
  private readonly tokenizerValue: Lazy<BundleTokenizer>;
  private readonly modelValue: Lazy<Embedder>;
  private lru: ByteLruCache | undefined;
  /** When the last model load failed (Date.now()), until one succeeds: /health reports not ready meanwhile. */
  private modelFailedAt: number | undefined;

  constructor(source: BundleSource, ort: OrtRuntime) {
    this.manifestValue = new Lazy(async () => parseBundleManifest(await source.manifest()));
    this.tokenizerValue = new Lazy(async () => {
      const manifest = await this.manifestValue.get();
      return new BundleTokenizer(await source.tokenizer(), manifest.tokenizerConfig);
    });
    this.modelValue = new Lazy(async () => {
      const manifest = await this.manifestValue.get();
      try {
        const model = new Embedder(
          await createOrtEngine(ort, await source.model(), manifest),
          undefined,
          this.counters,
        );
        this.counters.modelLoads++;
        this.modelFailedAt = undefined;
        return model;
      } catch (error) {
        this.counters.modelLoadFailures++;
        this.modelFailedAt = Date.now();
        throw error;
      }
    });
  }

  get modelLoaded(): boolean {
    return this.modelValue.ready;
  }

  /** Milliseconds since the last failed model load, while the model is not loaded; undefined otherwise. */
  get modelFailedMsAgo(): number | undefined {
    return this.modelFailedAt === undefined ? undefined : Date.now() - this.modelFailedAt;
  }

  get lruStats(): { entries: number; bytes: number } {
    return { entries: this.lru?.size ?? 0, bytes: this.lru?.bytes ?? 0 };
  }

  manifest(config: Config): Promise<BundleManifest> {
    return unavailableOnFailure(this.manifestValue, 'the bundle manifest', config);
  }

  tokenizer(config: Config): Promise<BundleTokenizer> {
    return unavailableOnFailure(this.tokenizerValue, 'the tokenizer', config);
  }

  model(config: Config): Promise<Embedder> {
    return unavailableOnFailure(this.modelValue, 'the model', config);
  }

  /** The cache for one request: this isolate's LRU in front of the request's KV binding (if any). */
  cache(env: Env, config: Config, manifest: BundleManifest): EmbeddingCache {
    this.lru ??= new ByteLruCache(config.lruMaxBytes);
    const kv =
      env.EMBED_CACHE === undefined
        ? undefined
        : new KvEmbeddingStore(
            env.EMBED_CACHE,
            { timeoutMs: config.kvTimeoutMs, ttlSeconds: config.cacheTtlSeconds, dimensions: manifest.dimensions },
            this.counters,
          );
    return new EmbeddingCache(
      this.lru,
      kv,
      this.counters,
      config.tenantId === undefined ? '' : `t:${config.tenantId}:`,
    );
  }
}

/** A failed load is logged and answered with 503 + Retry-After; the Lazy forgets it, so the next request retries. */
async function unavailableOnFailure<T>(value: Lazy<T>, what: string, config: Config): Promise<T> {
  try {
    return await value.get();
  } catch (error) {
    console.error(JSON.stringify({ level: 'error', event: 'load_failed', what, message: String(error) }));
    const reason = error instanceof BundleUnavailableError ? ` (${error.message})` : '';
    throw new ApiError('model_unavailable', `${what} could not be loaded${reason}; retry later`, {
      retryAfterSeconds: config.retryAfterSeconds,
    });
  }
}
