/**
 * Step 3: frequency weights. SIF (Arora et al. 2017, as Model2Vec uses it): w = a / (a + p(piece)), a = 1e-3, so
 * frequent pieces ("the", "▁a") count less. p comes from token counts of a corpus or word list when given, else from a
 * Unigram tokenizer's scores (log probabilities). A piece never counted gets p = 0, so weight 1, like any rare piece.
 */
import type { TokenCounts } from '../vocab/token-counts.js';
import type { VocabTable } from '../vocab/tokenizer-json.js';

export const SIF_A = 1e-3;

export interface PieceWeights {
  /** Weight by tokenizer id. */
  weights: Float64Array;
  scheme: 'sif' | 'none';
  source: string;
}

/** p(piece) from token counts: count / total. */
export function probabilitiesFromCounts(counts: TokenCounts, size: number): Float64Array {
  const p = new Float64Array(size);
  let total = 0;
  for (const count of counts.values()) total += count;
  if (total > 0) for (const [id, count] of counts) if (id < size) p[id] = count / total;
  return p;
}

/** p(piece) from a Unigram model's scores, which are log probabilities. */
export function probabilitiesFromScores(table: VocabTable): Float64Array {
  const p = new Float64Array(table.tokens.length);
  table.scores.forEach((score, id) => {
    if (Number.isFinite(score)) p[id] = Math.exp(score);
  });
  return p;
}

/**
 * @example sifWeights(Float64Array.of(0.05, 0)) // [~0.0196, 1]
 */
export function sifWeights(p: Float64Array, a = SIF_A): Float64Array {
  return p.map((value) => a / (a + value));
}
