/**
 * GET /openapi.json: the API as an OpenAPI 3.0 document. Each request body's schema is generated (zod-to-json-schema)
 * from the zod schema its route parses with, so the document cannot drift from what the worker accepts; each 200 body
 * from wire/responses.ts, which a workerd test parses every route's real answer with. Workerd tests check that it
 * lists exactly the app's routes. Errors share one body.
 */
import type { ZodTypeAny } from 'zod';
import { zodToJsonSchema } from 'zod-to-json-schema';
import { OpenAiEmbeddingsRequest } from './wire/openai.js';
import { RankRequest } from './wire/rank.js';
import { RerankRequest, TeiRerankRequest } from './wire/rerank.js';
import { RESPONSE_SCHEMAS, type ResponseSchemaName } from './wire/responses.js';
import { TeiDecodeRequest, TeiEmbedRequest, TeiSimilarityRequest, TeiTokenizeRequest } from './wire/tei.js';

const REQUEST_SCHEMAS: Record<string, ZodTypeAny> = {
  OpenAiEmbeddingsRequest,
  TeiEmbedRequest,
  TeiSimilarityRequest,
  TeiTokenizeRequest,
  TeiDecodeRequest,
  RankRequest,
  TeiRerankRequest,
  RerankRequest,
};
type RequestSchemaName = keyof typeof REQUEST_SCHEMAS;

interface Operation {
  summary: string;
  /** The request body's schema, one of several (POST / takes an /embed or a /similarity body). */
  body?: RequestSchemaName[];
  /** Answered without an API key. */
  open?: boolean;
  /** The 200 body's JSON schema, one of several (POST / answers as /embed or as /similarity). */
  response?: ResponseSchemaName[];
  /** A 200 body that is not JSON, by media type (/metrics; the page at GET /). */
  text?: 'text/plain' | 'text/html';
}

const embedOrSimilarity: Operation = {
  summary: "As /embed; as /similarity for a similarity body (TEI's root and SageMaker routes)",
  body: ['TeiEmbedRequest', 'TeiSimilarityRequest'],
  response: ['TeiEmbedResponse', 'TeiSimilarityResponse'],
};
const health: Operation = {
  summary: 'Health: 200 {"status":"ok"}, or 503 with Retry-After',
  open: true,
  response: ['HealthResponse'],
};

/** Every route, by path and method, as app.ts serves it. */
const OPERATIONS: Record<string, Partial<Record<'get' | 'post', Operation>>> = {
  '/v1/embeddings': {
    post: { summary: 'Embeddings (OpenAI)', body: ['OpenAiEmbeddingsRequest'], response: ['OpenAiEmbeddingsResponse'] },
  },
  '/embeddings': {
    post: {
      summary: "As /v1/embeddings (TEI's alias)",
      body: ['OpenAiEmbeddingsRequest'],
      response: ['OpenAiEmbeddingsResponse'],
    },
  },
  '/embed': { post: { summary: 'Embeddings (TEI)', body: ['TeiEmbedRequest'], response: ['TeiEmbedResponse'] } },
  '/': {
    post: embedOrSimilarity,
    get: {
      summary: 'The page for a browser (Accept: text/html); else as /health',
      open: true,
      response: ['HealthResponse'],
      text: 'text/html',
    },
  },
  '/invocations': { post: embedOrSimilarity },
  '/similarity': {
    post: {
      summary: 'Cosine similarity to a source sentence (TEI)',
      body: ['TeiSimilarityRequest'],
      response: ['TeiSimilarityResponse'],
    },
  },
  '/tokenize': {
    post: { summary: 'Tokens with offsets (TEI)', body: ['TeiTokenizeRequest'], response: ['TeiTokenizeResponse'] },
  },
  '/decode': {
    post: { summary: 'Token ids to text (TEI)', body: ['TeiDecodeRequest'], response: ['TeiDecodeResponse'] },
  },
  '/v1/rank': {
    post: {
      summary: 'Documents ranked by cosine similarity to a query',
      body: ['RankRequest'],
      response: ['RankResponse'],
    },
  },
  '/rerank': {
    post: {
      summary: 'Documents ranked by a cross-encoder (TEI)',
      body: ['TeiRerankRequest'],
      response: ['TeiRerankResponse'],
    },
  },
  '/v1/rerank': {
    post: {
      summary: "Documents ranked by a cross-encoder (Cohere, Jina; Workers AI's contexts / top_k)",
      body: ['RerankRequest'],
      response: ['RerankResponse', 'WorkersAiRerankResponse'],
    },
  },
  '/v1/models': {
    get: { summary: "The served models and their kinds (OpenAI's list format)", response: ['ModelsResponse'] },
  },
  '/info': { get: { summary: "TEI's fields plus the bundle, counters, cost and limits", response: ['InfoResponse'] } },
  '/metrics': { get: { summary: 'Counters in Prometheus text format', text: 'text/plain' } },
  '/health': { get: health },
  '/ping': { get: { ...health, summary: "As /health (TEI's SageMaker alias)" } },
  '/openapi.json': { get: { summary: 'This document', open: true, response: ['OpenApiResponse'] } },
  '/docs': { get: { summary: 'This document as a page', open: true, text: 'text/html' } },
};

const ERROR_SCHEMA = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['message', 'type', 'param', 'code'],
      properties: {
        message: { type: 'string' },
        type: { type: 'string' },
        param: { type: 'string', nullable: true },
        code: { type: 'string' },
      },
    },
  },
};

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const oneOrOneOf = (names: readonly string[]) => (names.length === 1 ? ref(names[0]!) : { oneOf: names.map(ref) });

/** The 200 answer's media types and schemas. */
function okContent({ response, text }: Operation): { content?: Record<string, { schema: unknown }> } {
  const content: Record<string, { schema: unknown }> = {};
  if (text) content[text] = { schema: { type: 'string' } };
  if (response) content['application/json'] = { schema: oneOrOneOf(response) };
  return Object.keys(content).length === 0 ? {} : { content };
}

/**
 * @example openApiDocument().paths['/embed'].post // { summary, requestBody, responses }
 */
export function openApiDocument() {
  const schemas: Record<string, unknown> = { Error: ERROR_SCHEMA };
  for (const [name, schema] of Object.entries({ ...REQUEST_SCHEMAS, ...RESPONSE_SCHEMAS })) {
    // A field normalised after parsing (truncation_direction) is described as sent ('input'); unknown fields are
    // ignored by the routes' schemas, not refused, hence 'strict' (only a .strict() object would forbid them).
    schemas[name] = zodToJsonSchema(schema, {
      target: 'openApi3',
      $refStrategy: 'none',
      pipeStrategy: 'input',
      removeAdditionalStrategy: 'strict',
    });
  }
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [path, methods] of Object.entries(OPERATIONS)) {
    paths[path] = {};
    for (const [method, operation] of Object.entries(methods)) {
      const body = operation.body;
      paths[path][method] = {
        summary: operation.summary,
        ...(operation.open ? { security: [] } : {}),
        ...(body === undefined
          ? {}
          : {
              requestBody: {
                required: true,
                content: { 'application/json': { schema: oneOrOneOf(body) } },
              },
            }),
        responses: {
          '200': { description: 'OK', ...okContent(operation) },
          default: { description: 'An error', content: { 'application/json': { schema: ref('Error') } } },
        },
      };
    }
  }
  return {
    openapi: '3.0.3',
    info: { title: 'edge-embed', version: '1' },
    components: { schemas, securitySchemes: { apiKey: { type: 'http', scheme: 'bearer' } } },
    security: [{ apiKey: [] }],
    paths,
  };
}
