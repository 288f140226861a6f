/**
 * The re-ranking wire formats: text-embeddings-inference's POST /rerank, Cohere's and Jina's POST /v1/rerank, and
 * Workers AI's reranker shape (`contexts` / `top_k`, answered as `{ response: [{ id, score }] }`), as zod request
 * schemas plus the response bodies built from one list of scored documents.
 */
import { z } from 'zod';

const truncationDirection = z
  .string()
  .transform((value) => value.toLowerCase())
  .pipe(z.enum(['right', 'left'], { errorMap: () => ({ message: 'must be "Right" or "Left"' }) }));

const strings = z.array(z.string({ invalid_type_error: 'must be a string' }), {
  invalid_type_error: 'must be an array of strings',
});

/** TEI's /rerank request (its `truncate` defaults to false: an over-long pair is a 413). */
export const TeiRerankRequest = z.object({
  query: z.string({ invalid_type_error: 'must be a string' }),
  texts: strings,
  raw_scores: z.boolean().default(false),
  return_text: z.boolean().default(false),
  truncate: z.boolean().nullable().default(false),
  truncation_direction: truncationDirection.default('right'),
});
export type TeiRerankRequest = z.infer<typeof TeiRerankRequest>;

/** A document as Cohere and Jina take it: a string, or an object with `text`. */
const rerankDocument = z.union([z.string(), z.object({ text: z.string({ invalid_type_error: 'must be a string' }) })], {
  errorMap: () => ({ message: 'must be a string or an object with a text string' }),
});

/**
 * Cohere's and Jina's /v1/rerank request. Neither refuses an over-long document (Cohere cuts it to max_tokens_per_doc),
 * so truncation is on unless `truncate` is false. Workers AI's shape (`contexts` of `{ text }`, `top_k`) is accepted
 * in place of `documents` / `top_n`.
 */
export const RerankRequest = z
  .object({
    model: z.string({ invalid_type_error: 'must be a string' }).optional(),
    query: z.string({ invalid_type_error: 'must be a string' }),
    documents: z.array(rerankDocument, { invalid_type_error: 'must be an array' }).optional(),
    contexts: z.array(z.object({ text: z.string({ invalid_type_error: 'must be a string' }) })).optional(),
    top_n: z.number().int().positive().optional(),
    top_k: z.number().int().positive().optional(),
    return_documents: z.boolean().default(false),
    truncate: z.boolean().default(true),
  })
  .superRefine((body, ctx) => {
    if ((body.documents === undefined) === (body.contexts === undefined)) {
      const message = body.documents === undefined ? 'is required' : 'give documents or contexts, not both';
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['documents'], message });
    }
  });
export type RerankRequest = z.infer<typeof RerankRequest>;

/** One document's relevance: its index in the request and its score (activated, or the raw logit when asked). */
export interface ScoredDocument {
  index: number;
  score: number;
}

/** Best first; equal scores keep the request's order. */
export function byRelevance(scores: readonly number[]): ScoredDocument[] {
  return scores.map((score, index) => ({ index, score })).sort((a, b) => b.score - a.score || a.index - b.index);
}

/** TEI's /rerank body: `[{ index, score, text? }]`, best first. */
export function teiRerankBody(ranked: readonly ScoredDocument[], texts: readonly string[], returnText: boolean) {
  return ranked.map(({ index, score }) => (returnText ? { index, score, text: texts[index] } : { index, score }));
}

/** Cohere's and Jina's body: `{ results: [{ index, relevance_score, document? }], model, usage }`, best first. */
export function rerankBody(
  ranked: readonly ScoredDocument[],
  body: RerankRequest,
  texts: readonly string[],
  model: string,
  tokens: number,
) {
  const top = ranked.slice(0, body.top_n ?? body.top_k ?? ranked.length);
  const results = top.map(({ index, score }) => ({
    index,
    relevance_score: score,
    ...(body.return_documents ? { document: { text: texts[index] } } : {}),
  }));
  // Jina reports total_tokens; Cohere bills search units (one per query up to 100 documents).
  const usage = { total_tokens: tokens, search_units: Math.max(1, Math.ceil(texts.length / 100)) };
  return { results, model, usage };
}

/** Workers AI's reranker body: `{ response: [{ id, score }] }`, best first, top_k of them. */
export function workersAiRerankBody(ranked: readonly ScoredDocument[], topK: number | undefined) {
  return { response: ranked.slice(0, topK ?? ranked.length).map(({ index, score }) => ({ id: index, score })) };
}
