/**
 * The check that keeps a wrong plan out of a bundle: the encoder plan, run by bundle-runtime's reference executor,
 * must give the packed ONNX graph's vectors (run by ONNX Runtime as the worker runs it) on sample texts. The lowering
 * matches graph patterns; this proves the match meant what the graph computes.
 */
import type { EncoderPlan } from '../../../bundle-format/encoder-plan.js';
import { Embedder } from '../../../bundle-runtime/embedder.js';
import { createPlanReferenceEngine } from '../../../bundle-runtime/plan-reference.js';
import { BundleTokenizer } from '../../../bundle-runtime/tokenizer.js';
import { type GraphParts, graphEmbedder, type SentenceEmbedder } from '../eval/embedders.js';
import type { Reporter } from '../report/reporter.js';
import { type FidelityFigures, measureFidelity } from './fidelity.js';

/** The reference executor is plain TypeScript (~0.3 s a sentence for MiniLM shapes): a small sample is enough. */
export const PLAN_PARITY_SAMPLES = 24;
/** The parity bar for an engine against ORT: mean and minimum cosine. */
export const PLAN_PARITY_MIN_MEAN = 0.9999;
export const PLAN_PARITY_MIN = 0.999;

/**
 * The plan's vectors against the packed graph's on `texts`; `reason` says why the plan must be dropped, if it must.
 * @example const { figures, reason } = await measurePlanParity(plan, weights, packedParts, texts, reporter)
 */
export async function measurePlanParity(
  plan: EncoderPlan,
  weights: Uint8Array,
  packed: GraphParts,
  texts: string[],
  reporter: Reporter,
): Promise<{ figures: FidelityFigures; reason: string | null }> {
  const tokenizer = new BundleTokenizer(packed.tokenizerJson, packed.tokenizerConfig);
  const embedder = new Embedder(createPlanReferenceEngine(plan, weights));
  const planSide: SentenceEmbedder = {
    label: 'plan',
    embed: (list, onBatch) => embedder.embedTexts(tokenizer, list, packed.maxTokens, { onBatch }),
    close: () => embedder.release(),
  };
  const ortSide = await graphEmbedder(packed);
  try {
    const figures = await measureFidelity(ortSide, planSide, texts, reporter);
    const ok = figures.meanCosine >= PLAN_PARITY_MIN_MEAN && figures.minCosine >= PLAN_PARITY_MIN;
    const reason = ok
      ? null
      : `the plan's vectors differ from the graph's (mean cosine ${figures.meanCosine.toFixed(5)}, min ${figures.minCosine.toFixed(5)}; need ${PLAN_PARITY_MIN_MEAN} and ${PLAN_PARITY_MIN})`;
    return { figures, reason };
  } finally {
    await ortSide.close();
  }
}
