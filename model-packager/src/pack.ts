import { sha256Hex } from '../../bundle-format/hash.js';
import {
  BUNDLE_FORMAT_VERSION,
  type BundleManifest,
  computeContentHash,
  type QuantizationMode,
  SENTENCE_EMBEDDING_OUTPUT,
} from '../../bundle-format/manifest.js';
import { PackError } from './errors.js';
import { graphEmbedder } from './eval/embedders.js';
import { checkBudget, ISOLATE_MEMORY_BYTES, KV_VALUE_BYTES, sizeBreakdown } from './measure/budget.js';
import { type FidelityFigures, measureFidelity, sampleTexts } from './measure/fidelity.js';
import { measurePlanParity, PLAN_PARITY_SAMPLES } from './measure/plan-parity.js';
import { SAMPLE_SENTENCES } from './measure/sample-sentences.js';
import type { ModelProto } from './onnx/proto.js';
import { readOnnxModel } from './onnx/read-model.js';
import { encodeOnnxModel } from './onnx/write-model.js';
import { type CrossEncoderPlanReport, packCrossEncoder } from './pack-cross-encoder.js';
import { appendDenseHead } from './passes/append-dense-head.js';
import { appendPooling } from './passes/append-pooling.js';
import { inspectBertGraph } from './passes/inspect-bert-graph.js';
import { type LoweredPlan, lowerEncoderPlan } from './passes/lower-encoder-plan.js';
import { type PruneReport, pruneVocabulary } from './passes/prune-vocabulary.js';
import { quantizeEmbeddingTable } from './passes/quantize-embedding-table.js';
import { type QuantizeReport, quantizeMatMulWeights } from './passes/quantize-matmul-weights.js';
import { type ModelDir, readModelDir } from './readers/model-dir.js';
import { type Reporter, silentReporter } from './report/reporter.js';
import { wasmHeapBytes } from './runtime/ort-node.js';
import {
  countTokens,
  countTokensFromWordFrequencies,
  readCorpusFile,
  readWordFrequencyFile,
  withCaseVariants,
} from './vocab/token-counts.js';
import { readVocabTable } from './vocab/tokenizer-json.js';
import { planFileEntries, planFiles } from './writer/plan-files.js';
import { writeBundle } from './writer/write-bundle.js';

export const PACKAGER_VERSION = 'edge-embed-packager 0.1.0';
/** How many texts the fidelity check embeds at most (twice: original and packed). */
const FIDELITY_SAMPLE_LIMIT = 200;
const WORDS_PER_SENTENCE = 12;

export interface PackOptions {
  modelDir: string;
  outDir: string;
  /** Plain-text corpora (one sentence per line, or running text) that decide which tokens survive pruning. */
  corpus?: string[];
  /** A "word count" frequency list, another pruning source. */
  wordFrequencies?: string;
  /** Keep at most this many tokens; without a corpus or frequency list the vocabulary is not pruned. */
  maxVocab?: number;
  quantization?: QuantizationMode;
  /** Texts for the fidelity check; default: the corpus, else built-in English sentences. */
  evalText?: string[];
  minCosine?: number;
  /** A cross-encoder's gate: Spearman's rho of packed vs original pair scores. */
  minSpearman?: number;
  maxBytes?: number;
  maxHeapBytes?: number;
  /** Model name written to the manifest (default: the model folder's name). */
  name?: string;
  /** Prompts (name -> text) added to, or replacing, those of config_sentence_transformers.json (`--prompt`). */
  prompts?: Record<string, string>;
}

export interface PackResult {
  manifest: BundleManifest;
  /** The encoder plan's parity with the packed graph (vectors, or a cross-encoder's pair scores), or why there is none. */
  plan: { parity: FidelityFigures } | CrossEncoderPlanReport;
  prune: PruneReport | null;
  quantization: { embeddings: QuantizeReport | null; matmuls: QuantizeReport | null };
  notes: string[];
}

export const PACK_DEFAULTS = {
  quantization: 'int8-compute' as QuantizationMode,
  minCosine: 0.99,
  minSpearman: 0.99,
  maxBytes: KV_VALUE_BYTES,
  maxHeapBytes: ISOLATE_MEMORY_BYTES,
};

