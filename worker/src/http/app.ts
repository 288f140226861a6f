/**
 * The HTTP API (Hono): the middleware (request counts, Analytics Engine data points, request log and config, CORS, API keys, rate limit, body
 * limit, inference slots) in front of the route groups of each API family, and the one place errors become responses.
 * The bundle and ORT runtime are passed in, so tests can build an app around any bundle.
 */
import { type Context, Hono } from 'hono';
import { methodNotAllowed } from 'hono/method-not-allowed';
import type { OrtRuntime } from '../../../bundle-runtime/ort-engine.js';
import type { BundleSource } from '../bundle/source.js';
import { ApiError, errorResponse, toApiError } from '../errors.js';
import { ModelCatalog } from '../models/catalog.js';
import type { AppEnv } from './context.js';
import { analytics } from './middleware/analytics.js';
import { apiKeyAuth } from './middleware/auth.js';
import { postBodyLimit } from './middleware/body-limit.js';
import { corsFromConfig } from './middleware/cors.js';
import { inferenceSlots } from './middleware/inference-slots.js';
import { jsonContentType } from './middleware/json-content-type.js';
import { rateLimit } from './middleware/rate-limit.js';
import { RequestCounts, requestCounts } from './middleware/request-counts.js';
import { requestLog } from './middleware/request-log.js';
import { metaRoutes } from './routes/meta.js';
import { openAiRoutes } from './routes/openai.js';
import { rankRoutes } from './routes/rank.js';
import { rerankRoutes } from './routes/rerank.js';
import { teiRoutes } from './routes/tei.js';

export interface AppDeps {
  /** What the app serves without MODELS. */
  bundle: BundleSource;
  /** The bundles compiled in, by the name MODELS gives them (`default`, `static-default`). */
  compiled?: Readonly<Record<string, BundleSource>>;
  ort: OrtRuntime;
  /** The plan engine's compiled kernels (engine/dist); without them every transformer runs on ONNX Runtime. */
  planKernels?: WebAssembly.Module;
  /** Bytes of the engines' WASM memories (ONNX Runtime's and the plan engine's), for /info. */
  wasmHeapBytes?: () => number;
  /** Milliseconds, for Server-Timing and logs. */
  now?: () => number;
}

export type App = Hono<AppEnv>;

/**
 * @example export default createApp({ bundle: defaultBundle, ort: workerdOrt })
 */
export function createApp(deps: AppDeps): App {
  const routeDeps = {
    models: new ModelCatalog(deps),
    now: deps.now ?? (() => performance.now()),
    wasmHeapBytes: deps.wasmHeapBytes,
  };
  const app = new Hono<AppEnv>();
  const isolate = { requests: new RequestCounts(), slots: { inFlight: 0, refused: 0 } };
  const isRoute = (path: string) => app.routes.some((route) => route.path === path && route.method !== 'ALL');
  app.use(requestCounts(isolate.requests, isRoute));
  app.use(analytics(routeDeps.now, isRoute));
  app.use(requestLog(routeDeps.now));
  app.use(corsFromConfig());
  // A 404 on a path some route serves under another method becomes a 405 listing those methods (from app.routes).
  app.use(methodNotAllowed({ app, onMethodNotAllowed: (c, methods) => methodNotAllowedResponse(c, methods) }));
  app.use(apiKeyAuth());
  app.use(rateLimit());
  app.use(postBodyLimit());
  app.use(jsonContentType());
  app.use(inferenceSlots(isolate.slots));
  app.route('/', openAiRoutes(routeDeps));
  app.route('/', teiRoutes(routeDeps));
  app.route('/', rankRoutes(routeDeps));
  app.route('/', rerankRoutes(routeDeps));
  app.route('/', metaRoutes(routeDeps, isolate));
  app.notFound((c) => answerError(c, new ApiError('not_found', `no route ${c.req.method} ${c.req.path}`)));
  app.onError((error, c) => {
    const apiError = toApiError(error);
    if (apiError.kind === 'internal') {
      const stack = (error as Error).stack;
      console.error(JSON.stringify({ level: 'error', event: 'unhandled', message: String(error), stack }));
    }
    return answerError(c, apiError);
  });
  return app;
}

function methodNotAllowedResponse(c: Context<AppEnv>, methods: string[]): Response {
  const allowed = methods.join(', ');
  const error = new ApiError('method_not_allowed', `${c.req.method} is not allowed on ${c.req.path}; use ${allowed}`);
  return answerError(c, error, { allow: allowed });
}

/** The error's status and JSON body; the request's log line records its kind. */
function answerError(c: Context<AppEnv>, error: ApiError, headers: Record<string, string> = {}): Response {
  const log = c.get('log');
  if (log !== undefined) log.error = error.kind;
  return errorResponse(error, headers);
}
