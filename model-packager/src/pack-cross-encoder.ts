/**
 * The packer's path for a cross-encoder (a sequence-classification export, output logits [batch, 1 or 2]), after the
 * shared read and prune stages: quantize (the classification head int8, else fp32 when int8 misses the gate) ->
 * measure pair fidelity and budget -> lower the packed graph to an encoder plan and check it against the graph ->
 * write. No pooling is appended: the graph already ends in its relevance logits. A graph the plan cannot express, or
 * a plan that does not score as the graph does, ships without a plan (ONNX Runtime serves it) and the report says why.
 */
import { sha256Hex } from '../../bundle-format/hash.js';
import {
  BUNDLE_FORMAT_VERSION,
  type BundleManifest,
  type CrossEncoderInfo,
  computeContentHash,
  LOGITS_OUTPUT,
  type PairFraming,
  type QuantizationMode,
  type ScoreActivation,
} from '../../bundle-format/manifest.js';
import { CrossEncoder, pairFramingOf } from '../../bundle-runtime/cross-encoder.js';
import { Embedder } from '../../bundle-runtime/embedder.js';
import { createOrtEngine } from '../../bundle-runtime/ort-engine.js';
import { BundleTokenizer } from '../../bundle-runtime/tokenizer.js';
import { PackError } from './errors.js';
import { checkBudget, sizeBreakdown } from './measure/budget.js';
import {
  comparePairScores,
  type PairFidelityFigures,
  samplePairs,
  scorePairs,
  type TextPair,
} from './measure/pair-fidelity.js';
import {
  measurePlanPairParity,
  PLAN_PAIR_PARITY_PAIRS,
  type PlanPairParity,
  parityPairs,
} from './measure/plan-pair-parity.js';
import type { ModelProto } from './onnx/proto.js';
import { decodeOnnxModel, readOnnxModel } from './onnx/read-model.js';
import { encodeOnnxModel } from './onnx/write-model.js';
import { findClassifierHead } from './passes/find-classifier-head.js';
import type { BertGraphInfo } from './passes/inspect-bert-graph.js';
import { lowerClassifierPlan } from './passes/lower-encoder-plan.js';
import { quantizeEmbeddingTable } from './passes/quantize-embedding-table.js';
import { quantizeMatMulWeights } from './passes/quantize-matmul-weights.js';
import type { ModelDir } from './readers/model-dir.js';
import type { Reporter } from './report/reporter.js';
import { nodeOrt, wasmHeapBytes } from './runtime/ort-node.js';
import { type PlanFiles, planFileEntries, planFiles } from './writer/plan-files.js';
import { writeBundle } from './writer/write-bundle.js';

/** Pairs the fidelity check scores (twice: original and packed). */
export const FIDELITY_PAIRS = 300;

export interface CrossEncoderPackInput {
  /** The model folder, its graph already pruned in place; the original graph is re-read from source.modelPath. */
  source: ModelDir;
  info: BertGraphInfo;
  originalTokenizer: object;
  prunedTokenizer: object;
  tokenizerConfig: Record<string, unknown>;
  vocabulary: { before: number; after: number };
  /** Texts the fidelity pairs are made of, and where they came from. */
  evaluation: { source: string; texts: string[] };
  settled: { quantization: QuantizationMode; minSpearman: number; maxBytes: number; maxHeapBytes: number };
  outDir: string;
  modelName: string;
  createdBy: string;
}

/**
 * A scorer on the model bytes. Without an activation, the logits per pair are read off one probe pair (1: sigmoid,
 * 2: softmax at index 1, the "relevant" label); the WASM heap is read right after the session is created.
 */