/**
 * Texts the fidelity gate runs on: --eval-text, else the corpus, else sentences made of the word-frequency list's most
 * frequent words (the text the vocabulary was pruned for), else built-in everyday sentences.
 */
function chooseEvalTexts(
  evalTexts: string[],
  corpusTexts: string[],
  wordFrequencies: [string, number][] | null,
): { source: string; texts: string[] } {
  if (evalTexts.length) return { source: '--eval-text texts', texts: evalTexts };
  if (corpusTexts.length) return { source: 'corpus texts', texts: corpusTexts };
  if (wordFrequencies) {
    const words = [...wordFrequencies].sort((a, b) => b[1] - a[1]).map(([w]) => w);
    const sentences: string[] = [];
    for (
      let i = 0;
      i + WORDS_PER_SENTENCE <= Math.min(words.length, WORDS_PER_SENTENCE * FIDELITY_SAMPLE_LIMIT);
      i += WORDS_PER_SENTENCE
    ) {
      sentences.push(words.slice(i, i + WORDS_PER_SENTENCE).join(' '));
    }
    return { source: 'sentences of the most frequent listed words', texts: sentences };
  }
  return { source: 'built-in sentences', texts: [...SAMPLE_SENTENCES] };
}

/** Pooling, then any Dense modules, then L2 normalisation (after the last of them), all folded into the graph. */
function appendSentenceHead(model: ModelProto, source: ModelDir, hiddenOutput: string): ModelProto {
  const last = source.dense.length - 1;
  appendPooling(model, { pooling: source.pooling, normalize: source.normalize && last < 0, hiddenOutput });
  for (const [i, head] of source.dense.entries())
    appendDenseHead(model, head, { normalize: source.normalize && i === last });
  return model;
}

async function readTexts(paths: string[]): Promise<string[]> {
  const texts: string[] = [];
  for (const path of paths) texts.push(...(await readCorpusFile(path)));
  return texts;
}

/** Keeps the scalar settings of tokenizer_config.json, which is all @huggingface/tokenizers reads from it. */
function scalarConfig(config: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(config).filter(([, v]) => v === null || ['string', 'number', 'boolean'].includes(typeof v)),
  );
}

/** The options with their defaults, checked before any work is done. */
function settle(options: PackOptions) {
  const settled = {
    quantization: options.quantization ?? PACK_DEFAULTS.quantization,
    minCosine: options.minCosine ?? PACK_DEFAULTS.minCosine,
    minSpearman: options.minSpearman ?? PACK_DEFAULTS.minSpearman,
    maxBytes: options.maxBytes ?? PACK_DEFAULTS.maxBytes,
    maxHeapBytes: options.maxHeapBytes ?? PACK_DEFAULTS.maxHeapBytes,
  };
  if (options.maxVocab !== undefined && (!Number.isInteger(options.maxVocab) || options.maxVocab < 1)) {
    throw new PackError('bad-option', `--max-vocab must be a positive integer, got ${options.maxVocab}`);
  }
  if (!(settled.minCosine >= -1 && settled.minCosine <= 1)) {
    throw new PackError('bad-option', `--min-cosine must be between -1 and 1, got ${settled.minCosine}`);
  }
  if (!(settled.minSpearman >= -1 && settled.minSpearman <= 1)) {
    throw new PackError('bad-option', `--min-spearman must be between -1 and 1, got ${settled.minSpearman}`);
  }
  if (!(settled.maxBytes > 0))
    throw new PackError('bad-option', `--max-bytes must be positive, got ${settled.maxBytes}`);
  return settled;
}

