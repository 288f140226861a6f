/**
 * OpenAI's API: POST /v1/embeddings (texts or token id arrays, float or base64 vectors, Matryoshka `dimensions`; also at
 * POST /embeddings, as text-embeddings-inference serves it) and GET /v1/models, so OpenAI's clients work against the
 * worker unchanged.
 */
import { type Context, Hono } from 'hono';
import type { BundleManifest } from '../../../../bundle-format/manifest.js';
import type { CacheInput } from '../../cache/key.js';
import type { EmbedRequest } from '../../embedding/embed.js';
import { inputTypePrompt, requestPrompt } from '../../embedding/prompts.js';
import { ApiError } from '../../errors.js';
import { type AppEnv, type AppRouteDeps, embed, embedHeaders, selectModel } from '../context.js';
import { OpenAiEmbeddingsRequest, openAiEmbeddingsBody, openAiInputs } from '../wire/openai.js';
import { checkInputs, parseBody } from '../wire/parse.js';
import { checkDimensions, responseVector } from '../wire/vector.js';

/** @example app.route('/', openAiRoutes(deps)) */
export function openAiRoutes(deps: AppRouteDeps): Hono<AppEnv> {
  return new Hono<AppEnv>()
    .post('/v1/embeddings', (c) => embeddings(c, deps))
    .post('/embeddings', (c) => embeddings(c, deps))
    .get('/v1/models', (c) => models(c, deps));
}

async function embeddings(c: Context<AppEnv>, appDeps: AppRouteDeps): Promise<Response> {
  const config = c.get('config');
  const body = parseBody(await c.req.text(), OpenAiEmbeddingsRequest);
  const single = typeof body.input === 'string' || typeof body.input[0] === 'number';
  checkInputs(openAiInputs(body.input), config, 'input', single);
  checkTokenIdsAccepted(body.input, config.tokenIdInputs);
  const { model, deps } = await selectModel(c, appDeps, body.model, 'embedding');
  const { manifest } = model;
  checkDimensions(manifest, body.dimensions);
  const inputs = withRequestPrompt(body, openAiInputs(body.input), manifest, config.defaultPromptName);
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
  const responseBody = openAiEmbeddingsBody(vectors, body.encoding_format, model.id, promptTokens);
  const headers = embedHeaders(result);
  if (config.autoTruncate) {
    const truncated = result.embeddings.filter((entry) => entry.tokenCount > manifest.maxTokens).length;
    headers['x-truncated-inputs'] = String(truncated);
  }
  return c.json(responseBody, 200, headers);
}

/**
 * Token ids from another tokenizer (LangChain's OpenAIEmbeddings sends tiktoken's by default) give wrong vectors
 * without an error, so unless TOKEN_ID_INPUTS=accept they are refused, saying what to change in the client.
 */
function checkTokenIdsAccepted(input: OpenAiEmbeddingsRequest['input'], mode: 'reject' | 'accept'): void {
  if (mode === 'accept' || typeof input === 'string' || typeof input[0] === 'string') return;
  throw new ApiError(
    'invalid_request',
    "input: token ids are not accepted here: ids from another tokenizer (OpenAI's tiktoken) give wrong vectors. Send the texts instead (LangChain's OpenAIEmbeddings: check_embedding_ctx_length=False); the operator can set TOKEN_ID_INPUTS=accept for ids of this model's vocabulary (POST /tokenize)",
    { param: 'input' },
  );
}

/** Prepends the prompt `prompt_name` or `input_type` chooses (else the default one) to each text input. */
function withRequestPrompt(
  body: OpenAiEmbeddingsRequest,
  inputs: CacheInput[],
  manifest: BundleManifest,
  tenantDefault: string | undefined,
): CacheInput[] {
  if (body.prompt_name != null && body.input_type != null) {
    throw new ApiError('invalid_request', 'prompt_name and input_type: give one of them, not both', {
      param: 'input_type',
    });
  }
  const explicit = body.prompt_name != null || body.input_type != null;
  if (explicit && inputs.some((input) => 'tokenIds' in input)) {
    const param = body.prompt_name != null ? 'prompt_name' : 'input_type';
    throw new ApiError('invalid_request', `${param}: a prompt applies to text inputs, not to token ids; send text`, {
      param,
    });
  }
  // Token ids are the model's input as is: no prompt, not even the default one.
  if (!inputs.some((input) => 'text' in input)) return inputs;
  const prompt =
    body.input_type != null
      ? inputTypePrompt(manifest, body.input_type)
      : requestPrompt(manifest, tenantDefault, { name: body.prompt_name, param: 'prompt_name' });
  return inputs.map((input) => ('text' in input ? { text: prompt + input.text } : input));
}

/** OpenAI's model list, each model with its kind (transformer or static embedder) beyond OpenAI's fields. */
async function models(c: Context<AppEnv>, deps: AppRouteDeps): Promise<Response> {
  const config = c.get('config');
  const served = await deps.models.registry(c.env ?? {}, config).list(config);
  return c.json({
    object: 'list',
    data: await Promise.all(
      served.map(async (model) => ({
        id: model.id,
        object: 'model',
        created: 0,
        owned_by: 'edge-embed',
        kind: model.kind,
        engine: await model.service.engine(config),
      })),
    ),
  });
}
