/**
 * POST /v1/rank: documents ranked by cosine similarity to a query, sharing the embedding cache with the other routes.
 */
import { type Context, Hono } from 'hono';
import { scoreDocuments } from '../../embedding/score.js';
import { type AppEnv, embed, embedHeaders, type RouteDeps } from '../context.js';
import { checkInputs, parseBody } from '../wire/parse.js';
import { documentText, RankRequest, rankBody } from '../wire/rank.js';

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
    (request) => embed(c, deps, manifest, request),
  );
  const promptTokens = embedded.tokens.reduce((sum, tokens) => sum + tokens, 0);
  return c.json(rankBody(body, scores, manifest.modelName, promptTokens), 200, embedHeaders(embedded));
}
