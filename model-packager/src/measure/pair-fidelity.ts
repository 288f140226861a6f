/**
 * A cross-encoder's fidelity: the original (fp32, unpruned) and the packed model score the same (query, document)
 * pairs through bundle-runtime's {@link CrossEncoder}, and the activated scores are compared by Spearman's rho (does
 * the packed model rank as the original does) and by their largest absolute difference.
 */
import { type CrossEncoder, sigmoid } from '../../../bundle-runtime/cross-encoder.js';
import { spearman } from '../eval/correlation.js';
import type { Reporter } from '../report/reporter.js';

export interface PairFidelityFigures {
  pairs: number;
  spearman: number;
  maxAbsDiff: number;
}

export type TextPair = readonly [query: string, document: string];

/**
 * `count` pairs from the texts: each query is the first few words of a text; every other pair's document is the text
 * the query came from (a relevant pair), the others a text further on (mostly irrelevant), so scores spread out.
 * @example samplePairs(['the cat sat on the mat', 'rain is coming'], 2) // [['the cat sat', 'the cat sat on the mat'], ...]
 */
export function samplePairs(texts: readonly string[], count: number): TextPair[] {
  const usable = texts.map((t) => t.trim()).filter((t) => t.length > 0);
  if (usable.length === 0) return [];
  return Array.from({ length: count }, (_, i) => {
    const source = usable[i % usable.length];
    const words = source.split(/\s+/);
    const query = words.slice(0, Math.max(1, Math.min(6, Math.ceil(words.length / 2)))).join(' ');
    const other = usable[(i * 7 + 1 + Math.floor(i / usable.length)) % usable.length];
    return [query, i % 2 === 0 ? source : other] as const;
  });
}

/** Activated scores of each pair, in order, batched by the cross-encoder's planner, with a progress bar. */
export async function scorePairs(
  encoder: CrossEncoder,
  pairs: readonly TextPair[],
  reporter: Reporter,
  label: string,
): Promise<number[]> {
  const { tokenizer, spec } = encoder;
  const tokenized = pairs.map(([query, document]) => tokenizer.encodePair(query, document, spec.maxTokens, 'right'));
  const bar = reporter.progress(label, pairs.length);
  try {
    return (await encoder.rawScores(tokenized, { onBatch: (n) => bar.tick(n) })).map(sigmoid);
  } finally {
    bar.stop();
  }
}

/**
 * How closely the packed scores follow the reference's for the same pairs.
 * @example comparePairScores([0.1, 0.5, 0.9], [0.12, 0.49, 0.91]) // { pairs: 3, spearman: 1, maxAbsDiff: 0.02 }
 */
export function comparePairScores(reference: readonly number[], packed: readonly number[]): PairFidelityFigures {
  const maxAbsDiff = packed.reduce((max, s, i) => Math.max(max, Math.abs(s - reference[i])), 0);
  return { pairs: packed.length, spearman: spearman(reference, packed), maxAbsDiff };
}