/** Stage 1: the model folder, its graph's shape, and a check that tokenizer and embedding table agree. */
async function readSource(modelDir: string, reporter: Reporter) {
  const step = reporter.step('read model folder');
  const source = await readModelDir(modelDir);
  const info = inspectBertGraph(source.model);
  const originalTokenizer = structuredClone(source.tokenizerJson);
  const vocab = readVocabTable(source.tokenizerJson);
  const tableRows = info.wordEmbedding.vocabSize;
  if (vocab.tokens.length > tableRows) {
    throw new PackError(
      'vocab-mismatch',
      `tokenizer has ${vocab.tokens.length} tokens but the word-embedding table ${info.wordEmbedding.initializer} has ${tableRows} rows`,
    );
  }
  step.done(
    `${info.layers} layers, hidden ${info.hidden}, vocabulary ${vocab.tokens.length}, ${info.layerNorm} LayerNorm, opset ${info.opset}, inputs ${info.inputs.join('+')}`,
  );
  // A cross-encoder has no sentence-transformers pooling files; the notes about their defaults do not apply to it.
  if (info.classifier) source.notes = source.notes.filter((n) => !/1_Pooling|modules\.json/.test(n));
  for (const note of source.notes) reporter.note(note);
  return { source, info, originalTokenizer, vocabularySize: vocab.tokens.length };
}

/** The texts the options name: the pruning corpus, the fidelity texts and the word-frequency list. */
async function readTextInputs(options: PackOptions) {
  return {
    corpusTexts: await readTexts(options.corpus ?? []),
    evalTexts: await readTexts(options.evalText ?? []),
    wordFrequencies: options.wordFrequencies ? await readWordFrequencyFile(options.wordFrequencies) : null,
  };
}

type Source = Awaited<ReturnType<typeof readSource>>;
type TextInputs = Awaited<ReturnType<typeof readTextInputs>>;

/** Stage 2: prunes the vocabulary to the corpus and word list (the graph's table is rewritten in place). */
function pruneStage(
  { source, info, vocabularySize }: Source,
  texts: TextInputs,
  maxVocab: number | undefined,
  reporter: Reporter,
) {
  const { corpusTexts, evalTexts, wordFrequencies } = texts;
  if (corpusTexts.length === 0 && !wordFrequencies) {
    if (maxVocab !== undefined)
      throw new PackError(
        'bad-option',
        '--max-vocab needs --corpus or --word-frequencies to choose which tokens to keep',
      );
    return { tokenizerJson: source.tokenizerJson, prune: null };
  }
  const step = reporter.step('prune vocabulary');
  const counts = countTokens(source.tokenizerJson, corpusTexts);
  if (wordFrequencies) {
    // Frequency lists keep one spelling per word; cased vocabularies also need "The" and "THE"-style forms.
    const frequencies = withCaseVariants(wordFrequencies);
    for (const [id, n] of countTokensFromWordFrequencies(source.tokenizerJson, frequencies)) {
      counts.set(id, (counts.get(id) ?? 0) + n);
    }
  }
  const heldOut = evalTexts.length ? evalTexts : [...SAMPLE_SENTENCES];
  const pruned = pruneVocabulary(source.model, source.tokenizerJson, info.wordEmbedding, counts, {
    maxVocab: maxVocab ?? vocabularySize,
    heldOutTexts: heldOut,
  });
  const prune = pruned.report;
  const changed =
    prune.changedWordShare === null
      ? ''
      : `, ${(prune.changedWordShare * 100).toFixed(1)}% of held-out words tokenize differently`;
  step.done(`kept ${prune.kept}, removed ${prune.removed} (${prune.before} -> ${prune.after})${changed}`);
  return { tokenizerJson: pruned.tokenizerJson as Record<string, unknown>, prune };
}

/** Stage 3: int8 word embeddings (per row) and weight matrices (per channel), unless quantization is 'none'. */
function quantizeStage(
  { source, info }: Source,
  quantization: QuantizationMode,
  reporter: Reporter,
): PackResult['quantization'] {
  if (quantization === 'none') return { embeddings: null, matmuls: null };
  const step = reporter.step(`quantize (${quantization})`);
  const embeddings = quantizeEmbeddingTable(source.model, info.wordEmbedding).report;
  const matmuls = quantizeMatMulWeights(source.model, quantization).report;
  step.done(
    `${matmuls.tensors} weight matrices + word embeddings to int8, max |error| ${Math.max(matmuls.maxAbsError, embeddings.maxAbsError).toExponential(2)}`,
  );
  return { embeddings, matmuls };
}

