/**
 * The per-isolate embedding state for one bundle: the manifest, tokenizer and model, each created on first use and
 * shared by all requests of the isolate, the in-isolate LRU, the cache policy's memory (access frequencies, today's KV
 * writes), and the counters /info reports. This and the engines' WASM instances are the only long-lived mutable state
 * of the worker. The model runs on the engine the ENGINE var chooses for the bundle (engine-choice.ts).
 */
import { type EncoderPlan, parseEncoderPlan } from '../../../bundle-format/encoder-plan.js';
import { type BundleManifest, isStaticManifest, parseAnyBundleManifest } from '../../../bundle-format/manifest.js';
import { decodeStaticTable } from '../../../bundle-format/static-table.js';
import { Embedder, type InferenceCounters } from '../../../bundle-runtime/embedder.js';
import type { InferenceEngine } from '../../../bundle-runtime/engine.js';
import { createOrtEngine } from '../../../bundle-runtime/ort-engine.js';
import { createPlanEngine } from '../../../bundle-runtime/plan-engine.js';
import { createStaticEngine } from '../../../bundle-runtime/static-engine.js';
import { BundleTokenizer } from '../../../bundle-runtime/tokenizer.js';
import { type BundleSource, BundleUnavailableError, type PlanFiles } from '../bundle/source.js';
import { type CacheApiCounters, CacheApiEmbeddingStore, defaultCache } from '../cache/cache-api.js';
import { type CacheCounters, EmbeddingCache, emptyCacheCounters } from '../cache/embedding-cache.js';
import { KvEmbeddingStore, type KvStoreCounters } from '../cache/kv.js';
import { SharedLru } from '../cache/lru.js';
import { CachePolicy, CachePolicyState } from '../cache-policy/policy.js';
import { type CostModel, costModelFor, costPerMillionEmbeddings } from '../cache-policy/prices.js';
import type { Config } from '../config.js';
import type { Env } from '../env.js';
import { ApiError } from '../errors.js';
import {
  choiceReadsPlan,
  chooseEngine,
  type EngineChoice,
  type EngineDecision,
  type EngineName,
  type EngineRuntime,
} from './engine-choice.js';
import { Lazy } from './lazy.js';

export interface ServiceCounters extends InferenceCounters, CacheCounters, KvStoreCounters, CacheApiCounters {
  modelLoads: number;
  modelLoadFailures: number;
  /** Request inputs answered (each input of each request, duplicates included). */
  embeddings: number;
  /** Tokens the model ran on (after truncation). */
  inferenceTokens: number;
}

/** What /info says about the cost of this isolate's traffic. */
export interface CostReport {
  policy: CachePolicy['mode'];
  model: CostModel;
  /** Where the CPU figure came from: the CPU_MS_PER_TOKEN var or the bundle's size. */
  cpuFigure: 'CPU_MS_PER_TOKEN' | 'bundle size';
  /** The engine whose default figures price inference where the vars leave them unset. */
  engine: EngineName;
  /** USD per million embeddings of this isolate's traffic so far: KV operations, inference and model loads. */
  usdPerMillionEmbeddings: number;
}

export class EmbeddingService {
  readonly counters: ServiceCounters = {
    inferences: 0,
    embeddedSequences: 0,
    ...emptyCacheCounters(),
    kvErrors: 0,
    kvTimeouts: 0,
    cacheApiErrors: 0,
    modelLoads: 0,
    modelLoadFailures: 0,
    embeddings: 0,
    inferenceTokens: 0,
  };
  private readonly policyState = new CachePolicyState();
  private readonly manifestValue: Lazy<BundleManifest>;
  private readonly tokenizerValue: Lazy<BundleTokenizer>;
  /** The source's plan files (plan.json read, plan.bin not yet), read only when an engine choice needs the plan. */
  private readonly planFilesValue: Lazy<PlanFiles | undefined>;
  /** The model on the engine the ENGINE var chose; chosen again (and the old one dropped) if ENGINE changes. */
  private modelValue: { choice: EngineChoice; model: Lazy<LoadedModel> } | undefined;
  private companion: EmbeddingService | undefined;
  /** When the last model load failed (Date.now()), until one succeeds: /health reports not ready meanwhile. */
  private modelFailedAt: number | undefined;