async function openScorer(
  input: CrossEncoderPackInput,
  modelBytes: Uint8Array,
  tokenizerJson: object,
  known?: ScoreActivation,
) {
  const { info, tokenizerConfig, source } = input;
  const graph = { inputs: info.inputs, inputDtype: info.inputDtype, output: LOGITS_OUTPUT };
  const embedder = new Embedder(await createOrtEngine(nodeOrt, modelBytes, graph));
  const heapBytes = wasmHeapBytes();
  const tokenizer = new BundleTokenizer(tokenizerJson, tokenizerConfig);
  let activation = known;
  if (activation === undefined) {
    const pair = tokenizer.encodePair('a', 'b', source.maxTokens, 'right');
    const [logits] = await embedder.embedAll([pair.ids], { tokenTypes: [pair.typeIds] });
    if (logits.length !== 1 && logits.length !== 2) {
      await embedder.release();
      throw new PackError('unsupported-graph', `logits has ${logits.length} labels; a cross-encoder has 1 or 2`);
    }
    activation = logits.length === 1 ? { type: 'sigmoid' } : { type: 'softmax', index: 1 };
  }
  const scorer = new CrossEncoder(embedder, tokenizer, { maxTokens: source.maxTokens, activation });
  return { scorer, heapBytes, activation };
}

/** The packed graph: int8 embeddings and weights, the head's linear layers left fp32 when `keepHead`. */
function quantizedGraph(pruned: Uint8Array, input: CrossEncoderPackInput, keepHead: boolean): ModelProto {
  const model = decodeOnnxModel(pruned, 'pruned model');
  if (input.settled.quantization === 'none') return model;
  const head = findClassifierHead(model, LOGITS_OUTPUT);
  quantizeEmbeddingTable(model, input.info.wordEmbedding);
  quantizeMatMulWeights(model, input.settled.quantization, new Set(keepHead ? head.linearNodes : []));
  return model;
}

/** The tokenizer's pair framing; refuses one the manifest cannot name. */
function pairFraming(input: CrossEncoderPackInput): PairFraming {
  const tokenizer = new BundleTokenizer(input.originalTokenizer, input.tokenizerConfig);
  let framing: PairFraming | null;
  try {
    framing = pairFramingOf(tokenizer.pairTemplate());
  } catch (err) {
    throw new PackError(
      'unsupported-graph',
      `${(err as Error).message}; a cross-encoder reads (query, document) pairs`,
    );
  }
  if (framing === null) {
    throw new PackError(
      'unsupported-graph',
      "the tokenizer's pair framing is neither [CLS] q [SEP] d [SEP] nor <s> q </s></s> d </s>",
    );
  }
  return framing;
}

interface Candidate {
  head: CrossEncoderInfo['head'];
  modelBytes: Uint8Array;
  scores: number[];
  heapBytes: number;
  activation: ScoreActivation;
}

/** Packs one head variant and scores the pairs with it. */
async function tryVariant(
  input: CrossEncoderPackInput,
  pruned: Uint8Array,
  keepHead: boolean,
  pairs: readonly TextPair[],
  reporter: Reporter,
): Promise<Candidate> {
  const modelBytes = encodeOnnxModel(quantizedGraph(pruned, input, keepHead));
  // The first variant opens the first session: ORT's heap only grows, so its reading is the packed model's own
  // footprint; a second variant's reading includes the sessions before it, so it errs high.
  const { scorer, heapBytes, activation } = await openScorer(input, modelBytes, input.prunedTokenizer);
  const head = keepHead || input.settled.quantization === 'none' ? 'fp32' : 'int8';
  const scores = await scorePairs(scorer, pairs, reporter, `score pairs (${head} head)`).finally(() =>
    scorer.release(),
  );
  return { head, modelBytes, scores, heapBytes, activation };
}

type Measured = Candidate & { fidelity: PairFidelityFigures };

const describe = (c: Measured) =>
  `head ${c.head}: Spearman ${c.fidelity.spearman.toFixed(4)}, max |score diff| ${c.fidelity.maxAbsDiff.toFixed(4)}`;

