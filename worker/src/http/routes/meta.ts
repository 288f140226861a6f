/**
 * About the service rather than embeddings: GET /info (text-embeddings-inference's fields plus the bundle, auth mode,
 * counters and limits), GET /metrics (the same counters in Prometheus' text format), GET /health with TEI's aliases
 * GET /ping (SageMaker's) and GET / (the Inference API's), the page at GET / for browsers, and GET /openapi.json with
 * its page GET /docs.
 */
import { type Context, Hono } from 'hono';
import type { CostReport, EmbeddingService } from '../../embedding/service.js';
import { firstStage } from '../../embedding/two-stage.js';
import { ApiError } from '../../errors.js';
import { API_DOCS_HEADERS, apiDocsPage } from '../api-docs.js';
import { type AppEnv, type AppRouteDeps, selectModel, waitUntil } from '../context.js';
import type { InferenceSlots } from '../middleware/inference-slots.js';
import type { RequestCounts } from '../middleware/request-counts.js';
import { openApiDocument } from '../openapi.js';
import { playgroundResponse } from '../playground.js';
import { rerankingInfo } from './rerank.js';

/** What the app's middleware counts in this isolate, for /info and /metrics. */
export interface IsolateCounts {
  requests: RequestCounts;
  slots: InferenceSlots;
}

/** @example app.route('/', metaRoutes(deps, { requests: new RequestCounts(), slots: { inFlight: 0, refused: 0 } })) */
export function metaRoutes(deps: AppRouteDeps, isolate: IsolateCounts): Hono<AppEnv> {
  return new Hono<AppEnv>()
    .get('/', (c) => root(c, deps))
    .get('/info', (c) => info(c, deps, isolate))
    .get('/metrics', (c) => metrics(c, deps, isolate))
    .get('/health', (c) => health(c, deps))
    .get('/ping', (c) => health(c, deps))
    .get('/openapi.json', (c) => c.json(openApiDocument()))
    .get('/docs', (c) => c.html(apiDocsPage(), 200, API_DOCS_HEADERS));
}

/**
 * The page for a browser (its navigations accept text/html); the health check for anything else, as TEI answers GET /
 * to load balancers and probes. The answer depends on Accept, hence `Vary: Accept` for caches in between.
 */
async function root(c: Context<AppEnv>, deps: AppRouteDeps): Promise<Response> {
  const wantsPage = c.req.header('accept')?.toLowerCase().includes('text/html') ?? false;
  const response = wantsPage ? await playgroundResponse() : await health(c, deps);
  response.headers.append('vary', 'Accept');
  return response;
}