/** Stage 3b: the packed encoder lowered to an encoder plan (the graph is unchanged), or why it cannot be. */
function lowerStage({ source, info }: Source, reporter: Reporter): LoweredPlan {
  const step = reporter.step('lower encoder plan');
  const lowered = lowerEncoderPlan(source.model, {
    hiddenOutput: info.hiddenOutput,
    maxTokens: source.maxTokens,
    pooling: source.pooling,
    normalize: source.normalize,
    dense: source.dense,
  });
  step.done(
    lowered.plan
      ? `${lowered.plan.layers.length} layers, plan.bin ${(lowered.weights.length / 1048576).toFixed(2)} MiB`
      : `no plan: ${lowered.reason}`,
  );
  return lowered;
}

/** Stage 5b: the plan is kept only if the reference executor gives the packed graph's vectors. */
async function planParityStage(
  lowered: LoweredPlan,
  src: Source,
  texts: TextInputs,
  packedParts: { modelBytes: Uint8Array; tokenizerJson: object },
  reporter: Reporter,
) {
  if (!lowered.plan) return { plan: null, report: { reason: lowered.reason } };
  const { source, info } = src;
  const graph = { inputs: info.inputs, inputDtype: info.inputDtype, output: SENTENCE_EMBEDDING_OUTPUT };
  const parts = {
    label: 'packed',
    tokenizerConfig: scalarConfig(source.tokenizerConfig),
    maxTokens: source.maxTokens,
    graph,
  };
  const evaluation = chooseEvalTexts(texts.evalTexts, texts.corpusTexts, texts.wordFrequencies);
  const step = reporter.step('check encoder plan against the graph');
  const sample = sampleTexts(evaluation.texts, PLAN_PARITY_SAMPLES);
  const { figures, reason } = await measurePlanParity(
    lowered.plan,
    lowered.weights,
    { ...parts, ...packedParts },
    sample,
    reporter,
  );
  step.done(
    reason
      ? `no plan: ${reason}`
      : `mean cosine ${figures.meanCosine.toFixed(6)}, min ${figures.minCosine.toFixed(6)} over ${figures.samples} texts`,
  );
  if (reason) return { plan: null, report: { reason } };
  return { plan: planFiles(lowered.plan, lowered.weights), report: { parity: figures } };
}

/** Stage 4: pooling, Dense and normalisation folded into the graph, which is then serialised. */
function appendHeadStage({ source, info }: Source, tokenizerJson: object, reporter: Reporter) {
  const step = reporter.step('append pooling');
  appendSentenceHead(source.model, source, info.hiddenOutput);
  const modelBytes = encodeOnnxModel(source.model);
  const tokenizerBytes = new TextEncoder().encode(JSON.stringify(tokenizerJson));
  const dense = source.dense
    .map((d) => ` + dense ${d.inFeatures}x${d.outFeatures}${d.activation === 'tanh' ? ' tanh' : ''}`)
    .join('');
  step.done(
    `${source.pooling} pooling${dense}${source.normalize ? ' + L2 normalise' : ''} -> ${SENTENCE_EMBEDDING_OUTPUT}`,
  );
  return { modelBytes, tokenizerBytes };
}

/**
 * Stage 5: the packed graph's WASM heap and output size, and its fidelity to the original (fp32, unpruned) graph,
 * both embedded with bundle-runtime as the worker embeds.
 */
