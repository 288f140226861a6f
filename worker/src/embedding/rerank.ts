/**
 * Re-ranking with a cross-encoder: each (query, document) pair is one cache input, so the pair's logits are read from
 * and written to the same LRU, Cache API and KV tiers as embeddings, keyed by the bundle's hash and the sha256 of the
 * pair. A repeated pair runs no inference; the same document under another query is another key. Only the uncached
 * pairs are tokenized (the document cut to fit, never the query) and run, in length-sorted micro-batches.
 */
import type { CrossEncoderBundleManifest } from '../../../bundle-format/manifest.js';
import { rawScore, sigmoid } from '../../../bundle-runtime/cross-encoder.js';
import type { EmbedRequest, EmbedResult } from './embed.js';

export interface RerankRequest extends Omit<EmbedRequest, 'inputs'> {
  query: string;
  documents: readonly string[];
  /** Return the raw score (the logit, or the difference of two) instead of its sigmoid. */
  rawScores: boolean;
}

export interface Reranked {
  /** One score per document, in document order. */
  scores: number[];
  embedded: EmbedResult;
}

/**
 * @example const { scores } = await rerankDocuments(manifest, { query: 'cat', documents: ['dog', 'kitten'], ... }, embed)
 */
export async function rerankDocuments(
  manifest: CrossEncoderBundleManifest,
  request: RerankRequest,
  embed: (request: EmbedRequest) => Promise<EmbedResult>,
): Promise<Reranked> {
  const { query, documents, rawScores, ...options } = request;
  const embedded = await embed({ ...options, inputs: documents.map((document) => ({ pair: [query, document] })) });
  const activation = manifest.crossEncoder.activation;
  const scores = embedded.embeddings.map((entry) => {
    const raw = rawScore(entry.vector, activation);
    return rawScores ? raw : sigmoid(raw);
  });
  return { scores, embedded };
}
