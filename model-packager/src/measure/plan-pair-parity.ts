/**
 * The check that keeps a wrong cross-encoder plan out of a bundle: the plan, run by bundle-runtime's reference
 * executor, must score (query, document) pairs as the packed graph does under ONNX Runtime (the worker's engine).
 * Pairs are compared on raw scores: the logit, or the difference of two logits (what the activation reads).
 *
 * Two ONNX Runtime builds of one int8 graph do not agree exactly either. A token's activation that rounds the other
 * way in its per-row quantization moves every later value, and the random-weight fixtures' heads, calibrated to spread
 * the scores of near-identical hidden states, turn that into logit jumps: on the MiniLM-sized fixture (100 pairs),
 * onnxruntime-node against onnxruntime-web has Spearman 0.9973, max |diff| 0.34, median 0.021, and the plan against
 * onnxruntime-web 0.9960, 0.38, 0.068 (logits' standard deviation 2.03). So the gate is on ranking and on the typical
 * pair, not on the worst one: Spearman >= 0.99 and a median |diff| of at most 5% of the graph's score spread. A misread
 * graph misses it: the same plan with the document's token-type row dropped has a median |diff| of 0.31 there (15%),
 * and on the tiny reranker fixture, where plan and graph agree to 1e-5, 0.26 of 3.3 (8%).
 */
import type { EncoderPlan } from '../../../bundle-format/encoder-plan.js';
import type { ScoreActivation } from '../../../bundle-format/manifest.js';
import { CrossEncoder } from '../../../bundle-runtime/cross-encoder.js';
import { Embedder } from '../../../bundle-runtime/embedder.js';
import { createOrtEngine, type OrtGraphSpec } from '../../../bundle-runtime/ort-engine.js';
import { createPlanReferenceEngine } from '../../../bundle-runtime/plan-reference.js';
import { BundleTokenizer } from '../../../bundle-runtime/tokenizer.js';
import { spearman } from '../eval/correlation.js';
import type { Reporter } from '../report/reporter.js';
import { nodeOrt } from '../runtime/ort-node.js';
import { samplePairs, type TextPair } from './pair-fidelity.js';

/** The reference executor is plain TypeScript (about 1 s a 25-token pair at MiniLM size): a sample is enough. */
export const PLAN_PAIR_PARITY_PAIRS = 48;
/** Of those, pairs whose document is cut to the model's max tokens. */
export const PLAN_PAIR_PARITY_CUT_PAIRS = 2;
export const PLAN_PAIR_PARITY_MIN_SPEARMAN = 0.99;
/** The largest median |raw score diff|, as a share of the standard deviation of the graph's raw scores. */
export const PLAN_PAIR_PARITY_MAX_MEDIAN_SHARE = 0.05;

export interface PlanPairParity {
  pairs: number;
  spearman: number;
  maxAbsDiff: number;
  medianAbsDiff: number;
  /** Standard deviation of the packed graph's raw scores over the pairs. */
  scoreSpread: number;
}

/** The packed cross-encoder as ONNX Runtime runs it. */
export interface PackedCrossEncoder {
  modelBytes: Uint8Array;
  tokenizerJson: object;
  tokenizerConfig: Record<string, unknown>;
  graph: OrtGraphSpec;
  maxTokens: number;
  activation: ScoreActivation;
}

/**
 * `count` pairs from the texts: most as the fidelity check makes them, the last ones a query with every text joined
 * as its document, which the tokenizer cuts to the model's max tokens.
 * @example parityPairs(['the cat sat on the mat', 'rain is coming'], 4) // two short pairs, then two cut ones
 */
export function parityPairs(texts: readonly string[], count: number, cut = PLAN_PAIR_PARITY_CUT_PAIRS): TextPair[] {
  const short = samplePairs(texts, Math.max(0, count - cut));
  if (short.length === 0) return [];
  const everything = texts.join(' ');
  const long = short.slice(0, cut).map(([query]) => [query, everything] as const);
  return [...short, ...long];
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

function spread(values: number[]): number {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return Math.sqrt(values.reduce((sum, v) => sum + (v - mean) ** 2, 0) / values.length);
}

/**
 * Compares raw scores of the same pairs.
 * @example comparePlanScores([0.1, 2.0, -1.0], [0.1, 2.0, -1.2]) // { pairs: 3, spearman: 1, maxAbsDiff: 0.2, ... }
 */
export function comparePlanScores(graph: readonly number[], plan: readonly number[]): PlanPairParity {
  const diffs = plan.map((s, i) => Math.abs(s - graph[i]));
  return {
    pairs: plan.length,
    spearman: spearman(graph, plan),
    maxAbsDiff: Math.max(...diffs),
    medianAbsDiff: median(diffs),
    scoreSpread: spread([...graph]),
  };
}

/** Why the plan must be dropped, or null when it scores as the graph does. */
export function planPairParityFailure(figures: PlanPairParity): string | null {
  const limit = PLAN_PAIR_PARITY_MAX_MEDIAN_SHARE * figures.scoreSpread;
  // Written as negations so that NaN (a broken plan) fails.
  if (!(figures.spearman >= PLAN_PAIR_PARITY_MIN_SPEARMAN) || !(figures.medianAbsDiff <= limit)) {
    return `the plan's pair scores differ from the graph's (Spearman ${figures.spearman.toFixed(4)}, median |logit diff| ${figures.medianAbsDiff.toFixed(4)}; need ${PLAN_PAIR_PARITY_MIN_SPEARMAN} and <= ${limit.toFixed(4)}, ${PLAN_PAIR_PARITY_MAX_MEDIAN_SHARE} of the scores' spread)`;
  }
  return null;
}

/**
 * The plan's raw pair scores against the packed graph's; `reason` says why the plan must be dropped, if it must.
 * @example const { figures, reason } = await measurePlanPairParity(plan, weights, packed, pairs, reporter)
 */
export async function measurePlanPairParity(
  plan: EncoderPlan,
  weights: Uint8Array,
  packed: PackedCrossEncoder,
  pairs: readonly TextPair[],
  reporter: Reporter,
): Promise<{ figures: PlanPairParity; reason: string | null }> {
  const tokenizer = new BundleTokenizer(packed.tokenizerJson, packed.tokenizerConfig);
  const spec = { maxTokens: packed.maxTokens, activation: packed.activation };
  const tokenized = pairs.map(([query, document]) => tokenizer.encodePair(query, document, spec.maxTokens, 'right'));
  const graph = new CrossEncoder(
    new Embedder(await createOrtEngine(nodeOrt, packed.modelBytes, packed.graph)),
    tokenizer,
    spec,
  );
  const planSide = new CrossEncoder(new Embedder(createPlanReferenceEngine(plan, weights)), tokenizer, spec);
  const bar = reporter.progress('score pairs (encoder plan)', pairs.length);
  try {
    const graphScores = await graph.rawScores(tokenized);
    const planScores = await planSide.rawScores(tokenized, { onBatch: (n) => bar.tick(n) });
    const figures = comparePlanScores(graphScores, planScores);
    return { figures, reason: planPairParityFailure(figures) };
  } finally {
    bar.stop();
    await graph.release();
  }
}