async function measureStage(
  src: Source,
  texts: TextInputs,
  packedParts: { modelBytes: Uint8Array; tokenizerJson: object },
  reporter: Reporter,
) {
  const { source, info, originalTokenizer } = src;
  const step = reporter.step('measure memory and fidelity');
  const tokenizerConfig = scalarConfig(source.tokenizerConfig);
  const graph = { inputs: info.inputs, inputDtype: info.inputDtype, output: SENTENCE_EMBEDDING_OUTPUT };
  const spec = { tokenizerConfig, maxTokens: source.maxTokens, graph };
  const packed = await graphEmbedder({ ...spec, label: 'packed', ...packedParts });
  // Measured before the reference session exists: ORT's heap only grows, so this is the packed model's footprint.
  const heapBytes = wasmHeapBytes();
  const [probe] = await packed.embed(['hello world']);
  const reference = await graphEmbedder({
    ...spec,
    label: 'original',
    tokenizerJson: originalTokenizer,
    modelBytes: encodeOnnxModel(appendSentenceHead(await readOnnxModel(source.modelPath), source, info.hiddenOutput)),
  });
  const evaluation = chooseEvalTexts(texts.evalTexts, texts.corpusTexts, texts.wordFrequencies);
  let fidelity: FidelityFigures;
  let heldOut: FidelityFigures | null = null;
  try {
    fidelity = await measureFidelity(reference, packed, sampleTexts(evaluation.texts, FIDELITY_SAMPLE_LIMIT), reporter);
    if (evaluation.source !== 'built-in sentences')
      heldOut = await measureFidelity(reference, packed, [...SAMPLE_SENTENCES], reporter);
  } finally {
    await reference.close();
    await packed.close();
  }
  step.done(
    `mean cosine ${fidelity.meanCosine.toFixed(4)}, min ${fidelity.minCosine.toFixed(4)} over ${fidelity.samples} ${evaluation.source}; WASM heap ${(heapBytes / 1048576).toFixed(1)} MiB`,
  );
  if (heldOut)
    reporter.note(
      `held-out everyday sentences: mean cosine ${heldOut.meanCosine.toFixed(4)}, min ${heldOut.minCosine.toFixed(4)} (not gated)`,
    );
  return {
    dimensions: probe.length,
    heapBytes,
    tokenizerConfig,
    fidelity: { source: evaluation.source, ...fidelity, heldOut },
  };
}

/** Stage 6: the budget and fidelity gates; nothing is written when one fails. */
function checkGates(
  sizes: ReturnType<typeof sizeBreakdown>,
  measured: Awaited<ReturnType<typeof measureStage>>,
  settled: ReturnType<typeof settle>,
) {
  checkBudget(sizes, measured.heapBytes, settled);
  const { meanCosine, minCosine } = measured.fidelity;
  // Written as a negation so a NaN cosine (a broken graph) fails too.
  if (!(meanCosine >= settled.minCosine)) {
    throw new PackError(
      'fidelity',
      `mean cosine to the original model is ${meanCosine.toFixed(4)} (min ${minCosine.toFixed(4)}), below --min-cosine ${settled.minCosine}`,
    );
  }
}

/**
 * The manifest's prompts: the model folder's, with `--prompt` ones added or replacing them; no fields without any, so
 * the bundle of a model without prompts keeps its content hash.
 * @example bundlePrompts(source, { query: 'query: ' }) // { prompts: { query: 'query: ' }, defaultPromptName: null }
 */
export function bundlePrompts(
  source: Pick<ModelDir, 'prompts' | 'defaultPromptName'>,
  overrides: Record<string, string> = {},
): Pick<BundleManifest, 'prompts' | 'defaultPromptName'> {
  const prompts = { ...source.prompts, ...overrides };
  if (Object.keys(prompts).length === 0) return {};
  return { prompts, defaultPromptName: source.defaultPromptName };
}

/** A sequence-classification export (a cross-encoder) after the shared read and prune stages. */
async function packClassifier(
  options: PackOptions,
  settled: ReturnType<typeof settle>,
  src: Source,
  pruned: { texts: TextInputs; tokenizerJson: object; prune: PruneReport | null },
  reporter: Reporter,
): Promise<PackResult> {
  if (Object.keys(bundlePrompts(src.source, options.prompts)).length > 0)
    throw new PackError('bad-option', 'a cross-encoder takes no prompts (--prompt, config_sentence_transformers.json)');
  const { texts, prune } = pruned;
  const { manifest, plan } = await packCrossEncoder(
    {
      source: src.source,
      info: src.info,
      originalTokenizer: src.originalTokenizer,
      prunedTokenizer: pruned.tokenizerJson,
      tokenizerConfig: scalarConfig(src.source.tokenizerConfig),
      vocabulary: { before: prune?.before ?? src.vocabularySize, after: prune?.after ?? src.vocabularySize },
      evaluation: chooseEvalTexts(texts.evalTexts, texts.corpusTexts, texts.wordFrequencies),
      settled,
      outDir: options.outDir,
      modelName: options.name ?? src.source.modelName,
      createdBy: PACKAGER_VERSION,
    },
    reporter,
  );
  return { manifest, prune, quantization: { embeddings: null, matmuls: null }, plan, notes: src.source.notes };
}

