/**
 * POST /v1/rank: documents ranked by cosine similarity to a query with the `model` it names (else the default embedding
 * model), sharing the embedding cache with the other routes. With `rerank_top_k`, in two stages: `model` scores every
 * document and `rerank_model` (an embedding model or a cross-encoder) re-scores its top k. Without `rerank_model`, the first stage is the static bundle distilled
 * from `model` (compiled in beside it), which scores every document for the price of a table lookup, and `model`
 * re-scores. A request without `rerank_top_k` gets the tenant's RERANK_TOP_K when it can rank in two stages, one stage
 * otherwise.
 */
import { type Context, Hono } from 'hono';
import { isCrossEncoderManifest } from '../../../../bundle-format/manifest.js';
import type { EmbedRequest, EmbedResult } from '../../embedding/embed.js';
import { rankPrompts, withPrompt } from '../../embedding/prompts.js';
import { rerankDocuments } from '../../embedding/rerank.js';
import { scoreDocuments } from '../../embedding/score.js';
import { firstStage } from '../../embedding/two-stage.js';
import { ApiError } from '../../errors.js';
import type { ServedModel } from '../../models/registry.js';
import { type AppEnv, type AppRouteDeps, embed, embedHeaders, type RouteDeps, selectModel } from '../context.js';
import { checkInputs, parseBody } from '../wire/parse.js';
import { byScore, documentText, RankRequest, type RankStage, rankBody, twoStageOrder } from '../wire/rank.js';

/** @example app.route('/', rankRoutes(deps)) */
export function rankRoutes(deps: AppRouteDeps): Hono<AppEnv> {
  return new Hono<AppEnv>().post('/v1/rank', (c) => rank(c, deps));
}

/** A model as one ranking stage: its route deps and what a result says scored it. */
interface Stage {
  id: string;
  label: RankStage;
  deps: RouteDeps;
}

async function rank(c: Context<AppEnv>, appDeps: AppRouteDeps): Promise<Response> {
  const config = c.get('config');
  const body = parseBody(await c.req.text(), RankRequest);
  const documents = body.documents.map(documentText);
  checkInputs([{ text: body.query }], config, 'query', true);
  checkInputs(
    documents.map((text) => ({ text })),
    config,
    'documents',
    false,
  );
  const score = (stage: Stage, stageDocuments: readonly string[]) => scoreStage(c, stage, body, stageDocuments);
  const stages = await rankStages(c, appDeps, body);
  if (stages.second === undefined || stages.topK === undefined) {
    const { scores, embedded } = await score(stages.first, documents);
    return c.json(rankBody(body, byScore(scores), stages.first.id, tokens(embedded)), 200, embedHeaders(embedded));
  }

  const firstScored = await score(stages.first, documents);
  const firstOrder = byScore(firstScored.scores);
  const rescored = firstOrder.slice(0, stages.topK).map(({ index }) => index);
  const second = await score(
    stages.second,
    rescored.map((index) => documents[index]),
  );
  const order = twoStageOrder(firstOrder, rescored, second.scores, [stages.first.label, stages.second.label]);
  const promptTokens = tokens(firstScored.embedded) + tokens(second.embedded);
  const prefix = stages.first.label === 'static' ? 'x-static' : 'x-first-stage';
  return c.json(rankBody(body, order, stages.second.id, promptTokens), 200, {
    ...embedHeaders(second.embedded),
    [`${prefix}-cache-hits`]: String(firstScored.embedded.hits),
    [`${prefix}-cache-misses`]: String(firstScored.embedded.misses),
  });
}

/**
 * One stage's scores: a cross-encoder's relevance (sigmoid of its logit) for each (query, document) pair, else the
 * cosine of the query's and each document's vectors, with the model's query and document prompts (e5's `query: ` /
 * `passage: `) when it has them.
 */
async function scoreStage(
  c: Context<AppEnv>,
  stage: Stage,
  body: RankRequest,
  documents: readonly string[],
): Promise<{ scores: number[]; embedded: EmbedResult }> {
  const config = c.get('config');
  const manifest = await stage.deps.service.manifest(config);
  const embedWith = (request: EmbedRequest) => embed(c, stage.deps, manifest, request);
  const options = {
    truncate: body.truncate,
    truncationDirection: 'right',
    tooLongKind: 'context_length_exceeded',
  } as const;
  if (isCrossEncoderManifest(manifest)) {
    const request = { ...options, query: body.query, documents, param: 'documents', rawScores: false };
    return rerankDocuments(manifest, { ...request, maxInferenceTokens: config.rerankMaxTokens }, embedWith);
  }
  const prompts = rankPrompts(manifest, config.defaultPromptName);
  const request = {
    ...options,
    query: prompts.query + body.query,
    documents: withPrompt(prompts.document, documents),
    queryParam: 'query',
    documentsParam: 'documents',
  };
  return scoreDocuments(request, embedWith);
}

/**
 * The stages the request asks for: `model` alone; `model` then `rerank_model`; or `model`'s static companion then it.
 * k is the request's rerank_top_k, else the tenant's RERANK_TOP_K where two stages are possible.
 */
async function rankStages(
  c: Context<AppEnv>,
  appDeps: AppRouteDeps,
  body: RankRequest,
): Promise<{ first: Stage; second?: Stage; topK?: number }> {
  const config = c.get('config');
  const topK = body.rerank_top_k ?? config.rerankTopK;
  if (body.rerank_model !== undefined && topK === undefined) {
    throw new ApiError(
      'invalid_request',
      "rerank_model re-scores the first stage's best rerank_top_k documents: give rerank_top_k",
      {
        param: 'rerank_top_k',
      },
    );
  }
  const chosen = await selectModel(c, appDeps, body.model, 'embedding');
  const first = stageOf(chosen.model, chosen.deps);
  if (topK === undefined) return { first };
  if (body.rerank_model !== undefined) {
    const reranker = await selectModel(c, appDeps, body.rerank_model, 'second_stage');
    return { first, second: stageOf(reranker.model, reranker.deps), topK };
  }
  const companion = appDeps.models.registry(c.env ?? {}, config).companion(chosen.model);
  const stage = await firstStage(chosen.model.service, config, companion);
  if (stage.service !== undefined) {
    const { modelName } = await stage.service.manifest(config);
    return {
      first: { id: modelName, label: 'static', deps: { ...appDeps, service: stage.service } },
      second: first,
      topK,
    };
  }
  if (body.rerank_top_k === undefined) return { first };
  throw new ApiError('invalid_request', `rerank_top_k: ${stage.problem}`, { param: 'rerank_top_k' });
}

function stageOf(model: ServedModel, deps: RouteDeps): Stage {
  return { id: model.id, label: model.kind, deps };
}

function tokens(embedded: EmbedResult): number {
  return embedded.tokens.reduce((sum, count) => sum + count, 0);
}
