/**
 * The bundle format: the one contract between the packager (which writes bundles) and the worker (which serves them).
 * A bundle is a folder (or KV entry set) holding the manifest, the tokenizer and, by its `kind`, either an ONNX
 * transformer (`model.onnx`) or a static table (`embeddings.bin`, one int8 row per vocabulary piece:
 * bundle-format/static-table.ts).
 * Bump {@link BUNDLE_FORMAT_VERSION} for any change a reader of an older bundle could misread. Adding `kind` did not
 * need a bump: a manifest without it reads as a transformer (so every existing bundle stays valid, with the same
 * content hash), and a reader from before `kind` refuses a static manifest, which has no `files["model.onnx"]`.
 * Adding `prompts` did not need one either: a bundle without them keeps its content hash; the one thing an older worker
 * misses in a bundle with prompts is the prompts themselves, and it still serves the model's plain vectors.
 * Adding the cross-encoder kind did not need one: a reader from before it refuses the manifest's output `logits`.
 * Adding the encoder plan (plan.json + plan.bin) did not need one: a bundle without it keeps its hash, and an older
 * reader ignores the files and serves model.onnx, which stays the reference.
 */
import { z } from 'zod';
import { SHA256_HEX, sha256Hex } from './hash.js';

export const BUNDLE_FORMAT_VERSION = 1;

export const BUNDLE_FILES = {
  manifest: 'manifest.json',
  model: 'model.onnx',
  tokenizer: 'tokenizer.json',
  /** The static bundle's table, in place of model.onnx. */
  embeddings: 'embeddings.bin',
  /** An encoder plan and its weights (bundle-format/encoder-plan.ts), beside model.onnx when the graph could be lowered. */
  plan: 'plan.json',
  planWeights: 'plan.bin',
} as const;

/**
 * transformer: an ONNX graph run by ONNX Runtime; static: one vector per vocabulary piece, averaged (no ORT);
 * cross-encoder: an ONNX graph that reads a (query, document) pair and outputs relevance logits (re-ranking).
 */
export const BundleKind = z.enum(['transformer', 'static', 'cross-encoder']);
export type BundleKind = z.infer<typeof BundleKind>;

/** Name of the one graph output every embedding bundle has: [batch, dimensions] float32. */
export const SENTENCE_EMBEDDING_OUTPUT = 'sentence_embedding';
/** Name of a cross-encoder bundle's one graph output: [batch, 1 or 2] float32 relevance logits. */
export const LOGITS_OUTPUT = 'logits';

const Sha256Hex = z.string().regex(SHA256_HEX, 'expected a lowercase hex sha256');
const byteCount = z.number().int().nonnegative();

/** sentence-transformers pooling modes; mean_sqrt_len is sum / sqrt(tokens) (Universal Sentence Encoder). */
export const PoolingMode = z.enum(['mean', 'cls', 'max', 'mean_sqrt_len']);
export type PoolingMode = z.infer<typeof PoolingMode>;

/**
 * int8-compute: activations quantized per token (QuantizeLinear) + MatMulInteger on int8 weights;
 * int8-storage: int8 weights dequantized to fp32 for an fp32 MatMul.
 */
export const QuantizationMode = z.enum(['int8-compute', 'int8-storage', 'none']);
export type QuantizationMode = z.infer<typeof QuantizationMode>;

export const BundleFile = z.object({ bytes: byteCount, sha256: Sha256Hex });

/** How a static bundle's table was made (`edge-embed distill`). */
export const StaticTableInfo = z.object({
  /** The teacher bundle's contentHash and model name: the transformer whose vectors the table was distilled from. */
  teacher: z.object({ contentHash: Sha256Hex, modelName: z.string() }),
  /** Rows in embeddings.bin (one per tokenizer id). */
  rows: z.number().int().positive(),
  /** Dimensions after PCA, or null when the teacher's vectors were kept as they are. */
  pcaDimensions: z.number().int().positive().nullable(),
  /** SIF weight a / (a + p(piece)) folded into each row, with p from the named source; `none` for no weighting. */
  weighting: z.object({ scheme: z.enum(['sif', 'none']), a: z.number().positive(), source: z.string() }),
  /**
   * How closely the table follows the teacher on held-out sentences: the Spearman correlation between the static and
   * the teacher's cosine for every pair of them (PCA changes the space, so vectors are not compared directly).
   */
  agreement: z.object({ sentences: z.number().int().positive(), pairwiseSpearman: z.number() }).nullable(),
});
export type StaticTableInfo = z.infer<typeof StaticTableInfo>;