/**
 * The head's precision by measured fidelity: int8 when its pair scores meet --min-spearman, else fp32 when that
 * scores closer. The packed variant runs before the reference so the WASM heap reading is its own.
 */
async function chooseHead(
  input: CrossEncoderPackInput,
  pruned: Uint8Array,
  originalBytes: Uint8Array,
  reporter: Reporter,
) {
  const { evaluation, settled } = input;
  const pairs = samplePairs(evaluation.texts, FIDELITY_PAIRS);
  if (pairs.length === 0) throw new PackError('bad-option', 'no texts to make fidelity pairs from');
  const first = await tryVariant(input, pruned, settled.quantization === 'none', pairs, reporter);
  const reference = (await openScorer(input, originalBytes, input.originalTokenizer, first.activation)).scorer;
  const scores = await scorePairs(reference, pairs, reporter, 'score pairs (original)').finally(() =>
    reference.release(),
  );
  const int8: Measured = { ...first, fidelity: comparePairScores(scores, first.scores) };
  // Written as a negation so a NaN Spearman (a broken graph) tries the other head too.
  if (int8.head === 'fp32' || !(int8.fidelity.spearman < settled.minSpearman)) return { chosen: int8, tried: [int8] };
  const second = await tryVariant(input, pruned, true, pairs, reporter);
  const fp32: Measured = { ...second, fidelity: comparePairScores(scores, second.scores) };
  return { chosen: fp32.fidelity.spearman >= int8.fidelity.spearman ? fp32 : int8, tried: [int8, fp32] };
}

/** The encoder plan's parity with the packed graph, or why the bundle has no plan. */
export type CrossEncoderPlanReport = { pairParity: PlanPairParity } | { reason: string };

/**
 * The chosen packed graph lowered to an encoder plan (the graph is unchanged) and kept only if the reference executor
 * scores pairs as the graph does; otherwise no plan and why.
 */
async function planStage(
  input: CrossEncoderPackInput,
  chosen: Measured,
  reporter: Reporter,
): Promise<{ plan: PlanFiles | null; report: CrossEncoderPlanReport }> {
  const lowering = reporter.step('lower encoder plan');
  const maxTokens = input.source.maxTokens;
  const lowered = lowerClassifierPlan(decodeOnnxModel(chosen.modelBytes), { logits: LOGITS_OUTPUT, maxTokens });
  lowering.done(
    lowered.plan
      ? `${lowered.plan.layers.length} layers, ${lowered.plan.dense.length} head layers, plan.bin ${(lowered.weights.length / 1048576).toFixed(2)} MiB`
      : `no plan: ${lowered.reason}`,
  );
  if (!lowered.plan) return { plan: null, report: { reason: lowered.reason } };
  const check = reporter.step('check encoder plan against the graph');
  const { info } = input;
  const packed = {
    modelBytes: chosen.modelBytes,
    tokenizerJson: input.prunedTokenizer,
    tokenizerConfig: input.tokenizerConfig,
    graph: { inputs: info.inputs, inputDtype: info.inputDtype, output: LOGITS_OUTPUT },
    maxTokens,
    activation: chosen.activation,
  };
  const pairs = parityPairs(input.evaluation.texts, PLAN_PAIR_PARITY_PAIRS);
  const { figures, reason } = await measurePlanPairParity(lowered.plan, lowered.weights, packed, pairs, reporter);
  check.done(
    reason
      ? `no plan: ${reason}`
      : `Spearman ${figures.spearman.toFixed(4)}, |logit diff| median ${figures.medianAbsDiff.toExponential(2)}, max ${figures.maxAbsDiff.toExponential(2)} over ${figures.pairs} pairs`,
  );
  if (reason) return { plan: null, report: { reason } };
  return { plan: planFiles(lowered.plan, lowered.weights), report: { pairParity: figures } };
}

/**
 * Packs a cross-encoder whose vocabulary the shared stage already pruned, writing nothing unless every gate passes.
 * @example await packCrossEncoder({ source, info, ... }, reporter) // bundles/reranker with kind cross-encoder
 */
