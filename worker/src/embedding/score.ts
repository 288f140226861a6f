/**
 * Ranking: a query and its candidate documents are embedded in one pipeline call (so documents share the cache with
 * /v1/embeddings and re-ranking the same candidates runs no inference), then scored by cosine similarity. Serves our
 * POST /v1/rank and text-embeddings-inference's POST /similarity.
 */
import { z } from 'zod';
import { ApiError } from '../errors.js';
import type { EmbedResult } from './embed.js';
import { TeiEmbedRequest, type EmbedRequest } from './validate.js';

const rankDocument = z.union([z.string(), z.object({ id: z.union([z.string(), z.number()]).optional(), text: z.string() })], {
  errorMap: () => ({ message: 'must be a string or an object {"id": string | number, "text": string}' }),
});

export const RankRequest = z.object({
  query: z.string({ invalid_type_error: 'must be a string' }),
  documents: z.array(rankDocument, { invalid_type_error: 'must be an array of strings or of {id, text} objects' }),
  top_k: z.number().int().positive().optional(),
  return_documents: z.boolean().default(false),
  model: z.string().optional(),
  truncate: z.boolean().default(false),
});
export type RankRequest = z.infer<typeof RankRequest>;

export const TeiSimilarityRequest = z.object({
  inputs: z.object({
    source_sentence: z.string({ invalid_type_error: 'must be a string' }),
    sentences: z.array(z.string(), { invalid_type_error: 'must be an array of strings' }),
  }),
  parameters: z
    .object({
      truncate: z.boolean().nullable().optional(),
      truncation_direction: TeiEmbedRequest.shape.truncation_direction.removeDefault().optional(),
      prompt_name: z.null({ invalid_type_error: 'prompts are not supported by this bundle' }).optional(),
    })
    .nullable()
    .optional(),
});
export type TeiSimilarityRequest = z.infer<typeof TeiSimilarityRequest>;

/** A query against candidate texts, with the request fields to name in errors. */
export interface ScoreRequest extends Omit<EmbedRequest, 'inputs' | 'param'> {
  query: string;
  documents: readonly string[];
  /** e.g. "query" / "documents" (OpenAI-style) or "inputs.source_sentence" / "inputs.sentences" (TEI). */
  queryParam: string;
  documentsParam: string;
}

export interface Scored {
  /** Cosine similarity of each document to the query, in document order. */
  scores: number[];
  /** The pipeline's result for [...documents, query]. */
  embedded: EmbedResult;
}

/**
 * Embeds the documents and the query in one pipeline call and scores each document by cosine to the query.
 * @example const { scores } = await scoreDocuments({ query: 'cat', documents: ['dog', 'kitten'], ... }, embed)
 */
export async function scoreDocuments(request: ScoreRequest, embed: (request: EmbedRequest) => Promise<EmbedResult>): Promise<Scored> {
  const { query, documents, queryParam, documentsParam, ...options } = request;
  // The query goes last so errors about document i are named `${documentsParam}[i]` by the pipeline itself.
  const inputs = [...documents, query].map((text) => ({ text }));
  let embedded: EmbedResult;
  try {
    embedded = await embed({ ...options, inputs, param: documentsParam });
  } catch (error) {
    throw renameParam(error, `${documentsParam}[${documents.length}]`, queryParam);
  }
  const vectors = embedded.embeddings.map((entry) => entry.vector);
  const queryVector = vectors[documents.length];
  return { scores: documents.map((_, i) => cosineSimilarity(queryVector, vectors[i])), embedded };
}

function renameParam(error: unknown, from: string, to: string): unknown {
  if (!(error instanceof ApiError) || error.param !== from) return error;
  const message = error.message.startsWith(from) ? to + error.message.slice(from.length) : error.message;
  return new ApiError(error.kind, message, { param: to, retryAfterSeconds: error.retryAfterSeconds });
}

/**
 * Cosine similarity in float64; 0 when either vector is all zeros.
 * @example cosineSimilarity(Float32Array.of(1, 0), Float32Array.of(1, 1)) // 0.7071...
 */
export function cosineSimilarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let normA = 0;
  let normB = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    normA += a[i] * a[i];
    normB += b[i] * b[i];
  }
  return normA === 0 || normB === 0 ? 0 : dot / Math.sqrt(normA * normB);
}

/** The text of a document as sent (a string or `{id, text}`). */
export function documentText(document: RankRequest['documents'][number]): string {
  return typeof document === 'string' ? document : document.text;
}

export interface RankResult {
  index: number;
  id?: string | number;
  score: number;
  document?: string;
}

export interface RankResponse {
  object: 'list';
  model: string;
  results: RankResult[];
  usage: { prompt_tokens: number; total_tokens: number };
}

/**
 * The /v1/rank body: documents by descending score (ties keep request order), cut to `top_k`.
 * @example rankBody(request, [0.1, 0.9], 'use-lite', 12).results[0].index // 1
 */
export function rankBody(request: RankRequest, scores: readonly number[], model: string, promptTokens: number): RankResponse {
  const order = scores.map((score, index) => ({ score, index })).sort((a, b) => b.score - a.score || a.index - b.index);
  const results = order.slice(0, request.top_k ?? order.length).map(({ score, index }): RankResult => {
    const document = request.documents[index];
    const result: RankResult = { index, score };
    if (typeof document !== 'string' && document.id !== undefined) result.id = document.id;
    if (request.return_documents) result.document = documentText(document);
    return result;
  });
  return { object: 'list', model, results, usage: { prompt_tokens: promptTokens, total_tokens: promptTokens } };
}