  /** @param lru the in-isolate LRU; a worker's models share one (models/registry.ts), else each service has its own. */
  constructor(
    private readonly source: BundleSource,
    private readonly runtime: EngineRuntime,
    private readonly lru = new SharedLru(),
  ) {
    this.manifestValue = new Lazy(async () => parseAnyBundleManifest(await source.manifest()));
    this.tokenizerValue = new Lazy(async () => {
      const manifest = await this.manifestValue.get();
      return new BundleTokenizer(await source.tokenizer(), manifest.tokenizerConfig);
    });
    this.planFilesValue = new Lazy(async () => source.planFiles?.());
  }

  /**
   * The service of the bundle's static companion (two-stage ranking's first stage), created on first use and kept for
   * the isolate; undefined when the bundle has none.
   */
  staticCompanion(): EmbeddingService | undefined {
    if (this.source.staticCompanion === undefined) return undefined;
    this.companion ??= new EmbeddingService(this.source.staticCompanion, this.runtime);
    return this.companion;
  }

  get modelLoaded(): boolean {
    return this.modelValue?.model.ready ?? false;
  }

  /**
   * The engine that runs the model: the loaded one, else the one a load under this config would use (null when ENGINE
   * refuses the bundle), for /info and /v1/models.
   */
  async engine(config: Config): Promise<EngineName | null> {
    const loaded = this.loadedModel(config);
    if (loaded !== undefined) return loaded.engine;
    const manifest = await this.manifest(config);
    try {
      const { decision } = await decideEngine(manifest, config.engine, this.planFilesValue, this.runtime);
      return 'engine' in decision ? decision.engine : null;
    } catch {
      // A plan that cannot be read or is corrupt: a load would be refused (503 naming why).
      return null;
    }
  }

  /** The model loaded under this config's ENGINE choice, if it is loaded. */
  private loadedModel(config: Config): LoadedModel | undefined {
    return this.modelValue?.choice === config.engine ? this.modelValue.model.current : undefined;
  }

  /** Milliseconds since the last failed model load, while the model is not loaded; undefined otherwise. */
  get modelFailedMsAgo(): number | undefined {
    return this.modelFailedAt === undefined ? undefined : Date.now() - this.modelFailedAt;
  }

  get lruStats(): { entries: number; bytes: number } {
    return { entries: this.lru.current?.size ?? 0, bytes: this.lru.current?.bytes ?? 0 };
  }

  manifest(config: Config): Promise<BundleManifest> {
    return unavailableOnFailure(this.manifestValue, 'the bundle manifest', config);
  }

  tokenizer(config: Config): Promise<BundleTokenizer> {
    return unavailableOnFailure(this.tokenizerValue, 'the tokenizer', config);
  }

  async model(config: Config): Promise<Embedder> {
    if (this.modelValue?.choice !== config.engine) {
      // ENGINE changes only with a new deployment (a new isolate); a test may switch it within one isolate.
      const previous = this.modelValue?.model;
      if (previous?.ready) void previous.get().then((loaded) => loaded.embedder.release());
      this.modelValue = { choice: config.engine, model: new Lazy(() => this.loadModel(config.engine)) };
    }
    return (await unavailableOnFailure(this.modelValue.model, 'the model', config)).embedder;
  }

