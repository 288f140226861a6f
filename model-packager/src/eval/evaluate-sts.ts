/**
 * STS evaluation: cosine similarity of each pair's embeddings against the gold scores, reported as Spearman's rho and
 * Pearson's r (SentEval's and sentence-transformers' EmbeddingSimilarityEvaluator figures).
 */
import { cosine } from '../../../bundle-runtime/similarity.js';
import { pearson, spearman } from './correlation.js';
import type { SentenceEmbedder } from './embedders.js';
import type { StsPair } from './sts.js';

export interface StsResult {
  model: string;
  pairs: number;
  sentences: number;
  spearman: number;
  pearson: number;
  /** Wall-clock seconds spent embedding. */
  seconds: number;
}

/**
 * Embeds every distinct sentence once and correlates pair cosines with the gold scores.
 *
 * @example
 *   const result = await evaluateSts(await referenceUseEmbedder(), await readStsFile('sts-dev.csv'));
 */
export async function evaluateSts(embedder: SentenceEmbedder, pairs: StsPair[]): Promise<StsResult> {
  const sentences = [...new Set(pairs.flatMap((p) => [p.sentence1, p.sentence2]))];
  const started = performance.now();
  const vectors = await embedder.embed(sentences);
  const seconds = (performance.now() - started) / 1000;
  const bySentence = new Map(sentences.map((s, i) => [s, vectors[i]]));
  const predicted = pairs.map((p) => cosine(bySentence.get(p.sentence1)!, bySentence.get(p.sentence2)!));
  const gold = pairs.map((p) => p.score);
  return {
    model: embedder.label,
    pairs: pairs.length,
    sentences: sentences.length,
    spearman: spearman(predicted, gold),
    pearson: pearson(predicted, gold),
    seconds,
  };
}
