/**
 * The HTTP API (Hono): OpenAI's POST /v1/embeddings and GET /v1/models, text-embeddings-inference's POST /embed,
 * POST /similarity and POST /tokenize, POST /v1/rank, GET /info, GET /health and the page at GET /. Routes only
 * translate between HTTP and the pipeline; the bundle and ORT runtime are passed in, so tests can build an app around
 * any bundle.
 */
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { BundleManifest } from '../../bundle-format/manifest.js';
import { isAuthorized } from './auth.js';
import type { BundleSource } from './bundle/source.js';
import { readConfig, type Config } from './config.js';
import type { Env } from './env.js';
import { ApiError, errorResponse, toApiError } from './errors.js';
import { embedInputs, type EmbedResult } from './pipeline/embed.js';
import type { OrtRuntime } from '../../bundle-runtime/ort-engine.js';
import { playgroundResponse } from './page/playground.js';
import { documentText, RankRequest, rankBody, scoreDocuments, TeiSimilarityRequest } from './pipeline/rank.js';
import { openAiEmbeddingsBody, shapeVector, teiEmbedBody } from './pipeline/respond.js';
import {
  checkInputs,
  openAiInputs,
  OpenAiEmbeddingsRequest,
  parseBody,
  TeiEmbedRequest,
  teiTexts,
  TeiTokenizeRequest,
  type EmbedRequest,
} from './pipeline/validate.js';
import { EmbeddingService } from './service.js';

export interface AppDeps {
  bundle: BundleSource;
  ort: OrtRuntime;
  /** Bytes of ORT's WASM memory, for /info. */
  wasmHeapBytes?: () => number;
  /** Milliseconds, for Server-Timing and logs. */
  now?: () => number;
}

interface RequestLog {
  inputs?: number;
  tokens?: number;
  cacheHits?: number;
  cacheMisses?: number;
  error?: string;
}

type AppEnv = { Bindings: Env; Variables: { config: Config; log: RequestLog } };

const ROUTES: Record<string, string[]> = {
  '/v1/embeddings': ['POST'],
  '/embed': ['POST'],
  '/tokenize': ['POST'],
  '/info': ['GET'],
  '/health': ['GET'],
  '/v1/models': ['GET'],
  '/v1/rank': ['POST'],
  '/similarity': ['POST'],
  '/': ['GET'],
};

/**
 * @example export default createApp({ bundle: defaultBundle, ort: workerdOrt })
 */
