import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { sha256Hex } from '../../../bundle-format/hash.js';
import type { PoolingMode } from '../../../bundle-format/manifest.js';
import { PackError } from '../errors.js';
import type { ModelProto } from '../onnx/proto.js';
import { readOnnxFile } from '../onnx/read-model.js';
import { type DenseHead, readDenseModule } from './dense-module.js';
import { withSentenceTransformersLowercase } from './sentence-transformers-lowercase.js';
import { wordPieceTokenizerFromVocab } from './wordpiece-from-vocab.js';

/** Everything the packer needs from a sentence-transformers / optimum export folder. */
export interface ModelDir {
  dir: string;
  modelName: string;
  model: ModelProto;
  /** Path of model.onnx, to read a second, untouched copy (the fidelity reference). */
  modelPath: string;
  tokenizerJson: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
  pooling: PoolingMode;
  normalize: boolean;
  /** sentence-transformers Dense modules after pooling, in modules.json order (Universal Sentence Encoder has one). */
  dense: DenseHead[];
  /** sentence-transformers prompts (config_sentence_transformers.json `prompts`), name -> text; empty: none. */
  prompts: Record<string, string>;
  /** config_sentence_transformers.json `default_prompt_name`, a key of `prompts`, or null. */
  defaultPromptName: string | null;
  /** Longest sequence the model is used with (sentence_bert_config max_seq_length, capped by position table). */
  maxTokens: number;
  /** sha256 of each source file read. */
  sourceFiles: Record<string, string>;
  /** Human-readable notes about defaults the reader had to assume. */
  notes: string[];
}

/**
 * Reads and parses a JSON file of the model folder, recording the sha256 of its bytes in `sourceFiles` under its
 * path relative to the folder.
 */
async function readJson(
  root: string,
  name: string,
  required: boolean,
  sourceFiles: Record<string, string>,
): Promise<Record<string, unknown> | undefined> {
  const path = join(root, name);
  if (!existsSync(path)) {
    if (required) throw new PackError('missing-input', `${path} is missing`);
    return undefined;
  }
  const text = await readFile(path, 'utf8');
  sourceFiles[name] = await sha256Hex(text);
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new PackError('bad-input', `${path} is not valid JSON (${(err as Error).message})`);
  }
}

/** Maps a sentence-transformers 1_Pooling/config.json to one pooling mode, refusing combinations we cannot fold. */
function poolingFrom(config: Record<string, unknown> | undefined, notes: string[]): PoolingMode {
  if (!config) {
    notes.push('no 1_Pooling/config.json: using mean pooling (the sentence-transformers default)');
    return 'mean';
  }
  const modes: PoolingMode[] = [];
  if (config.pooling_mode_mean_tokens) modes.push('mean');
  if (config.pooling_mode_cls_token) modes.push('cls');
  if (config.pooling_mode_max_tokens) modes.push('max');
  if (config.pooling_mode_mean_sqrt_len_tokens) modes.push('mean_sqrt_len');
  for (const key of ['pooling_mode_weightedmean_tokens', 'pooling_mode_lasttoken']) {
    if (config[key])
      throw new PackError(
        'unsupported-graph',
        `1_Pooling/config.json asks for ${key}; supported: mean, cls, max, mean_sqrt_len`,
      );
  }
  if (modes.length !== 1) {
    throw new PackError(
      'unsupported-graph',
      `1_Pooling/config.json enables ${modes.length === 0 ? 'no pooling mode' : modes.join(' + ')}; expected exactly one of mean, cls, max, mean_sqrt_len`,
    );
  }
  return modes[0];
}

/** Reads config_sentence_transformers.json's prompts, refusing a shape sentence-transformers would not load. */
function promptsFrom(config: Record<string, unknown> | undefined): Pick<ModelDir, 'prompts' | 'defaultPromptName'> {
  const file = 'config_sentence_transformers.json';
  const raw = config?.prompts ?? {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new PackError('bad-input', `${file}: prompts must be an object of name -> text`);
  }
  const prompts: Record<string, string> = {};
  for (const [name, text] of Object.entries(raw)) {
    if (typeof text !== 'string' || name === '') {
      throw new PackError('bad-input', `${file}: prompts.${name} must be a string with a non-empty name`);
    }
    prompts[name] = text;
  }
  const defaultPromptName = config?.default_prompt_name ?? null;
  if (defaultPromptName !== null && (typeof defaultPromptName !== 'string' || !(defaultPromptName in prompts))) {
    throw new PackError(
      'bad-input',
      `${file}: default_prompt_name ${JSON.stringify(defaultPromptName)} is not one of the prompts (${Object.keys(prompts).join(', ') || 'none'})`,
    );
  }
  return { prompts, defaultPromptName };
}

