/**
 * The 200 bodies of the JSON routes as zod schemas, for /openapi.json (generated from them, like the request bodies).
 * A workerd test calls every documented route and parses its answer with the schema documented for it, so a route
 * whose body changes fails there until this file (and so the document) says the same.
 */
import { z } from 'zod';
import { BundleKind } from '../../../../bundle-format/manifest.js';

const tokenCount = z.number().int().nonnegative();
const usage = z.object({ prompt_tokens: tokenCount, total_tokens: tokenCount });

export const OpenAiEmbeddingsResponse = z.object({
  object: z.literal('list'),
  data: z.array(
    z.object({
      object: z.literal('embedding'),
      index: z.number().int().nonnegative(),
      embedding: z.union([z.array(z.number()), z.string().describe('little-endian float32, base64')]),
    }),
  ),
  model: z.string(),
  usage,
});

export const TeiEmbedResponse = z.array(z.array(z.number())).describe('one vector per input');

export const TeiSimilarityResponse = z.array(z.number()).describe('one cosine similarity per sentence');

export const TeiTokenizeResponse = z
  .array(
    z.array(
      z.object({
        id: z.number().int().nonnegative(),
        text: z.string(),
        special: z.boolean(),
        start: z.number().int().nonnegative().nullable().describe('UTF-16 index into the input; null for specials'),
        stop: z.number().int().nonnegative().nullable(),
      }),
    ),
  )
  .describe('the tokens of each input');

export const TeiDecodeResponse = z.array(z.string()).describe('one text per id sequence');

export const RankResponse = z.object({
  object: z.literal('list'),
  model: z.string(),
  results: z.array(
    z.object({
      index: z.number().int().nonnegative(),
      id: z.union([z.string(), z.number()]).optional(),
      score: z.number(),
      stage: BundleKind.optional(),
      document: z.string().optional(),
    }),
  ),
  usage,
});

export const TeiRerankResponse = z
  .array(z.object({ index: z.number().int().nonnegative(), score: z.number(), text: z.string().optional() }))
  .describe("the documents' indices and scores, best first (TEI's /rerank)");

export const RerankResponse = z
  .object({
    results: z.array(
      z.object({
        index: z.number().int().nonnegative(),
        relevance_score: z.number(),
        document: z.object({ text: z.string() }).optional(),
      }),
    ),
    model: z.string(),
    usage: z.object({ total_tokens: tokenCount, search_units: z.number().int().positive() }),
  })
  .describe("the top_n documents, best first (Cohere's and Jina's /v1/rerank)");

export const WorkersAiRerankResponse = z
  .object({ response: z.array(z.object({ id: z.number().int().nonnegative(), score: z.number() })) })
  .describe("the top_k contexts, best first (Workers AI's reranker shape, for a body with contexts)");

/** The engine that runs a model (the ENGINE var's choice for its bundle); null when ENGINE refuses the bundle. */
const Engine = z
  .enum(['plan', 'ort', 'static'])
  .nullable()
  .describe('plan: the encoder plan engine; ort: ONNX Runtime on model.onnx; static: a static table');

export const ModelsResponse = z.object({
  object: z.literal('list'),
  data: z.array(
    z.object({
      id: z.string(),
      object: z.literal('model'),
      created: z.number(),
      owned_by: z.string(),
      kind: z.enum(['transformer', 'static', 'cross-encoder']),
      engine: Engine,
    }),
  ),
});

export const HealthResponse = z.object({ status: z.literal('ok') });

/** TEI's /info fields; the worker adds its bundle, counters, cost and limits beside them. */
export const InfoResponse = z
  .object({
    model_id: z.string(),
    model_sha: z.string(),
    model_dtype: z.enum(['float32', 'int8']),
    max_input_length: z.number().int().positive(),
    max_client_batch_size: z.number().int().positive(),
    max_batch_tokens: z.number().int().positive(),
    dimensions: z.number().int().positive(),
    prompts: z.record(z.string(), z.string()),
    default_prompt_name: z.string().nullable(),
    loaded: z.boolean(),
    engine: Engine,
    /** Every served model (MODELS, else the one bundle): whether this isolate loaded it, and how often. */
    models: z.array(
      z.object({
        id: z.string(),
        kind: BundleKind,
        bundle_hash: z.string(),
        loaded: z.boolean(),
        engine: Engine,
        model_loads: z.number().int().nonnegative(),
      }),
    ),
  })
  .passthrough();

export const OpenApiResponse = z
  .object({ openapi: z.string(), paths: z.record(z.string(), z.record(z.string(), z.unknown())) })
  .passthrough();

export const RESPONSE_SCHEMAS = {
  OpenAiEmbeddingsResponse,
  TeiEmbedResponse,
  TeiSimilarityResponse,
  TeiTokenizeResponse,
  TeiDecodeResponse,
  RankResponse,
  TeiRerankResponse,
  RerankResponse,
  WorkersAiRerankResponse,
  ModelsResponse,
  HealthResponse,
  InfoResponse,
  OpenApiResponse,
};
export type ResponseSchemaName = keyof typeof RESPONSE_SCHEMAS;