  /** Reads the files the chosen engine needs, and only those, and creates the engine. */
  private async loadModel(choice: EngineChoice): Promise<LoadedModel> {
    try {
      const manifest = await this.manifestValue.get();
      const decided = await decideEngine(manifest, choice, this.planFilesValue, this.runtime);
      const { engine, inference } = await createEngine(manifest, decided, this.source, this.runtime);
      const embedder = new Embedder(inference, undefined, this.counters);
      this.counters.modelLoads++;
      this.modelFailedAt = undefined;
      return { engine, embedder };
    } catch (error) {
      this.counters.modelLoadFailures++;
      this.modelFailedAt = Date.now();
      throw error;
    }
  }

  /** Counts a request's answered inputs and the tokens its inference ran on. */
  countEmbeddings(inputs: number, inferenceTokens: number): void {
    this.counters.embeddings += inputs;
    this.counters.inferenceTokens += inferenceTokens;
  }

  /** The cost model and the estimated cost of this isolate's traffic so far, for /info. */
  costReport(config: Config, manifest: BundleManifest): CostReport {
    const engine = this.costEngine(config, manifest);
    const model = costModelFor(config, manifest.bytes, engine);
    const { counters } = this;
    return {
      policy: cachePolicyMode(config, manifest),
      model,
      cpuFigure: config.cpuMsPerToken === undefined ? 'bundle size' : 'CPU_MS_PER_TOKEN',
      engine,
      usdPerMillionEmbeddings: costPerMillionEmbeddings(counters, model),
    };
  }

  /**
   * The engine whose CPU figures price inference: the loaded model's, else the one ENGINE would choose judged on the
   * manifest alone (synchronous, so a request never waits on plan.json for it). A choice the manifest cannot settle (a
   * cross-encoder's plan decides) or a refused one is priced as ONNX Runtime, the dearer engine.
   */
  private costEngine(config: Config, manifest: BundleManifest): EngineName {
    const loaded = this.loadedModel(config);
    if (loaded !== undefined) return loaded.engine;
    const decision = chooseEngine(manifest, config.engine, this.runtime);
    return 'engine' in decision ? decision.engine : 'ort';
  }

  /**
   * The cache for one request: this isolate's LRU, the data centre's Cache API and the request's KV binding (if any),
   * under the request's CACHE_POLICY with this isolate's policy memory.
   */
  cache(env: Env, config: Config, manifest: BundleManifest): EmbeddingCache {
    const storeOptions = {
      timeoutMs: config.kvTimeoutMs,
      ttlSeconds: config.cacheTtlSeconds,
      dimensions: manifest.dimensions,
    };
    const kv =
      env.EMBED_CACHE === undefined ? undefined : new KvEmbeddingStore(env.EMBED_CACHE, storeOptions, this.counters);
    const cache = defaultCache();
    const cacheApi = cache === undefined ? undefined : new CacheApiEmbeddingStore(cache, storeOptions, this.counters);
    const policy = new CachePolicy(
      {
        mode: cachePolicyMode(config, manifest),
        cost: costModelFor(config, manifest.bytes, this.costEngine(config, manifest)),
        admitAfter: config.kvAdmitAfter,
        maxTokens: manifest.maxTokens,
        kvWritesPerDay: config.kvWriteBudgetPerDay,
        cacheApiReadMinMs: config.cacheApiReadMinMs,
      },
      this.policyState,
    );
    return new EmbeddingCache({
      lru: this.lru.get(config.lruMaxBytes),
      cacheApi,
      kv,
      policy,
      counters: this.counters,
      keyPrefix: config.tenantId === undefined ? '' : `t:${config.tenantId}:`,
      cacheApiOpsPerRequest: config.cacheApiMaxOps,
    });
  }
}

/**
 * The policy a bundle is cached under. A static bundle's vector costs a table lookup, less than any Cache API or KV
 * operation (each one I/O out of the isolate): under `cost` it stays in the isolate's LRU, where
 * the transformer's would go to the Cache API and, when it pays, KV. `always` still uses KV for it.
 */
function cachePolicyMode(config: Config, manifest: BundleManifest): CachePolicy['mode'] {
  return config.cachePolicy === 'cost' && isStaticManifest(manifest) ? 'off' : config.cachePolicy;
}