export function createApp(deps: AppDeps): Hono<AppEnv> {
  const now = deps.now ?? (() => performance.now());
  const service = new EmbeddingService(deps.bundle, deps.ort);
  let announcedAuth = false;
  const app = new Hono<AppEnv>();

  app.use('*', async (c, next) => {
    const started = now();
    const log: RequestLog = {};
    c.set('log', log);
    try {
      c.set('config', readConfig(c.env ?? {}));
    } catch (error) {
      console.error(JSON.stringify({ level: 'error', event: 'config_invalid', message: String(error) }));
      throw error;
    }
    await next();
    console.log(
      JSON.stringify({
        level: c.res.status >= 500 ? 'error' : 'info',
        event: 'request',
        method: c.req.method,
        path: c.req.path,
        status: c.res.status,
        ms: Math.round((now() - started) * 10) / 10,
        ...log,
      }),
    );
  });

  app.use('*', async (c, next) => {
    const { apiKeys } = c.get('config');
    if (!announcedAuth) {
      announcedAuth = true;
      const message = apiKeys.length === 0 ? 'no API_KEYS configured: the API is open to anyone' : `${apiKeys.length} API key(s) configured`;
      console.log(JSON.stringify({ level: apiKeys.length === 0 ? 'warn' : 'info', event: 'auth', message }));
    }
    // The page holds no data: it loads without a key and sends the one typed into it.
    if (apiKeys.length === 0 || c.req.path === '/health' || (c.req.path === '/' && c.req.method === 'GET')) return next();
    if (!(await isAuthorized(c.req.header('authorization'), apiKeys))) {
      throw new ApiError('unauthorized', 'missing or invalid API key; send "Authorization: Bearer <key>"');
    }
    return next();
  });

  app.use('*', async (c, next) => {
    if (c.req.method !== 'POST') return next();
    const maxSize = c.get('config').maxBodyBytes;
    return bodyLimit({
      maxSize,
      onError: () => {
        throw new ApiError('body_too_large', `the request body is larger than the limit of ${maxSize} bytes`);
      },
    })(c, next);
  });

  app.post('/v1/embeddings', async (c) => {
    const config = c.get('config');
    const body = parseBody(await c.req.text(), OpenAiEmbeddingsRequest);
    const inputs = openAiInputs(body.input);
    const single = typeof body.input === 'string' || typeof body.input[0] === 'number';
    checkInputs(inputs, config, 'input', single);
    const manifest = await service.manifest(config);
    checkDimensions(manifest, body.dimensions);
    const request: EmbedRequest = {
      inputs,
      param: 'input',
      truncate: false,
      truncationDirection: 'right',
      tooLongKind: 'context_length_exceeded',
    };
    const result = await embed(c, manifest, request);
    const vectors = result.embeddings.map((entry) => responseVector(entry.vector, manifest, body.dimensions, true));
    const promptTokens = result.tokens.reduce((sum, tokens) => sum + tokens, 0);
    return c.json(openAiEmbeddingsBody(vectors, body.encoding_format, manifest.modelName, promptTokens), 200, embedHeaders(result));
  });

  app.post('/embed', async (c) => {
    const config = c.get('config');
    const body = parseBody(await c.req.text(), TeiEmbedRequest);
    const texts = teiTexts(body.inputs, config);
    const manifest = await service.manifest(config);
    const dimensions = body.dimensions ?? undefined;
    checkDimensions(manifest, dimensions);
    const request: EmbedRequest = {
      inputs: texts.map((text) => ({ text })),
      param: 'inputs',
      truncate: body.truncate ?? false,
      truncationDirection: body.truncation_direction,
      tooLongKind: 'input_too_long',
    };
    const result = await embed(c, manifest, request);
    const vectors = result.embeddings.map((entry) => responseVector(entry.vector, manifest, dimensions, body.normalize));
    return c.json(teiEmbedBody(vectors), 200, embedHeaders(result));
  });

  app.post('/v1/rank', async (c) => {
    const config = c.get('config');
    const body = parseBody(await c.req.text(), RankRequest);
    const documents = body.documents.map(documentText);
    checkInputs([{ text: body.query }], config, 'query', true);
    checkInputs(documents.map((text) => ({ text })), config, 'documents', false);
    const manifest = await service.manifest(config);
    const { scores, embedded } = await scoreDocuments(
      {
        query: body.query,
        documents,
        queryParam: 'query',
        documentsParam: 'documents',
        truncate: body.truncate,
        truncationDirection: 'right',
        tooLongKind: 'context_length_exceeded',
      },
      (request) => embed(c, manifest, request),
    );
    const promptTokens = embedded.tokens.reduce((sum, tokens) => sum + tokens, 0);
    return c.json(rankBody(body, scores, manifest.modelName, promptTokens), 200, embedHeaders(embedded));
  });

  app.post('/similarity', async (c) => {
    const config = c.get('config');
    const { inputs, parameters } = parseBody(await c.req.text(), TeiSimilarityRequest);
    checkInputs([{ text: inputs.source_sentence }], config, 'inputs.source_sentence', true);
    checkInputs(inputs.sentences.map((text) => ({ text })), config, 'inputs.sentences', false);
    const manifest = await service.manifest(config);
    const { scores, embedded } = await scoreDocuments(
      {
        query: inputs.source_sentence,
        documents: inputs.sentences,
        queryParam: 'inputs.source_sentence',
        documentsParam: 'inputs.sentences',
        truncate: parameters?.truncate ?? false,
        truncationDirection: parameters?.truncation_direction ?? 'right',
        tooLongKind: 'input_too_long',
      },
      (request) => embed(c, manifest, request),
    );
    return c.json(scores, 200, embedHeaders(embedded));
  });

  app.get('/', () => playgroundResponse());

  app.post('/tokenize', async (c) => {
    const config = c.get('config');
    const body = parseBody(await c.req.text(), TeiTokenizeRequest);
    const texts = teiTexts(body.inputs, config);
    const tokenizer = await service.tokenizer(config);
    c.get('log').inputs = texts.length;
    return c.json(
      texts.map((text) =>
        tokenizer.details(text, body.add_special_tokens).map((token) => ({ ...token, start: null, stop: null })),
      ),
    );
  });

  app.get('/info', async (c) => {
    const config = c.get('config');
    const manifest = await service.manifest(config);
    const counters = service.counters;
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
      loaded: service.modelLoaded,
      wasm_heap_bytes: deps.wasmHeapBytes?.() ?? null,
      auth: config.apiKeys.length === 0 ? 'open' : 'api_key',
      counters: { ...counters, ...prefixKeys('lru', service.lruStats) },
    });
  });

  // Healthy once the bundle's manifest parses; never loads the model (a health probe must stay cheap). After a failed
  // model load it answers 503 until a load succeeds, and retries the load in the background (at most once per
  // RETRY_AFTER_SECONDS), so the service recovers by itself once the cause is gone.
  app.get('/health', async (c) => {
    const config = c.get('config');
    await service.manifest(config);
    const failedMsAgo = service.modelFailedMsAgo;
    if (failedMsAgo !== undefined) {
      if (failedMsAgo >= config.retryAfterSeconds * 1000) waitUntil(c, service.model(config).catch(() => undefined));
      throw new ApiError('model_unavailable', 'not ready: the last model load failed; retrying', {
        retryAfterSeconds: config.retryAfterSeconds,
      });
    }
    return c.json({ status: 'ok' });
  });

  app.get('/v1/models', async (c) => {
    const manifest = await service.manifest(c.get('config'));
    return c.json({
      object: 'list',
      data: [{ id: manifest.modelName, object: 'model', created: 0, owned_by: 'edge-embed' }],
    });
  });

  app.notFound((c) => {
    const allowed = ROUTES[c.req.path];
    if (allowed === undefined) throw new ApiError('not_found', `no route ${c.req.method} ${c.req.path}`);
    throw new ApiError('method_not_allowed', `${c.req.method} is not allowed on ${c.req.path}; use ${allowed.join(', ')}`);
  });

  app.onError((error, c) => {
    const apiError = toApiError(error);
    if (apiError.kind === 'internal') {
      console.error(JSON.stringify({ level: 'error', event: 'unhandled', message: String(error), stack: (error as Error).stack }));
    }
    const log = c.get('log');
    if (log !== undefined) log.error = apiError.kind;
    const headers: Record<string, string> = apiError.kind === 'method_not_allowed' ? { allow: ROUTES[c.req.path].join(', ') } : {};
    return errorResponse(apiError, headers);
  });

  async function embed(c: Context<AppEnv>, manifest: BundleManifest, request: EmbedRequest): Promise<EmbedResult> {
    const config = c.get('config');
    const result = await embedInputs(request, {
      manifest,
      tokenizer: () => service.tokenizer(config),
      model: () => service.model(config),
      cache: service.cache(c.env ?? {}, config, manifest),
      batchLimits: config,
      waitUntil: (promise) => waitUntil(c, promise),
      now,
    });
    Object.assign(c.get('log'), {
      inputs: request.inputs.length,
      tokens: result.tokens.reduce((sum, tokens) => sum + tokens, 0),
      cacheHits: result.hits,
      cacheMisses: result.misses,
    });
    return result;
  }

  return app;
}