/**
 * How a cross-encoder turns its logits into a relevance score: `sigmoid` of the one logit, or `softmax` over two
 * logits taken at `index` (the "relevant" label). The raw score is the logit (one logit) or logit[index] minus the
 * other logit (two), so sigmoid(raw) is the score either way.
 */
export const ScoreActivation = z.discriminatedUnion('type', [
  z.object({ type: z.literal('sigmoid') }),
  z.object({ type: z.literal('softmax'), index: z.union([z.literal(0), z.literal(1)]) }),
]);
export type ScoreActivation = z.infer<typeof ScoreActivation>;

/**
 * A cross-encoder's pair framing, as its tokenizer's post-processor adds it: `bert` is [CLS] q [SEP] d [SEP] with
 * token types 0 then 1; `roberta` is <s> q </s></s> d </s>.
 */
export const PairFraming = z.enum(['bert', 'roberta']);
export type PairFraming = z.infer<typeof PairFraming>;

/** What a cross-encoder bundle adds: its score activation, pair framing, head precision and pair fidelity. */
export const CrossEncoderInfo = z.object({
  /** Logits per pair (the graph's output width). */
  labels: z.union([z.literal(1), z.literal(2)]),
  activation: ScoreActivation,
  pairFraming: PairFraming,
  /** Precision the classification head (pooler + classifier) was kept in, chosen by measured fidelity. */
  head: z.enum(['int8', 'fp32']),
  /**
   * Packed vs original (fp32, unpruned) scores over the same (query, document) pairs: Spearman's rho and the largest
   * absolute difference of the activated scores. `source` says which texts the pairs were made from.
   */
  fidelity: z.object({
    source: z.string(),
    pairs: z.number().int().nonnegative(),
    spearman: z.number(),
    maxAbsDiff: z.number(),
  }),
});
export type CrossEncoderInfo = z.infer<typeof CrossEncoderInfo>;

/**
 * Both kinds share one schema. A static bundle (`edge-embed distill`) keeps the transformer fields' meaning for the
 * vector it serves (pooling `mean` of the looked-up rows, `normalize` true, `quantization` int8-storage: int8 rows
 * dequantized on lookup, `wasmHeapBytes` null since no WASM runs), lists embeddings.bin in `files` instead of
 * model.onnx, and says in `static` how its table was made.
 */
