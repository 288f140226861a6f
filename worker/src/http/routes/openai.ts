/**
 * OpenAI's API: POST /v1/embeddings (texts or token id arrays, float or base64 vectors, Matryoshka `dimensions`) and
 * GET /v1/models, so OpenAI's clients work against the worker unchanged.
 */
import { type Context, Hono } from 'hono';
import type { EmbedRequest } from '../../embedding/embed.js';
import { type AppEnv, embed, embedHeaders, type RouteDeps } from '../context.js';
import { OpenAiEmbeddingsRequest, openAiEmbeddingsBody, openAiInputs } from '../wire/openai.js';
import { checkInputs, parseBody } from '../wire/parse.js';
import { checkDimensions, responseVector } from '../wire/vector.js';

/** @example app.route('/', openAiRoutes(deps)) */
export function openAiRoutes(deps: RouteDeps): Hono<AppEnv> {
  return new Hono<AppEnv>()
    .post('/v1/embeddings', (c) => embeddings(c, deps))
    .get('/v1/models', (c) => models(c, deps));
}

async function embeddings(c: Context<AppEnv>, deps: RouteDeps): Promise<Response> {
  const config = c.get('config');
  const body = parseBody(await c.req.text(), OpenAiEmbeddingsRequest);
  const inputs = openAiInputs(body.input);
  const single = typeof body.input === 'string' || typeof body.input[0] === 'number';
  checkInputs(inputs, config, 'input', single);
  const manifest = await deps.service.manifest(config);
  checkDimensions(manifest, body.dimensions);
  // OpenAI refuses an over-long input; AUTO_TRUNCATE (TEI's --auto-truncate) embeds its first max tokens instead.
  const request: EmbedRequest = {
    inputs,
    param: 'input',
    truncate: config.autoTruncate,
    truncationDirection: 'right',
    tooLongKind: 'context_length_exceeded',
  };
  const result = await embed(c, deps, manifest, request);
  const vectors = result.embeddings.map((entry) => responseVector(entry.vector, manifest, body.dimensions, true));
  // result.tokens counts the tokens embedded (after truncation): that is what usage reports.
  const promptTokens = result.tokens.reduce((sum, tokens) => sum + tokens, 0);
  const responseBody = openAiEmbeddingsBody(vectors, body.encoding_format, manifest.modelName, promptTokens);
  const headers = embedHeaders(result);
  if (config.autoTruncate) {
    const truncated = result.embeddings.filter((entry) => entry.tokenCount > manifest.maxTokens).length;
    headers['x-truncated-inputs'] = String(truncated);
  }
  return c.json(responseBody, 200, headers);
}

async function models(c: Context<AppEnv>, deps: RouteDeps): Promise<Response> {
  const manifest = await deps.service.manifest(c.get('config'));
  return c.json({
    object: 'list',
    data: [{ id: manifest.modelName, object: 'model', created: 0, owned_by: 'edge-embed' }],
  });
}
