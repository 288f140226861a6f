/**
 * POST /v1/rank: documents ranked by cosine similarity to a query, sharing the embedding cache with the other routes.
 * With `rerank_top_k`, in two stages: the static bundle distilled from the served one (compiled in beside it) scores
 * every document for the price of a table lookup, and the transformer re-scores only the static top k.
 */
import { type Context, Hono } from 'hono';
import { isStaticManifest } from '../../../../bundle-format/manifest.js';
import type { EmbedResult } from '../../embedding/embed.js';
import { rankPrompts, withPrompt } from '../../embedding/prompts.js';
import { scoreDocuments } from '../../embedding/score.js';
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
  if (body.rerank_top_k === undefined) {
    const { scores, embedded } = await score(deps, documents);
    return c.json(rankBody(body, byScore(scores), manifest.modelName, tokens(embedded)), 200, embedHeaders(embedded));
  }

  const firstStage = await staticStage(c, deps);
  const staticScored = await score(firstStage, documents);
  const staticOrder = byScore(staticScored.scores);
  const rescored = staticOrder.slice(0, body.rerank_top_k).map(({ index }) => index);
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

/** The served bundle's static companion, refused unless it was distilled from exactly the served bundle. */
async function staticStage(c: Context<AppEnv>, deps: RouteDeps): Promise<RouteDeps> {
  const config = c.get('config');
  const manifest = await deps.service.manifest(config);
  const companion = deps.service.staticCompanion();
  if (isStaticManifest(manifest) || companion === undefined) {
    throw new ApiError(
      'invalid_request',
      'rerank_top_k needs a transformer bundle with a static bundle distilled from it; this worker serves none',
      { param: 'rerank_top_k' },
    );
  }
  const companionManifest = await companion.manifest(config);
  if (!isStaticManifest(companionManifest) || companionManifest.static.teacher.contentHash !== manifest.contentHash) {
    throw new ApiError(
      'invalid_request',
      `rerank_top_k: the compiled-in static bundle was not distilled from the served bundle ${manifest.contentHash.slice(0, 12)}; rebuild it (npm run build)`,
      { param: 'rerank_top_k' },
    );
  }
  return { ...deps, service: companion };
}

function tokens(embedded: EmbedResult): number {
  return embedded.tokens.reduce((sum, count) => sum + count, 0);
}