const ManifestFields = z.object({
  /** Absent in bundles made before static bundles existed; absent means transformer. */
  kind: BundleKind.optional(),
  formatVersion: z.literal(BUNDLE_FORMAT_VERSION),
  /** Human-readable model name, e.g. "all-MiniLM-L6-v2"; shown as `model` in API responses. */
  modelName: z.string().min(1),
  /** Length of each output vector. */
  dimensions: z.number().int().positive(),
  /** Output sizes a client may ask for via OpenAI's `dimensions` (Matryoshka models list several); always has `dimensions`. */
  allowedDimensions: z.array(z.number().int().positive()).min(1),
  /** Longest token sequence (special tokens included) the model accepts. */
  maxTokens: z.number().int().positive(),
  pooling: PoolingMode,
  /** True when L2 normalisation is folded into the graph. */
  normalize: z.boolean(),
  /** Graph inputs, in the names the graph uses; token_type_ids only for models that take it. */
  inputs: z.array(z.enum(['input_ids', 'attention_mask', 'token_type_ids'])).min(1),
  /** sentence_embedding; a cross-encoder's is logits. */
  output: z.enum([SENTENCE_EMBEDDING_OUTPUT, LOGITS_OUTPUT]),
  /** Integer dtype of input_ids / attention_mask / token_type_ids. */
  inputDtype: z.enum(['int64', 'int32']),
  /** Arguments for `new Tokenizer(tokenizerJson, tokenizerConfig)` from @huggingface/tokenizers. */
  tokenizerConfig: z.record(z.string(), z.unknown()),
  quantization: QuantizationMode,
  vocabulary: z.object({ before: z.number().int().positive(), after: z.number().int().positive() }),
  files: z.object({
    'model.onnx': BundleFile.optional(),
    'embeddings.bin': BundleFile.optional(),
    'tokenizer.json': BundleFile,
    'plan.json': BundleFile.optional(),
    'plan.bin': BundleFile.optional(),
  }),
  /** Stored bytes by part of the model. */
  bytes: z.object({
    total: byteCount,
    embeddings: byteCount,
    layers: byteCount,
    tokenizer: byteCount,
  }),
  /**
   * sha256 over the model and tokenizer hashes and every manifest field that changes a vector; the worker's cache
   * namespace, so two bundles never share cache entries.
   */
  contentHash: Sha256Hex,
  /** sha256 of each input file the bundle was made from, by file name. */
  sourceFiles: z.record(z.string(), Sha256Hex),
  /**
   * Cosine of packed vs original vectors. `source` says which texts: --eval-text, the corpus, or sentences drawn from
   * the word-frequency list (the text the vocabulary was pruned for). `heldOut` is the same on built-in everyday
   * sentences the pruning never saw, reported but not gated on.
   */
  fidelity: z
    .object({
      source: z.string(),
      samples: z.number().int().nonnegative(),
      meanCosine: z.number(),
      minCosine: z.number(),
      heldOut: z
        .object({ samples: z.number().int().nonnegative(), meanCosine: z.number(), minCosine: z.number() })
        .nullable(),
    })
    .nullable(),
  /** WASM heap bytes after creating an inference session for the bundle (onnxruntime-web, Node). */
  wasmHeapBytes: byteCount.nullable(),
  createdBy: z.string(),
  static: StaticTableInfo.optional(),
  /**
   * Only in a cross-encoder bundle (kind cross-encoder). It keeps the other fields' meaning where they have one:
   * `dimensions` is the number of logits, `pooling` cls (the classifier reads the first token), `normalize` false,
   * `fidelity` null (pair fidelity is here).
   */
  crossEncoder: CrossEncoderInfo.optional(),
  /**
   * sentence-transformers prompts (config_sentence_transformers.json, or `pack --prompt`): name -> text the worker
   * prepends to a text before tokenizing it when a request names the prompt, e.g. { query: 'query: ' }. Absent in
   * bundles without prompts; a reader from before prompts ignores the field.
   */
  prompts: z.record(z.string().min(1), z.string()).optional(),
  /** The prompt applied when a request names none (sentence-transformers' default_prompt_name); null: none. */
  defaultPromptName: z.string().nullable().optional(),
});