export async function packCrossEncoder(
  input: CrossEncoderPackInput,
  reporter: Reporter,
): Promise<{ manifest: BundleManifest; plan: CrossEncoderPlanReport }> {
  const step = reporter.step(`quantize (${input.settled.quantization}) and measure pair fidelity`);
  const pruned = encodeOnnxModel(input.source.model);
  const originalBytes = encodeOnnxModel(await readOnnxModel(input.source.modelPath));
  const framing = pairFraming(input);
  const { chosen, tried } = await chooseHead(input, pruned, originalBytes, reporter);
  const tokenizerBytes = new TextEncoder().encode(JSON.stringify(input.prunedTokenizer));
  const sizes = sizeBreakdown(decodeOnnxModel(chosen.modelBytes), chosen.modelBytes.length, tokenizerBytes.length);
  step.done(
    `${tried.map(describe).join('; ')} over ${chosen.fidelity.pairs} pairs of ${input.evaluation.source}; kept the ${chosen.head} head`,
  );
  checkBudget(sizes, chosen.heapBytes, input.settled);
  if (!(chosen.fidelity.spearman >= input.settled.minSpearman)) {
    throw new PackError(
      'fidelity',
      `pair scores' Spearman to the original model is ${chosen.fidelity.spearman.toFixed(4)} (${tried.map(describe).join('; ')}), below --min-spearman ${input.settled.minSpearman}`,
    );
  }
  const plan = await planStage(input, chosen, reporter);
  const manifest = await crossEncoderManifest(input, framing, chosen, { sizes, tokenizerBytes, plan: plan.plan });
  const write = reporter.step(`write bundle to ${input.outDir}`);
  await writeBundle(input.outDir, {
    model: chosen.modelBytes,
    tokenizer: tokenizerBytes,
    manifest,
    ...(plan.plan && { plan: plan.plan }),
  });
  write.done(`${(sizes.total / 1048576).toFixed(2)} MiB`);
  return { manifest, plan: plan.report };
}

async function crossEncoderManifest(
  input: CrossEncoderPackInput,
  framing: PairFraming,
  chosen: Measured,
  written: { sizes: ReturnType<typeof sizeBreakdown>; tokenizerBytes: Uint8Array; plan: PlanFiles | null },
): Promise<BundleManifest> {
  const { source, info } = input;
  const labels = chosen.activation.type === 'sigmoid' ? 1 : 2;
  const withoutHash: Omit<BundleManifest, 'contentHash'> = {
    kind: 'cross-encoder',
    formatVersion: BUNDLE_FORMAT_VERSION,
    modelName: input.modelName,
    dimensions: labels,
    allowedDimensions: [labels],
    maxTokens: source.maxTokens,
    pooling: 'cls',
    normalize: false,
    inputs: info.inputs,
    output: LOGITS_OUTPUT,
    inputDtype: info.inputDtype,
    tokenizerConfig: input.tokenizerConfig,
    quantization: input.settled.quantization,
    vocabulary: input.vocabulary,
    files: {
      'model.onnx': { bytes: chosen.modelBytes.length, sha256: await sha256Hex(chosen.modelBytes) },
      'tokenizer.json': { bytes: written.tokenizerBytes.length, sha256: await sha256Hex(written.tokenizerBytes) },
      ...(await planFileEntries(written.plan)),
    },
    bytes: written.sizes,
    sourceFiles: source.sourceFiles,
    fidelity: null,
    wasmHeapBytes: chosen.heapBytes,
    createdBy: input.createdBy,
    crossEncoder: {
      labels: labels,
      activation: chosen.activation,
      pairFraming: framing,
      head: chosen.head,
      fidelity: { source: input.evaluation.source, ...chosen.fidelity },
    },
  };
  return { ...withoutHash, contentHash: await computeContentHash(withoutHash) };
}