/** The default embedding model's figures at the top level, as TEI's /info; every served model under `models`. */
async function info(c: Context<AppEnv>, deps: AppRouteDeps, isolate: IsolateCounts): Promise<Response> {
  const config = c.get('config');
  const { model } = await selectModel(c, deps, undefined, 'embedding');
  const { manifest, service } = model;
  const registry = deps.models.registry(c.env ?? {}, config);
  const served = await registry.list(config);
  return c.json({
    model_id: manifest.modelName,
    model_sha: manifest.contentHash,
    model_dtype: manifest.quantization === 'none' ? 'float32' : 'int8',
    model_type: { embedding: { pooling: manifest.pooling } },
    max_input_length: manifest.maxTokens,
    max_client_batch_size: config.maxInputs,
    // As in TEI, at least max_input_length: a sequence longer than MAX_BATCH_TOKENS still runs, in a batch of its own.
    max_batch_tokens: Math.max(config.maxBatchTokens, manifest.maxTokens),
    max_batch_requests: config.maxBatchSize,
    dimensions: manifest.dimensions,
    allowed_dimensions: manifest.allowedDimensions,
    bundle_hash: manifest.contentHash,
    kind: manifest.kind ?? 'transformer',
    // What prompt_name / input_type can choose (name -> text prepended), and the one a request gets by default.
    prompts: manifest.prompts ?? {},
    default_prompt_name: config.defaultPromptName ?? manifest.defaultPromptName ?? null,
    // RERANK_TOP_K, and whether /v1/rank can use it (a transformer with its static companion).
    rerank_top_k: config.rerankTopK ?? null,
    two_stage_ranking: (await firstStage(service, config, registry.companion(model))).problem === undefined,
    // The cross-encoder behind /rerank and /v1/rerank, and its per-request limits; null when there is none.
    reranking: await rerankingInfo(registry, config),
    loaded: service.modelLoaded,
    // The engine the model runs on (ENGINE var): the loaded one, else the one a load would use.
    engine: await service.engine(config),
    models: await Promise.all(
      served.map(async ({ id, kind, manifest: { contentHash }, service: entry }) => ({
        id,
        kind,
        bundle_hash: contentHash,
        loaded: entry.modelLoaded,
        engine: await entry.engine(config),
        model_loads: entry.counters.modelLoads,
      })),
    ),
    wasm_heap_bytes: deps.wasmHeapBytes?.() ?? null,
    auth: config.apiKeys.length === 0 ? 'open' : 'api_key',
    counters: { ...service.counters, ...prefixKeys('lru', service.lruStats) },
    cost: costInfo(service.costReport(config, manifest)),
    limits: {
      rate_limit_requests: config.rateLimitRequests,
      rate_limit_period_seconds: config.rateLimitPeriodSeconds,
      // Who counts: Workers' Rate Limiting binding, this isolate alone (the fallback), or nobody.
      rate_limiter: config.rateLimitRequests === 0 ? 'off' : c.env?.RATE_LIMITER === undefined ? 'isolate' : 'binding',
      max_concurrent_inferences: config.maxConcurrentInferences,
      inferences_in_flight: isolate.slots.inFlight,
    },
  });
}

/** The counters /metrics exports: TEI's te_* name where one fits, the service counter it reads, and what it counts. */
const SERVICE_METRICS: Array<{ name: string; counter: keyof EmbeddingService['counters']; help: string }> = [
  { name: 'te_embed_count', counter: 'embeddings', help: 'Inputs embedded (each input of each request)' },
  { name: 'te_inference_count', counter: 'inferences', help: 'Inference calls (batches) run' },
  { name: 'te_inference_sequences', counter: 'embeddedSequences', help: 'Sequences the model ran on' },
  { name: 'te_inference_tokens', counter: 'inferenceTokens', help: 'Tokens the model ran on, after truncation' },
  { name: 'te_cache_miss', counter: 'misses', help: 'Distinct inputs no cache tier had' },
  { name: 'te_kv_reads', counter: 'kvReads', help: 'KV reads made' },
  { name: 'te_kv_writes', counter: 'kvWrites', help: 'KV writes made' },
  {
    name: 'te_kv_writes_over_budget',
    counter: 'kvWritesOverBudget',
    help: 'KV writes skipped: the day budget was spent',
  },
  { name: 'te_kv_errors', counter: 'kvErrors', help: 'KV operations that failed' },
  { name: 'te_kv_timeouts', counter: 'kvTimeouts', help: 'KV reads slower than KV_TIMEOUT_MS' },
  { name: 'te_cache_api_errors', counter: 'cacheApiErrors', help: 'Cache API operations that failed' },
  {
    name: 'te_cache_api_over_cap',
    counter: 'cacheApiOverCap',
    help: 'Cache API reads and writes skipped: the request had made CACHE_API_MAX_OPS',
  },
  { name: 'te_model_load_count', counter: 'modelLoads', help: 'Model loads' },
  { name: 'te_model_load_failure', counter: 'modelLoadFailures', help: 'Model loads that failed' },
];

/**
 * This isolate's counters in Prometheus' text format (each isolate counts its own: a scrape sees one isolate); the
 * model figures are the default embedding model's. Behind the API key like every route but the health checks and the page.
 */
