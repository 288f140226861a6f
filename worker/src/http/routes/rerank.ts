/**
 * Re-ranking with a cross-encoder bundle: text-embeddings-inference's POST /rerank, and Cohere's and Jina's
 * POST /v1/rerank (which also takes Workers AI's `contexts` / `top_k` and answers it in Workers AI's shape). Scores come
 * from rerankDocuments (embedding/rerank.ts), cached per (query, document) pair. Limits: MAX_INPUTS documents and
 * RERANK_MAX_TOKENS tokens of uncached pairs per request, both in /info.
 */
import { type Context, Hono } from 'hono';
import type { CrossEncoderBundleManifest } from '../../../../bundle-format/manifest.js';
import type { Config } from '../../config.js';
import { type RerankRequest as CoreRerankRequest, rerankDocuments } from '../../embedding/rerank.js';
import { ApiError } from '../../errors.js';
import type { ModelRegistry, ServedModel } from '../../models/registry.js';
import { type AppEnv, type AppRouteDeps, embed, embedHeaders, selectModel } from '../context.js';
import { checkInputs, parseBody } from '../wire/parse.js';
import {
  byRelevance,
  RerankRequest,
  rerankBody,
  TeiRerankRequest,
  teiRerankBody,
  workersAiRerankBody,
} from '../wire/rerank.js';

/** @example app.route('/', rerankRoutes(deps)) */
export function rerankRoutes(deps: AppRouteDeps): Hono<AppEnv> {
  return new Hono<AppEnv>().post('/rerank', (c) => teiRerank(c, deps)).post('/v1/rerank', (c) => rerank(c, deps));
}

async function teiRerank(c: Context<AppEnv>, deps: AppRouteDeps): Promise<Response> {
  const body = parseBody(await c.req.text(), TeiRerankRequest);
  const { scores, headers } = await score(c, deps, undefined, {
    query: body.query,
    documents: body.texts,
    param: 'texts',
    rawScores: body.raw_scores,
    truncate: body.truncate ?? false,
    truncationDirection: body.truncation_direction,
  });
  return c.json(teiRerankBody(byRelevance(scores), body.texts, body.return_text), 200, headers);
}

async function rerank(c: Context<AppEnv>, deps: AppRouteDeps): Promise<Response> {
  const body = parseBody(await c.req.text(), RerankRequest);
  const workersAi = body.contexts !== undefined;
  const texts = (body.documents ?? body.contexts ?? []).map((d) => (typeof d === 'string' ? d : d.text));
  const { scores, headers, model, tokens } = await score(c, deps, body.model, {
    query: body.query,
    documents: texts,
    param: workersAi ? 'contexts' : 'documents',
    rawScores: false,
    truncate: body.truncate,
    truncationDirection: 'right',
  });
  const ranked = byRelevance(scores);
  const response = workersAi
    ? workersAiRerankBody(ranked, body.top_k ?? body.top_n)
    : rerankBody(ranked, body, texts, model, tokens);
  return c.json(response, 200, headers);
}

type ScoreOptions = Pick<CoreRerankRequest, 'query' | 'documents' | 'param' | 'rawScores' | 'truncate'> &
  Pick<CoreRerankRequest, 'truncationDirection'>;

/** Checks the query and documents against the limits, then scores every pair with the chosen (or default) reranker. */
async function score(c: Context<AppEnv>, appDeps: AppRouteDeps, requested: string | undefined, options: ScoreOptions) {
  const config = c.get('config');
  checkInputs([{ text: options.query }], config, 'query', true);
  checkInputs(
    options.documents.map((text) => ({ text })),
    config,
    options.param,
    false,
  );
  const { model, deps } = await selectModel(c, appDeps, requested, 'rerank');
  // select() gives a model of the rerank role's kinds, so a cross-encoder.
  const manifest = model.manifest as CrossEncoderBundleManifest;
  const { scores, embedded } = await rerankDocuments(
    manifest,
    { ...options, tooLongKind: 'input_too_long', maxInferenceTokens: config.rerankMaxTokens },
    (request) => embed(c, deps, manifest, request),
  );
  const tokens = embedded.tokens.reduce((sum, count) => sum + count, 0);
  return { scores, headers: embedHeaders(embedded), model: model.id, tokens };
}

/**
 * /info's `reranking`: the default reranker's name, hash and pair length, and the request limits; null without one.
 * @example await rerankingInfo(registry, config) // { model: 'reranker-fixture', max_documents: 256, ... }
 */
export async function rerankingInfo(registry: ModelRegistry, config: Config) {
  let reranker: ServedModel;
  try {
    reranker = await registry.select(undefined, 'rerank', config);
  } catch (error) {
    if (error instanceof ApiError && error.kind === 'model_not_found') return null;
    throw error;
  }
  return {
    model: reranker.id,
    bundle_hash: reranker.manifest.contentHash,
    max_input_length: reranker.manifest.maxTokens,
    max_documents: config.maxInputs,
    max_pair_tokens: config.rerankMaxTokens,
    loaded: reranker.service.modelLoaded,
    // Engine runs of the reranker (micro-batches) and the pairs they scored.
    inferences: reranker.service.counters.inferences,
    scored_pairs: reranker.service.counters.embeddedSequences,
  };
}