function checkDimensions(manifest: BundleManifest, dimensions: number | undefined): void {
  if (dimensions === undefined || manifest.allowedDimensions.includes(dimensions)) return;
  throw new ApiError(
    'unsupported_dimensions',
    `dimensions: ${dimensions} is not supported by ${manifest.modelName}; use one of ${manifest.allowedDimensions.join(', ')}`,
    { param: 'dimensions' },
  );
}

/**
 * The vector as the client asked for it. A bundle with normalisation folded into the graph already yields unit
 * vectors, so they are renormalised only after a Matryoshka cut; `normalize: false` cannot undo the graph's own.
 */
function responseVector(vector: Float32Array, manifest: BundleManifest, dimensions: number | undefined, normalize: boolean) {
  const cut = dimensions !== undefined && dimensions < manifest.dimensions;
  return shapeVector(vector, { dimensions, normalize: normalize && (cut || !manifest.normalize) });
}

function embedHeaders(result: EmbedResult): Record<string, string> {
  const { cache, tokenize, inference } = result.timings;
  const ms = (value: number) => (Math.round(value * 100) / 100).toString();
  return {
    'server-timing': `cache;dur=${ms(cache)}, tokenize;dur=${ms(tokenize)}, inference;dur=${ms(inference)}`,
    'x-cache-hits': String(result.hits),
    'x-cache-misses': String(result.misses),
  };
}

/** Background work outlives the response under ctx.waitUntil; without an execution context (plain tests) it just runs. */
function waitUntil(c: Context<AppEnv>, promise: Promise<unknown>): void {
  let executionCtx: { waitUntil(promise: Promise<unknown>): void } | undefined;
  try {
    executionCtx = c.executionCtx;
  } catch {
    executionCtx = undefined;
  }
  if (executionCtx !== undefined) executionCtx.waitUntil(promise);
  else promise.catch(() => undefined);
}

function prefixKeys(prefix: string, values: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(values).map(([key, value]) => [`${prefix}${key[0].toUpperCase()}${key.slice(1)}`, value]));
}