async function metrics(c: Context<AppEnv>, deps: AppRouteDeps, isolate: IsolateCounts): Promise<Response> {
  const { service } = (await selectModel(c, deps, undefined, 'embedding')).model;
  const { counters } = service;
  const lines: string[] = [];
  const family = (name: string, type: 'counter' | 'gauge', help: string, samples: Array<[string, number]>) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) lines.push(`${name}${labels} ${value}`);
  };
  family(
    'te_request_count',
    'counter',
    'Requests answered, by route, method and status',
    isolate.requests
      .entries()
      .map(({ route, method, status, count }) => [`{route="${route}",method="${method}",status="${status}"}`, count]),
  );
  family('te_cache_hit', 'counter', 'Distinct inputs found in a cache tier', [
    ['{tier="lru"}', counters.lruHits],
    ['{tier="cache_api"}', counters.cacheApiHits],
    ['{tier="kv"}', counters.kvHits],
  ]);
  for (const { name, counter, help } of SERVICE_METRICS) family(name, 'counter', help, [['', counters[counter]]]);
  family('te_overloaded_count', 'counter', 'Requests refused past MAX_CONCURRENT_INFERENCES', [
    ['', isolate.slots.refused],
  ]);
  family('te_requests_in_flight', 'gauge', 'Embedding requests in flight', [['', isolate.slots.inFlight]]);
  family('te_model_loaded', 'gauge', 'Whether this isolate has the model loaded', [['', service.modelLoaded ? 1 : 0]]);
  const lru = service.lruStats;
  family('te_lru_entries', 'gauge', 'Entries in the in-isolate LRU', [['', lru.entries]]);
  family('te_lru_bytes', 'gauge', 'Bytes in the in-isolate LRU', [['', lru.bytes]]);
  return c.body(`${lines.join('\n')}\n`, 200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
}

/** The cost model and this isolate's estimated cost per million embeddings (docs/caching.md). */
function costInfo(report: CostReport) {
  const { prices } = report.model;
  return {
    cache_policy: report.policy,
    cpu_ms_per_token: report.model.cpuMsPerToken,
    cpu_figure_from: report.cpuFigure,
    cpu_figure_engine: report.engine,
    model_load_cpu_ms: report.model.modelLoadCpuMs,
    usd_per_million: {
      kv_reads: prices.kvReadPerMillion,
      kv_writes: prices.kvWritePerMillion,
      cpu_ms: prices.cpuMsPerMillion,
    },
    estimated_usd_per_million_embeddings: report.usdPerMillionEmbeddings,
  };
}

/**
 * Healthy once the default embedding model's manifest parses; never loads the model (a health probe must stay cheap). After a failed
 * model load it answers 503 until a load succeeds, and retries the load in the background (at most once per
 * RETRY_AFTER_SECONDS), so the service recovers by itself once the cause is gone.
 */
async function health(c: Context<AppEnv>, deps: AppRouteDeps): Promise<Response> {
  const config = c.get('config');
  const { service } = (await selectModel(c, deps, undefined, 'embedding')).model;
  const failedMsAgo = service.modelFailedMsAgo;
  if (failedMsAgo !== undefined) {
    if (failedMsAgo >= config.retryAfterSeconds * 1000) {
      const reload = service.model(config).catch(() => undefined);
      waitUntil(c, reload);
    }
    throw new ApiError('model_unavailable', 'not ready: the last model load failed; retrying', {
      retryAfterSeconds: config.retryAfterSeconds,
    });
  }
  return c.json({ status: 'ok' });
}

/** @example prefixKeys('lru', { entries: 3 }) // { lruEntries: 3 } */
function prefixKeys(prefix: string, values: Record<string, number>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(values).map(([key, value]) => [`${prefix}${key[0].toUpperCase()}${key.slice(1)}`, value]),
  );
}