interface LoadedModel {
  engine: EngineName;
  embedder: Embedder;
}

const NO_PLAN_FILES =
  'ENGINE=plan, but the bundle source holds no plan files although the manifest lists them (a KV upload from an edge-embed before plans: upload it again); set ENGINE=auto or ort to serve it with ONNX Runtime';

/** ENGINE's decision for the bundle, and the plan files when the plan engine runs it. */
interface DecidedEngine {
  decision: EngineDecision;
  files?: PlanFiles;
}

/**
 * ENGINE's decision for the bundle (engine-choice.ts). A cross-encoder fed token types is decided on its plan's
 * token-type table, so plan.json is read (and checked against the manifest's plan.bin size) first; plan.bin is read
 * only by the plan engine. A source without the plan files its manifest lists (an old KV upload) is served by ONNX
 * Runtime under auto and refused under plan. A corrupt plan is a BundleUnavailableError naming the fault.
 */
async function decideEngine(
  manifest: BundleManifest,
  choice: EngineChoice,
  planFiles: Lazy<PlanFiles | undefined>,
  runtime: EngineRuntime,
): Promise<DecidedEngine> {
  const early = choiceReadsPlan(manifest, choice, runtime) ? undefined : chooseEngine(manifest, choice, runtime);
  if (early !== undefined && !('engine' in early && early.engine === 'plan')) return { decision: early };
  const files = await planFiles.get();
  if (files === undefined) return { decision: choice === 'plan' ? { refused: NO_PLAN_FILES } : { engine: 'ort' } };
  if (early !== undefined) return { decision: early, files };
  const plan = checkedPlan(files.plan, manifest.files['plan.bin']?.bytes ?? 0);
  return { decision: chooseEngine(manifest, choice, runtime, plan), files };
}

/**
 * The engine decided for the bundle, built from the files it reads: a static bundle's table (plain TypeScript, no
 * WASM), the encoder plan (plan.json + plan.bin, never model.onnx), or ONNX Runtime on model.onnx (never plan.bin).
 * A plan that is corrupt or of a version this worker does not know is refused (503 naming why), never run; ENGINE=ort
 * serves such a bundle from model.onnx.
 */
async function createEngine(
  manifest: BundleManifest,
  { decision, files }: DecidedEngine,
  source: BundleSource,
  runtime: EngineRuntime,
): Promise<{ engine: EngineName; inference: InferenceEngine }> {
  if ('refused' in decision) throw new BundleUnavailableError(decision.refused);
  if (decision.engine === 'static' && isStaticManifest(manifest)) {
    const table = decodeStaticTable(await source.model(), manifest.static.rows, manifest.dimensions);
    return { engine: 'static', inference: createStaticEngine(table) };
  }
  if (decision.engine === 'plan' && files !== undefined && runtime.planKernels !== undefined) {
    return { engine: 'plan', inference: await planEngine(files, runtime.planKernels) };
  }
  return { engine: 'ort', inference: await createOrtEngine(runtime.ort, await source.model(), manifest) };
}

/** plan.json checked against plan.bin's size: any fault is a BundleUnavailableError naming it. */
function checkedPlan(json: unknown, weightBytes: number): EncoderPlan {
  try {
    return parseEncoderPlan(json, weightBytes);
  } catch (error) {
    throw new BundleUnavailableError(`the bundle's encoder plan is refused: ${(error as Error).message}`);
  }
}

/** The plan engine on the bundle's plan, checked first: any fault is a BundleUnavailableError naming it. */
async function planEngine(files: PlanFiles, kernels: WebAssembly.Module): Promise<InferenceEngine> {
  const weights = await files.weights();
  const plan = checkedPlan(files.plan, weights.byteLength);
  try {
    return await createPlanEngine(plan, weights, kernels);
  } catch (error) {
    throw new BundleUnavailableError(`the plan engine cannot run the bundle's plan: ${(error as Error).message}`);
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
