/**
 * text-embeddings-inference's API: POST /embed, POST /similarity, POST /tokenize and POST /decode, with TEI's request
 * fields, error statuses (an over-long input is 413) and response bodies; POST / and POST /invocations (SageMaker's)
 * embed as TEI's do for an embedding model, or compare when the body is a similarity request. /tokenize's
 * `start`/`stop` are UTF-16 indices into the input (`input.slice(start, stop)`), where TEI gives UTF-8 byte offsets;
 * they match for ASCII text.
 */
import { type Context, Hono } from 'hono';
import type { EmbedRequest } from '../../embedding/embed.js';
import { requestPrompt, withPrompt } from '../../embedding/prompts.js';
import { scoreDocuments } from '../../embedding/score.js';
import { type AppEnv, type AppRouteDeps, embed, embedHeaders, selectModel } from '../context.js';
import { checkInputs, parseBody } from '../wire/parse.js';
import {
  isSimilarityBody,
  TeiDecodeRequest,
  TeiEmbedRequest,
  TeiSimilarityRequest,
  TeiTokenizeRequest,
  teiEmbedBody,
  teiIdSequences,
  teiTexts,
} from '../wire/tei.js';
import { checkDimensions, responseVector } from '../wire/vector.js';

/** @example app.route('/', teiRoutes(deps)) */
export function teiRoutes(deps: AppRouteDeps): Hono<AppEnv> {
  return new Hono<AppEnv>()
    .post('/embed', (c) => embedTexts(c, deps))
    .post('/', (c) => embedOrCompare(c, deps))
    .post('/invocations', (c) => embedOrCompare(c, deps))
    .post('/similarity', (c) => similarity(c, deps))
    .post('/tokenize', (c) => tokenize(c, deps))
    .post('/decode', (c) => decode(c, deps));
}

/**
 * /embed, or /similarity for a similarity body. TEI serves one of the two at its root by its TASK setting; here the body
 * decides (its `inputs` is an object only in a similarity request), so Hugging Face's InferenceClient gets both
 * featureExtraction and sentenceSimilarity from the one endpoint URL, as from an Inference Endpoint.
 */
async function embedOrCompare(c: Context<AppEnv>, deps: AppRouteDeps): Promise<Response> {
  return isSimilarityBody(await c.req.text()) ? similarity(c, deps) : embedTexts(c, deps);
}

async function embedTexts(c: Context<AppEnv>, deps: AppRouteDeps): Promise<Response> {
  const config = c.get('config');
  const body = parseBody(await c.req.text(), TeiEmbedRequest);
  const texts = teiTexts(body.inputs, config);
  const { model, deps: modelDeps } = await selectModel(c, deps, undefined, 'embedding');
  const { manifest } = model;
  const dimensions = body.dimensions ?? undefined;
  checkDimensions(manifest, dimensions);
  const prompt = requestPrompt(manifest, config.defaultPromptName, { name: body.prompt_name, param: 'prompt_name' });
  const request: EmbedRequest = {
    inputs: withPrompt(prompt, texts).map((text) => ({ text })),
    param: 'inputs',
    truncate: body.truncate ?? false,
    truncationDirection: body.truncation_direction,
    tooLongKind: 'input_too_long',
  };
  const result = await embed(c, modelDeps, manifest, request);
  const vectors = result.embeddings.map((entry) => responseVector(entry.vector, manifest, dimensions, body.normalize));
  return c.json(teiEmbedBody(vectors), 200, embedHeaders(result));
}

async function similarity(c: Context<AppEnv>, deps: AppRouteDeps): Promise<Response> {
  const config = c.get('config');
  const { inputs, parameters } = parseBody(await c.req.text(), TeiSimilarityRequest);
  checkInputs([{ text: inputs.source_sentence }], config, 'inputs.source_sentence', true);
  checkInputs(
    inputs.sentences.map((text) => ({ text })),
    config,
    'inputs.sentences',
    false,
  );
  const { model, deps: modelDeps } = await selectModel(c, deps, undefined, 'embedding');
  const { manifest } = model;
  // As in TEI, the prompt goes before the source sentence and every sentence alike.
  const prompt = requestPrompt(manifest, config.defaultPromptName, {
    name: parameters?.prompt_name,
    param: 'parameters.prompt_name',
  });
  const { scores, embedded } = await scoreDocuments(
    {
      query: prompt + inputs.source_sentence,
      documents: withPrompt(prompt, inputs.sentences),
      queryParam: 'inputs.source_sentence',
      documentsParam: 'inputs.sentences',
      truncate: parameters?.truncate ?? false,
      truncationDirection: parameters?.truncation_direction ?? 'right',
      tooLongKind: 'input_too_long',
    },
    (request) => embed(c, modelDeps, manifest, request),
  );
  return c.json(scores, 200, embedHeaders(embedded));
}

async function tokenize(c: Context<AppEnv>, deps: AppRouteDeps): Promise<Response> {
  const config = c.get('config');
  const body = parseBody(await c.req.text(), TeiTokenizeRequest);
  const texts = teiTexts(body.inputs, config);
  const { model } = await selectModel(c, deps, undefined, 'embedding');
  const { manifest } = model;
  // The tokens /embed would embed: with the prompt in front, as in TEI (offsets then index into prompt + input).
  const prompt = requestPrompt(manifest, config.defaultPromptName, { name: body.prompt_name, param: 'prompt_name' });
  const tokenizer = await model.service.tokenizer(config);
  c.get('log').inputs = texts.length;
  return c.json(withPrompt(prompt, texts).map((text) => tokenizer.withOffsets(text, body.add_special_tokens)));
}

async function decode(c: Context<AppEnv>, deps: AppRouteDeps): Promise<Response> {
  const config = c.get('config');
  const body = parseBody(await c.req.text(), TeiDecodeRequest);
  const { model } = await selectModel(c, deps, undefined, 'embedding');
  const tokenizer = await model.service.tokenizer(config);
  const sequences = teiIdSequences(body.ids, config, tokenizer.vocabularySize);
  c.get('log').inputs = sequences.length;
  return c.json(sequences.map((ids) => tokenizer.decode(ids, body.skip_special_tokens)));
}