export const BundleManifest = ManifestFields.superRefine((m, ctx) => {
  const isStatic = m.kind === 'static';
  const need = (ok: boolean, path: string[], message: string) => {
    if (!ok) ctx.addIssue({ code: z.ZodIssueCode.custom, path, message });
  };
  need(isStatic || m.files['model.onnx'] !== undefined, ['files', 'model.onnx'], 'Required');
  need(!isStatic || m.files['embeddings.bin'] !== undefined, ['files', 'embeddings.bin'], 'Required (static bundle)');
  need(!isStatic || m.files['model.onnx'] === undefined, ['files', 'model.onnx'], 'a static bundle has no model.onnx');
  need(!isStatic || m.static !== undefined, ['static'], 'Required (static bundle)');
  need(isStatic || m.static === undefined, ['static'], 'only a static bundle has it');
  const isCrossEncoder = m.kind === 'cross-encoder';
  need(!isCrossEncoder || m.crossEncoder !== undefined, ['crossEncoder'], 'Required (cross-encoder bundle)');
  need(isCrossEncoder || m.crossEncoder === undefined, ['crossEncoder'], 'only a cross-encoder bundle has it');
  need(
    (m.output === LOGITS_OUTPUT) === isCrossEncoder,
    ['output'],
    isCrossEncoder ? `a cross-encoder's output is ${LOGITS_OUTPUT}` : `expected ${SENTENCE_EMBEDDING_OUTPUT}`,
  );
  const planFiles = [m.files['plan.json'], m.files['plan.bin']].filter(Boolean).length;
  need(planFiles !== 1, ['files', 'plan.json'], 'plan.json and plan.bin come together');
  need(!isStatic || planFiles === 0, ['files', 'plan.json'], 'a static bundle has no encoder plan');
  need(
    m.defaultPromptName == null || m.prompts?.[m.defaultPromptName] !== undefined,
    ['defaultPromptName'],
    'must name one of the prompts',
  );
});
/** Any bundle's manifest; `kind` tells them apart (absent: transformer). */
export type BundleManifest = z.infer<typeof ManifestFields>;
export type TransformerBundleManifest = BundleManifest & {
  kind?: 'transformer';
  files: { 'model.onnx': z.infer<typeof BundleFile> };
  static?: undefined;
};
export type CrossEncoderBundleManifest = BundleManifest & {
  kind: 'cross-encoder';
  files: { 'model.onnx': z.infer<typeof BundleFile> };
  crossEncoder: CrossEncoderInfo;
};
export type StaticBundleManifest = BundleManifest & {
  kind: 'static';
  files: { 'embeddings.bin': z.infer<typeof BundleFile>; 'model.onnx'?: undefined };
  static: StaticTableInfo;
};

/** @example isStaticManifest(manifest) ? createStaticEngine(...) : createOrtEngine(...) */
export function isStaticManifest(manifest: BundleManifest): manifest is StaticBundleManifest {
  return manifest.kind === 'static';
}

/** @example isCrossEncoderManifest(manifest) ? rerankRoutes(...) : embeddingRoutes(...) */
export function isCrossEncoderManifest(manifest: BundleManifest): manifest is CrossEncoderBundleManifest {
  return manifest.kind === 'cross-encoder';
}

/** What the content hash covers: the file hashes and the manifest fields that change the vector for a given text. */
export type ContentHashFields = Pick<
  BundleManifest,
  'formatVersion' | 'files' | 'tokenizerConfig' | 'maxTokens' | 'pooling' | 'normalize' | 'inputs' | 'inputDtype'
> &
  Partial<Pick<BundleManifest, 'kind' | 'dimensions' | 'prompts' | 'defaultPromptName' | 'crossEncoder'>>;

/**
 * The manifest fields that change the vector for a given text; everything in contentHash besides file hashes. A static
 * bundle's start with `kind` and hash its table and dimensions, so no static bundle can share a transformer's namespace;
 * a transformer's stay as they were (no `kind`), so existing hashes, and so caches, are unchanged. Prompts decide
 * the text a request's vector is computed from, so they count, but only when present: JSON.stringify drops an
 * undefined field, so a bundle without prompts keeps the hash it had before prompts existed. A cross-encoder's start
 * with `kind` too and add what turns its logits into a score (activation, pair framing). Both kinds hash an encoder
 * plan's files when the bundle has one, and only then.
 */