/**
 * Packs a model folder into a bundle: read -> inspect -> prune vocabulary -> quantize -> append pooling -> measure
 * fidelity and budget -> write. Nothing is written unless every check passes. A sequence-classification export (a
 * cross-encoder, output logits) takes its own path after pruning (pack-cross-encoder.ts).
 *
 * @example
 *   const { manifest } = await packModel({ modelDir: 'all-MiniLM-L6-v2', outDir: 'bundles/minilm', corpus: ['docs.txt'] });
 */
export async function packModel(options: PackOptions, reporter: Reporter = silentReporter): Promise<PackResult> {
  const settled = settle(options);
  const src = await readSource(options.modelDir, reporter);
  const texts = await readTextInputs(options);
  const { tokenizerJson, prune } = pruneStage(src, texts, options.maxVocab, reporter);
  if (src.info.classifier) return packClassifier(options, settled, src, { texts, tokenizerJson, prune }, reporter);
  const quantization = quantizeStage(src, settled.quantization, reporter);
  const lowered = lowerStage(src, reporter);
  const { modelBytes, tokenizerBytes } = appendHeadStage(src, tokenizerJson, reporter);
  const measured = await measureStage(src, texts, { modelBytes, tokenizerJson }, reporter);
  const plan = await planParityStage(lowered, src, texts, { modelBytes, tokenizerJson }, reporter);
  const sizes = sizeBreakdown(src.source.model, modelBytes.length, tokenizerBytes.length);
  checkGates(sizes, measured, settled);

  const { source, info, vocabularySize } = src;
  const withoutHash: Omit<BundleManifest, 'contentHash'> = {
    formatVersion: BUNDLE_FORMAT_VERSION,
    modelName: options.name ?? source.modelName,
    dimensions: measured.dimensions,
    allowedDimensions: [measured.dimensions],
    maxTokens: source.maxTokens,
    pooling: source.pooling,
    normalize: source.normalize,
    inputs: info.inputs,
    output: SENTENCE_EMBEDDING_OUTPUT,
    inputDtype: info.inputDtype,
    tokenizerConfig: measured.tokenizerConfig,
    quantization: settled.quantization,
    vocabulary: { before: prune?.before ?? vocabularySize, after: prune?.after ?? vocabularySize },
    files: {
      'model.onnx': { bytes: modelBytes.length, sha256: await sha256Hex(modelBytes) },
      'tokenizer.json': { bytes: tokenizerBytes.length, sha256: await sha256Hex(tokenizerBytes) },
      ...(await planFileEntries(plan.plan)),
    },
    bytes: sizes,
    sourceFiles: source.sourceFiles,
    fidelity: measured.fidelity,
    wasmHeapBytes: measured.heapBytes,
    createdBy: PACKAGER_VERSION,
    ...bundlePrompts(source, options.prompts),
  };
  const manifest: BundleManifest = { ...withoutHash, contentHash: await computeContentHash(withoutHash) };

  const step = reporter.step(`write bundle to ${options.outDir}`);
  await writeBundle(options.outDir, {
    model: modelBytes,
    tokenizer: tokenizerBytes,
    manifest,
    ...(plan.plan && { plan: plan.plan }),
  });
  step.done(
    `${(sizes.total / 1048576).toFixed(2)} MiB (model ${(modelBytes.length / 1048576).toFixed(2)} MiB, tokenizer ${(tokenizerBytes.length / 1048576).toFixed(2)} MiB)`,
  );
  return { manifest, prune, quantization, plan: plan.report, notes: source.notes };
}