/**
 * Reads a model folder: model.onnx, tokenizer.json (or vocab.txt), config.json and the sentence-transformers files.
 *
 * @example
 *   const source = await readModelDir('exports/all-MiniLM-L6-v2');
 */
export async function readModelDir(dir: string): Promise<ModelDir> {
  const root = resolve(dir);
  const info = await stat(root).catch(() => null);
  if (!info?.isDirectory()) throw new PackError('missing-input', `model folder ${dir} does not exist`);
  const notes: string[] = [];
  const sourceFiles: Record<string, string> = {};

  const modelPath = join(root, 'model.onnx');
  if (!existsSync(modelPath))
    throw new PackError('missing-input', `${join(dir, 'model.onnx')} is missing (expected an fp32 ONNX export)`);
  const { model, bytes: modelFileBytes } = await readOnnxFile(modelPath);
  sourceFiles['model.onnx'] = await sha256Hex(modelFileBytes);

  let tokenizerJson = await readJson(root, 'tokenizer.json', false, sourceFiles);
  const tokenizerConfig = (await readJson(root, 'tokenizer_config.json', false, sourceFiles)) ?? {};
  // tokenizer.json wins over vocab.txt, as with transformers' fast tokenizers.
  if (!tokenizerJson) {
    if (!existsSync(join(root, 'vocab.txt')))
      throw new PackError('missing-input', `${dir} has neither tokenizer.json nor vocab.txt`);
    const vocabText = await readFile(join(root, 'vocab.txt'), 'utf8');
    sourceFiles['vocab.txt'] = await sha256Hex(vocabText);
    tokenizerJson = wordPieceTokenizerFromVocab(vocabText, tokenizerConfig);
    notes.push('no tokenizer.json: built a WordPiece tokenizer from vocab.txt');
  }

  const config = (await readJson(root, 'config.json', false, sourceFiles)) ?? {};
  const modules = (await readJson(root, 'modules.json', false, sourceFiles)) as unknown as
    | { type?: string; path?: string }[]
    | undefined;
  const poolingConfig = await readJson(root, join('1_Pooling', 'config.json'), false, sourceFiles);
  const stConfig = (await readJson(root, 'sentence_bert_config.json', false, sourceFiles)) ?? {};
  const asTokenized = withSentenceTransformersLowercase(tokenizerJson, stConfig);
  if (asTokenized !== tokenizerJson) {
    notes.push(
      'sentence_bert_config.json do_lower_case: texts are lower-cased before tokenizing, as sentence-transformers does',
    );
    tokenizerJson = asTokenized;
  }
  const { prompts, defaultPromptName } = promptsFrom(
    await readJson(root, 'config_sentence_transformers.json', false, sourceFiles),
  );

  const normalize =
    Array.isArray(modules) && modules.some((m) => typeof m.type === 'string' && m.type.endsWith('.Normalize'));
  if (!modules) notes.push('no modules.json: output is not L2-normalised');
  const pooling = poolingFrom(poolingConfig, notes);
  const dense: DenseHead[] = [];
  for (const module of Array.isArray(modules) ? modules : []) {
    if (typeof module.type !== 'string' || !module.type.endsWith('.Dense')) continue;
    dense.push(await readDenseModule(join(root, module.path ?? '')));
    sourceFiles[`${module.path}/model.safetensors`] = await sha256Hex(
      await readFile(join(root, module.path ?? '', 'model.safetensors')),
    );
  }

  const positions = typeof config.max_position_embeddings === 'number' ? config.max_position_embeddings : undefined;
  const seqLength = typeof stConfig.max_seq_length === 'number' ? stConfig.max_seq_length : undefined;
  const configured = [
    positions,
    seqLength,
    typeof tokenizerConfig.model_max_length === 'number' && tokenizerConfig.model_max_length < 1e6
      ? tokenizerConfig.model_max_length
      : undefined,
  ].filter((v): v is number => typeof v === 'number' && v > 0);
  const maxTokens = configured.length > 0 ? Math.min(...configured) : 512;
  if (configured.length === 0) notes.push('no max_seq_length or max_position_embeddings: assuming 512 tokens');

  return {
    dir: root,
    modelName: basename(root),
    model,
    modelPath,
    tokenizerJson,
    tokenizerConfig,
    pooling,
    normalize,
    dense,
    prompts,
    defaultPromptName,
    maxTokens,
    sourceFiles,
    notes,
  };
}
