/**
 * About the service rather than embeddings: GET /info (text-embeddings-inference's fields plus the bundle, auth mode
 * and counters), GET /health and the page at GET /.
 */
import { type Context, Hono } from 'hono';
import type { CostReport } from '../../embedding/service.js';
import { ApiError } from '../../errors.js';
import { type AppEnv, type RouteDeps, waitUntil } from '../context.js';
import { playgroundResponse } from '../playground.js';

/** @example app.route('/', metaRoutes(deps)) */
export function metaRoutes(deps: RouteDeps): Hono<AppEnv> {
  return new Hono<AppEnv>()
    .get('/', () => playgroundResponse())
    .get('/info', (c) => info(c, deps))
    .get('/health', (c) => health(c, deps));
}

async function info(c: Context<AppEnv>, { service, wasmHeapBytes }: RouteDeps): Promise<Response> {
  const config = c.get('config');
  const manifest = await service.manifest(config);
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
    loaded: service.modelLoaded,
    wasm_heap_bytes: wasmHeapBytes?.() ?? null,
    auth: config.apiKeys.length === 0 ? 'open' : 'api_key',
    counters: { ...service.counters, ...prefixKeys('lru', service.lruStats) },
    cost: costInfo(service.costReport(config, manifest)),
  });
}

/** The cost model and this isolate's estimated cost per million embeddings (docs/caching.md). */
function costInfo(report: CostReport) {
  const { prices } = report.model;
  return {
    cache_policy: report.policy,
    cpu_ms_per_token: report.model.cpuMsPerToken,
    cpu_figure_from: report.cpuFigure,
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
 * Healthy once the bundle's manifest parses; never loads the model (a health probe must stay cheap). After a failed
 * model load it answers 503 until a load succeeds, and retries the load in the background (at most once per
 * RETRY_AFTER_SECONDS), so the service recovers by itself once the cause is gone.
 */
async function health(c: Context<AppEnv>, { service }: RouteDeps): Promise<Response> {
  const config = c.get('config');
  await service.manifest(config);
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
