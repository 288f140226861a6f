/**
 * The wire format of POST /v1/rank: a query and documents (strings or `{id, text}`) in, documents by descending score
 * out.
 */
import { z } from 'zod';

const rankDocument = z.union(
  [z.string(), z.object({ id: z.union([z.string(), z.number()]).optional(), text: z.string() })],
  { errorMap: () => ({ message: 'must be a string or an object {"id": string | number, "text": string}' }) },
);

export const RankRequest = z.object({
  query: z.string({ invalid_type_error: 'must be a string' }),
  documents: z.array(rankDocument, { invalid_type_error: 'must be an array of strings or of {id, text} objects' }),
  top_k: z.number().int().positive().optional(),
  return_documents: z.boolean().default(false),
  model: z.string().optional(),
  truncate: z.boolean().default(false),
});
export type RankRequest = z.infer<typeof RankRequest>;

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
export function rankBody(
  request: RankRequest,
  scores: readonly number[],
  model: string,
  promptTokens: number,
): RankResponse {
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
