/**
 * The wire format of POST /v1/rank: a query and documents (strings or `{id, text}`) in, documents by descending score
 * out. With `rerank_top_k`, ranking has two stages: one model scores every document, another re-scores the top k, and
 * each result says which kind of model scored it.
 */
import { z } from 'zod';
import type { BundleKind } from '../../../../bundle-format/manifest.js';

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
  /** Two-stage ranking: how many of the first stage's best documents the second stage re-scores. */
  rerank_top_k: z.number({ invalid_type_error: 'must be a positive integer' }).int().positive().optional(),
  /**
   * Two-stage ranking's second stage (`model` is the first), an embedding model or a cross-encoder; absent: `model`
   * re-scores after its static companion.
   */
  rerank_model: z.string({ invalid_type_error: 'must be a model name' }).optional(),
});
export type RankRequest = z.infer<typeof RankRequest>;

/** The text of a document as sent (a string or `{id, text}`). */
export function documentText(document: RankRequest['documents'][number]): string {
  return typeof document === 'string' ? document : document.text;
}

/** The kind of the model that scored a result. */
export type RankStage = BundleKind;

export interface RankResult {
  index: number;
  id?: string | number;
  score: number;
  /** Two-stage ranking only: which model gave `score` (scores of different stages are not comparable). */
  stage?: RankStage;
  document?: string;
}

/** A document's place in a ranking: its request index, its score, and in two-stage ranking the stage that scored it. */
export interface Ranked {
  index: number;
  score: number;
  stage?: RankStage;
}

/**
 * Documents by descending score; ties keep request order.
 * @example byScore([0.1, 0.9]) // [{ index: 1, score: 0.9 }, { index: 0, score: 0.1 }]
 */
export function byScore(scores: readonly number[]): Ranked[] {
  return scores.map((score, index) => ({ score, index })).sort((a, b) => b.score - a.score || a.index - b.index);
}

/**
 * Two-stage order: the re-scored documents by the second stage's score, then every other document in the first
 * stage's order; `stages` labels the first and second stage's results.
 * @example twoStageOrder(byScore(staticScores), [3, 0], [0.4, 0.8]) // [0 (transformer), 3 (transformer), rest (static)]
 */
export function twoStageOrder(
  firstOrder: readonly Ranked[],
  rescored: readonly number[],
  secondScores: readonly number[],
  stages: readonly [RankStage, RankStage] = ['static', 'transformer'],
): Ranked[] {
  const top = byScore(secondScores).map(
    ({ index, score }): Ranked => ({ index: rescored[index], score, stage: stages[1] }),
  );
  const seen = new Set(rescored);
  const rest = firstOrder
    .filter(({ index }) => !seen.has(index))
    .map(({ index, score }): Ranked => ({ index, score, stage: stages[0] }));
  return [...top, ...rest];
}

export interface RankResponse {
  object: 'list';
  model: string;
  results: RankResult[];
  usage: { prompt_tokens: number; total_tokens: number };
}

/**
 * The /v1/rank body: documents in the given order (from {@link byScore} or {@link twoStageOrder}), cut to `top_k`.
 * @example rankBody(request, byScore([0.1, 0.9]), 'use-lite', 12).results[0].index // 1
 */
export function rankBody(
  request: RankRequest,
  order: readonly Ranked[],
  model: string,
  promptTokens: number,
): RankResponse {
  const results = order.slice(0, request.top_k ?? order.length).map(({ score, index, stage }): RankResult => {
    const document = request.documents[index];
    const result: RankResult = { index, score };
    if (stage !== undefined) result.stage = stage;
    if (typeof document !== 'string' && document.id !== undefined) result.id = document.id;
    if (request.return_documents) result.document = documentText(document);
    return result;
  });
  return { object: 'list', model, results, usage: { prompt_tokens: promptTokens, total_tokens: promptTokens } };
}
