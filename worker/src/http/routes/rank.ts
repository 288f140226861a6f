/**
 * POST /v1/rank: documents ranked by cosine similarity to a query, sharing the embedding cache with the other routes.
 * With `rerank_top_k`, in two stages: the static bundle distilled from the served one (compiled in beside it) scores
 * every document for the price of a table lookup, and the transformer re-scores only the static top k. A request
 * without `rerank_top_k` gets the tenant's RERANK_TOP_K when the worker can rank in two stages, one stage otherwise.
 */
import { type Context, Hono } from 'hono';
import type { EmbedResult } from '../../embedding/embed.js';
import { rankPrompts, withPrompt } from '../../embedding/prompts.js';
import { scoreDocuments } from '../../embedding/score.js';
import { firstStage } from '../../embedding/two-stage.js';
import { ApiError } from '../../errors.js';
import { type AppEnv, embed, embedHeaders, type RouteDeps } from '../context.js';
import { checkInputs, parseBody } from '../wire/parse.js';
import { byScore, documentText, RankRequest, rankBody, twoStageOrder } from '../wire/rank.js';

/** @example app.route('/', rankRoutes(deps)) */
export function rankRoutes(deps: RouteDeps): Hono<AppEnv> {
  return new Hono<AppEnv>().post('/v1/rank', (c) => rank(c, deps));
}

async function rank(c: Context<AppEnv>, deps: RouteDeps): Promise<Response> {
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
  const manifest = await deps.service.manifest(config);
  const score = (stageDeps: RouteDeps, stageDocuments: readonly string[]) =>
    stageDeps.service.manifest(config).then((stageManifest) => {
      // With the model's query and document prompts (e5's `query: ` / `passage: `), when it has them.
      const prompts = rankPrompts(stageManifest, config.defaultPromptName);
      return scoreDocuments(
        {
          query: prompts.query + body.query,
          documents: withPrompt(prompts.document, stageDocuments),
          queryParam: 'query',
          documentsParam: 'documents',
          truncate: body.truncate,
          truncationDirection: 'right',
          tooLongKind: 'context_length_exceeded',
        },
        (request) => embed(c, stageDeps, stageManifest, request),
      );
    });
  const stages = await twoStages(c, deps, body.rerank_top_k);
  if (stages === undefined) {
    const { scores, embedded } = await score(deps, documents);
    return c.json(rankBody(body, byScore(scores), manifest.modelName, tokens(embedded)), 200, embedHeaders(embedded));
  }

  const staticScored = await score(stages.first, documents);
  const staticOrder = byScore(staticScored.scores);
  const rescored = staticOrder.slice(0, stages.topK).map(({ index }) => index);
  const transformer = await score(
    deps,
    rescored.map((index) => documents[index]),
  );
  const order = twoStageOrder(staticOrder, rescored, transformer.scores);
  const promptTokens = tokens(staticScored.embedded) + tokens(transformer.embedded);
  return c.json(rankBody(body, order, manifest.modelName, promptTokens), 200, {
    ...embedHeaders(transformer.embedded),
    'x-static-cache-hits': String(staticScored.embedded.hits),
    'x-static-cache-misses': String(staticScored.embedded.misses),
  });
}

/**
 * The first stage and k when ranking in two stages: the request's rerank_top_k (refused with 400 if this worker cannot
 * rank in two stages), else the tenant's RERANK_TOP_K where it can; undefined for one stage.
 */
async function twoStages(
  c: Context<AppEnv>,
  deps: RouteDeps,
  requested: number | undefined,
): Promise<{ first: RouteDeps; topK: number } | undefined> {
  const config = c.get('config');
  const topK = requested ?? config.rerankTopK;
  if (topK === undefined) return undefined;
  const stage = await firstStage(deps.service, config);
  if (stage.service !== undefined) return { first: { ...deps, service: stage.service }, topK };
  if (requested === undefined) return undefined;
  throw new ApiError('invalid_request', `rerank_top_k: ${stage.problem}`, { param: 'rerank_top_k' });
}

function tokens(embedded: EmbedResult): number {
  return embedded.tokens.reduce((sum, count) => sum + count, 0);
}
