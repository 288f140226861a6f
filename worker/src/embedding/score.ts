/**
 * Scoring: a query and its candidate documents are embedded in one call (so documents share the cache with every
 * other route and re-scoring the same candidates runs no inference), then scored by cosine similarity. Behind our
 * POST /v1/rank and text-embeddings-inference's POST /similarity.
 */
import { cosine } from '../../../bundle-runtime/similarity.js';
import { ApiError } from '../errors.js';
import type { EmbedRequest, EmbedResult } from './embed.js';

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
  /** The embedding result for [...documents, query]. */
  embedded: EmbedResult;
}

/**
 * Embeds the documents and the query in one call and scores each document by cosine to the query.
 * @example const { scores } = await scoreDocuments({ query: 'cat', documents: ['dog', 'kitten'], ... }, embed)
 */
export async function scoreDocuments(
  request: ScoreRequest,
  embed: (request: EmbedRequest) => Promise<EmbedResult>,
): Promise<Scored> {
  const { query, documents, queryParam, documentsParam, ...options } = request;
  // The query goes last so errors about document i are named `${documentsParam}[i]` by embedInputs itself.
  const inputs = [...documents, query].map((text) => ({ text }));
  let embedded: EmbedResult;
  try {
    embedded = await embed({ ...options, inputs, param: documentsParam });
  } catch (error) {
    throw renameParam(error, `${documentsParam}[${documents.length}]`, queryParam);
  }
  const vectors = embedded.embeddings.map((entry) => entry.vector);
  const queryVector = vectors[documents.length];
  return { scores: documents.map((_, i) => cosine(queryVector, vectors[i])), embedded };
}

function renameParam(error: unknown, from: string, to: string): unknown {
  if (!(error instanceof ApiError) || error.param !== from) return error;
  const message = error.message.startsWith(from) ? to + error.message.slice(from.length) : error.message;
  return new ApiError(error.kind, message, { param: to, retryAfterSeconds: error.retryAfterSeconds });
}
