import { cosine } from '../../../bundle-runtime/similarity.js';
import type { SentenceEmbedder } from '../eval/embedders.js';
import type { Reporter } from '../report/reporter.js';

export interface FidelityFigures {
  samples: number;
  meanCosine: number;
  minCosine: number;
}

/**
 * Embeds the same texts with the original (fp32, unpruned) and the packed model and compares them pairwise.
 * The packed side sees the pruned tokenizer, so pruning damage shows up here too.
 */
export async function measureFidelity(
  reference: SentenceEmbedder,
  packed: SentenceEmbedder,
  texts: string[],
  reporter: Reporter,
): Promise<FidelityFigures> {
  const bar = reporter.progress('fidelity', texts.length * 2);
  try {
    const a = await reference.embed(texts, (n) => bar.tick(n));
    const b = await packed.embed(texts, (n) => bar.tick(n));
    const cosines = a.map((v, i) => cosine(v, b[i]));
    return {
      samples: texts.length,
      meanCosine: cosines.reduce((s, c) => s + c, 0) / Math.max(1, cosines.length),
      minCosine: cosines.length ? Math.min(...cosines) : 1,
    };
  } finally {
    bar.stop();
  }
}

/** Picks up to `limit` texts spread evenly over the input, skipping blanks, so a long corpus is sampled end to end. */
export function sampleTexts(texts: string[], limit: number): string[] {
  const usable = texts.map((t) => t.trim()).filter((t) => t.length > 0);
  if (usable.length <= limit) return usable;
  const step = usable.length / limit;
  return Array.from({ length: limit }, (_, i) => usable[Math.floor(i * step)]);
}