export function vectorAffectingFields(m: ContentHashFields) {
  const prompts = promptFields(m);
  if (m.kind === 'cross-encoder') {
    return {
      kind: m.kind,
      formatVersion: m.formatVersion,
      model: m.files['model.onnx']?.sha256,
      tokenizer: m.files['tokenizer.json'].sha256,
      tokenizerConfig: m.tokenizerConfig,
      maxTokens: m.maxTokens,
      inputs: m.inputs,
      inputDtype: m.inputDtype,
      activation: m.crossEncoder?.activation,
      pairFraming: m.crossEncoder?.pairFraming,
      ...planFields(m),
    };
  }
  if (m.kind === 'static') {
    return {
      kind: m.kind,
      formatVersion: m.formatVersion,
      embeddings: m.files['embeddings.bin']?.sha256,
      tokenizer: m.files['tokenizer.json'].sha256,
      dimensions: m.dimensions,
      tokenizerConfig: m.tokenizerConfig,
      maxTokens: m.maxTokens,
      pooling: m.pooling,
      normalize: m.normalize,
      ...prompts,
    };
  }
  return {
    formatVersion: m.formatVersion,
    model: m.files['model.onnx']?.sha256,
    tokenizer: m.files['tokenizer.json'].sha256,
    tokenizerConfig: m.tokenizerConfig,
    maxTokens: m.maxTokens,
    pooling: m.pooling,
    normalize: m.normalize,
    inputs: m.inputs,
    inputDtype: m.inputDtype,
    ...prompts,
    ...planFields(m),
  };
}

/** The encoder plan's file hashes, when the bundle has one (a bundle without a plan keeps its hash). */
function planFields(m: ContentHashFields) {
  const plan = m.files['plan.json'];
  const weights = m.files['plan.bin'];
  return plan && weights ? { plan: plan.sha256, planWeights: weights.sha256 } : {};
}

/** The prompts in name order (so the hash does not depend on the order they were written in), when there are any. */
function promptFields(m: ContentHashFields) {
  if (m.prompts === undefined) return {};
  const sorted = Object.fromEntries(Object.entries(m.prompts).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return { prompts: sorted, defaultPromptName: m.defaultPromptName ?? null };
}

/**
 * A bundle's contentHash: the sha256 of its {@link vectorAffectingFields} as JSON (key order as written there, so the
 * hash of every existing bundle stays what it is).
 * @example const manifest = { ...withoutHash, contentHash: await computeContentHash(withoutHash) }
 */
export function computeContentHash(manifest: ContentHashFields): Promise<string> {
  return sha256Hex(JSON.stringify(vectorAffectingFields(manifest)));
}

/**
 * Refuses a manifest whose contentHash is not {@link computeContentHash} of its fields (edited by hand, or stale), so
 * a bundle is never stored or served under a hash, and so a cache namespace, that is not its own.
 */
export async function checkContentHash(manifest: ContentHashFields & { contentHash: string }): Promise<void> {
  const actual = await computeContentHash(manifest);
  if (actual !== manifest.contentHash) {
    throw new Error(
      `the manifest's contentHash ${manifest.contentHash} is not the hash of its fields (${actual}): it was edited or is stale`,
    );
  }
}

/**
 * Parses a transformer bundle's manifest (the ONNX readers' entry), throwing an Error whose message names the first bad
 * field, or saying the bundle is static.
 */
export function parseBundleManifest(json: unknown): TransformerBundleManifest {
  const manifest = parseAnyBundleManifest(json);
  if (isStaticManifest(manifest)) {
    throw new Error('invalid bundle manifest: kind: this is a static bundle (embeddings.bin), not a transformer');
  }
  if (isCrossEncoderManifest(manifest)) {
    throw new Error('invalid bundle manifest: kind: this is a cross-encoder (it scores pairs), not an embedding model');
  }
  return manifest as TransformerBundleManifest;
}

/** Parses a cross-encoder bundle's manifest, throwing an Error naming the first bad field, or the bundle's kind. */
export function parseCrossEncoderManifest(json: unknown): CrossEncoderBundleManifest {
  const manifest = parseAnyBundleManifest(json);
  if (!isCrossEncoderManifest(manifest)) {
    throw new Error(`invalid bundle manifest: kind: this is a ${manifest.kind ?? 'transformer'}, not a cross-encoder`);
  }
  return manifest;
}

/** Parses any bundle's manifest (kind transformer or static), throwing an Error whose message names the first bad field. */
export function parseAnyBundleManifest(json: unknown): BundleManifest {
  const result = BundleManifest.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new Error(`invalid bundle manifest: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return result.data;
}
