/**
 * What the route groups share: the Hono env (bindings plus the request's config and log line), the dependencies an
 * app is built around, and the step from a checked request to the embedding core.
 */
import type { Context } from 'hono';
import type { BundleManifest } from '../../../bundle-format/manifest.js';
import type { Config } from '../config.js';
import { type EmbedRequest, type EmbedResult, embedInputs } from '../embedding/embed.js';
import type { EmbeddingService } from '../embedding/service.js';
import type { Env } from '../env.js';
import type { ModelCatalog } from '../models/catalog.js';
import type { ModelRole, ServedModel } from '../models/registry.js';
import { holdInferenceSlot } from './middleware/inference-slots.js';

/** The fields a request adds to its one log line. */
export interface RequestLog {
  inputs?: number;
  tokens?: number;
  cacheHits?: number;
  cacheMisses?: number;
  /** The bundle that embedded, and the milliseconds its inference took (all of a request's calls). */
  model?: string;
  bundleHash?: string;
  inferenceMs?: number;
  error?: string;
}

export type AppEnv = {
  Bindings: Env;
  /** holdInferenceSlot: set by the inference-slots middleware (call `holdInferenceSlot(c)` from its file). */
  Variables: { config: Config; log: RequestLog; holdInferenceSlot?: () => void };
};

/** What every route group is built around: one per app. */
export interface AppRouteDeps {
  /** The models the app serves (MODELS, or the one bundle it was built around). */
  models: ModelCatalog;
  /** Milliseconds, for Server-Timing and logs. */
  now: () => number;
  /** Bytes of the engines' WASM memories (ONNX Runtime's and the plan engine's), for /info. */
  wasmHeapBytes?: () => number;
}

/** A route's dependencies once it has chosen its model. */
export interface RouteDeps extends AppRouteDeps {
  service: EmbeddingService;
}

/**
 * The model a request's `model` names (absent: the default one for the role), with the deps to embed with it.
 * @example const { model, deps: modelDeps } = await selectModel(c, deps, body.model, 'embedding')
 */
export async function selectModel(
  c: Context<AppEnv>,
  deps: AppRouteDeps,
  requested: string | undefined,
  role: ModelRole,
): Promise<{ model: ServedModel; deps: RouteDeps }> {
  const config = c.get('config');
  const model = await deps.models.registry(c.env ?? {}, config).select(requested, role, config);
  return { model, deps: { ...deps, service: model.service } };
}

/**
 * Embeds a checked request with the app's model and the request's cache, and notes the counts in its log line.
 * @example const result = await embed(c, deps, manifest, { inputs: [{ text: 'hi' }], param: 'input', ... })
 */
export async function embed(
  c: Context<AppEnv>,
  deps: RouteDeps,
  manifest: BundleManifest,
  request: EmbedRequest,
): Promise<EmbedResult> {
  const config = c.get('config');
  const { service } = deps;
  holdInferenceSlot(c);
  const result = await embedInputs(request, {
    manifest,
    tokenizer: () => service.tokenizer(config),
    model: () => service.model(config),
    cache: service.cache(c.env ?? {}, config, manifest),
    modelLoaded: service.modelLoaded,
    hedgeAfterMs: config.hedgeAfterMs,
    batchLimits: config,
    waitUntil: (promise) => waitUntil(c, promise),
    now: deps.now,
  });
  service.countEmbeddings(request.inputs.length, result.inferenceTokens);
  const log = c.get('log');
  Object.assign(log, {
    model: manifest.modelName,
    bundleHash: manifest.contentHash,
    inferenceMs: Math.round(((log.inferenceMs ?? 0) + result.timings.inference) * 10) / 10,
    inputs: request.inputs.length,
    tokens: result.tokens.reduce((sum, tokens) => sum + tokens, 0),
    cacheHits: result.hits,
    cacheMisses: result.misses,
  });
  return result;
}

/** Server-Timing and cache counts for a response that embedded something. */
export function embedHeaders(result: EmbedResult): Record<string, string> {
  const { cache, tokenize, inference } = result.timings;
  const ms = (value: number) => (Math.round(value * 100) / 100).toString();
  return {
    'server-timing': `cache;dur=${ms(cache)}, tokenize;dur=${ms(tokenize)}, inference;dur=${ms(inference)}`,
    'x-cache-hits': String(result.hits),
    'x-cache-misses': String(result.misses),
    ...(result.hedged ? { 'x-cache-hedged': 'true' } : {}),
  };
}

/** Background work outlives the response under ctx.waitUntil; without an execution context (plain tests) it just runs. */
export function waitUntil(c: Context<AppEnv>, promise: Promise<unknown>): void {
  let executionCtx: { waitUntil(promise: Promise<unknown>): void } | undefined;
  try {
    executionCtx = c.executionCtx;
  } catch {
    executionCtx = undefined;
  }
  if (executionCtx !== undefined) executionCtx.waitUntil(promise);
  else promise.catch(() => undefined);
}
