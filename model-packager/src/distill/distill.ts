/**
 * `edge-embed distill`: a static student from a transformer bundle, as Model2Vec makes one. Readers -> steps -> writer:
 * read the teacher; choose the vocabulary (all of it, or pruned to --max-vocab with pack's guarantee); run every piece
 * through the teacher (teacher-vectors.ts); PCA (pca.ts); fold SIF weights into the rows (weights.ts); int8 rows with
 * per-row scales (bundle-format/static-table.ts); measure against the teacher; write atomically.
 */
import { sha256Hex } from '../../../bundle-format/hash.js';
import {
  BUNDLE_FORMAT_VERSION,
  computeContentHash,
  SENTENCE_EMBEDDING_OUTPUT,
  type StaticBundleManifest,
} from '../../../bundle-format/manifest.js';
import { encodeStaticTable, quantizeStaticRows, type StaticTable } from '../../../bundle-format/static-table.js';
import { PackError } from '../errors.js';
import { PACKAGER_VERSION } from '../pack.js';
import type { Reporter } from '../report/reporter.js';
import { chooseKeptIds } from '../vocab/keep-set.js';
import { rewriteTokenizerJson } from '../vocab/rewrite-tokenizer.js';
import {
  countTokens,
  countTokensFromWordFrequencies,
  readCorpusFile,
  readWordFrequencyFile,
  type TokenCounts,
  withCaseVariants,
} from '../vocab/token-counts.js';
import { readVocabTable, type VocabTable } from '../vocab/tokenizer-json.js';
import { measureAgreement } from './measure.js';
import { pcaProject } from './pca.js';
import { readTeacherBundle, type TeacherBundle } from './teacher-bundle.js';
import { teacherPieceVectors } from './teacher-vectors.js';
import { type PieceWeights, probabilitiesFromCounts, probabilitiesFromScores, SIF_A, sifWeights } from './weights.js';
import { writeStaticBundle } from './write-static-bundle.js';

export interface DistillOptions {
  teacherDir: string;
  outDir: string;
  /** Output dimensions after PCA (default: the teacher's). */
  dims?: number;
  /** false: keep the teacher's vectors as they are (no centring, no projection). */
  pca: boolean;
  weighting: 'sif' | 'none';
  corpus: string[];
  wordFrequencies?: string;
  maxVocab?: number;
  name?: string;
}

export interface DistillResult {
  manifest: StaticBundleManifest;
  /** Teacher pieces embedded. */
  pieces: number;
}

/** The static bundle's files and manifest, before writing: what the determinism test compares. */
export interface DistilledBundle extends DistillResult {
  embeddings: Uint8Array;
  tokenizer: Uint8Array;
  table: StaticTable;
}

/**
 * @example const { manifest } = await distill({ teacherDir: 'bundles/default', outDir: 'out', pca: true, ... }, reporter)
 */
export async function distill(options: DistillOptions, reporter: Reporter): Promise<DistillResult> {
  const bundle = await distillInMemory(options, reporter);
  const step = reporter.step(`write static bundle to ${options.outDir}`);
  await writeStaticBundle(options.outDir, bundle);
  step.done(`${(bundle.manifest.bytes.total / 1048576).toFixed(2)} MiB`);
  return { manifest: bundle.manifest, pieces: bundle.pieces };
}

/** Everything but the write. */
export async function distillInMemory(options: DistillOptions, reporter: Reporter): Promise<DistilledBundle> {
  const teacher = await readTeacherBundle(options.teacherDir);
  const dims = options.dims ?? teacher.manifest.dimensions;
  if (dims > teacher.manifest.dimensions) {
    throw new PackError('bad-option', `--dims ${dims} is more than the teacher's ${teacher.manifest.dimensions}`);
  }
  if (!options.pca && options.dims !== undefined && options.dims !== teacher.manifest.dimensions) {
    throw new PackError('bad-option', '--dims needs PCA; drop --no-pca or --dims');
  }
  const table = readVocabTable(teacher.tokenizerJson);
  const counts = await readCounts(options, teacher);
  const vocabulary = chooseVocabulary(options, table, teacher, counts);

  const contentIds = vocabulary.kept.filter((id) => !table.specialIds.has(id) && table.tokens[id] !== undefined);
  const step = reporter.step(`embed ${contentIds.length} pieces with the teacher`);
  let vectors = await teacherPieceVectors(teacher, contentIds, reporter);
  step.done(`${teacher.manifest.modelName}, ${teacher.manifest.dimensions} dims`);
  if (options.pca) {
    const pcaStep = reporter.step(`PCA to ${dims} dimensions`);
    vectors = pcaProject(vectors, dims);
    pcaStep.done();
  }
  const weights = pieceWeights(options, table, counts);
  const byOldId = new Map(contentIds.map((id, i) => [id, vectors[i]]));
  const zero = new Float32Array(dims);
  const rows = vocabulary.kept.map((oldId) => {
    const vector = byOldId.get(oldId);
    return vector === undefined ? zero : vector.map((value) => value * weights.weights[oldId]);
  });
  const quantized = quantizeStaticRows(rows);
  const embeddings = encodeStaticTable(quantized);

  const measureStep = reporter.step('measure against the teacher on held-out sentences');
  const agreement = await measureAgreement(teacher, quantized, vocabulary.tokenizerJson);
  measureStep.done(
    `pairwise cosine Spearman ${agreement.pairwiseSpearman.toFixed(4)} (${agreement.sentences} sentences)`,
  );

  const manifest = await staticManifest({ options, teacher, dims, vocabulary, weights, embeddings, agreement });
  return { manifest, pieces: contentIds.length, embeddings, tokenizer: vocabulary.tokenizerBytes, table: quantized };
}

async function readCounts(options: DistillOptions, teacher: TeacherBundle): Promise<TokenCounts | null> {
  if (options.corpus.length === 0 && options.wordFrequencies === undefined) return null;
  const texts: string[] = [];
  for (const path of options.corpus) texts.push(...(await readCorpusFile(path)));
  const counts = countTokens(teacher.tokenizerJson, texts);
  if (options.wordFrequencies !== undefined) {
    const frequencies = withCaseVariants(await readWordFrequencyFile(options.wordFrequencies));
    for (const [id, n] of countTokensFromWordFrequencies(teacher.tokenizerJson, frequencies)) {
      counts.set(id, (counts.get(id) ?? 0) + n);
    }
  }
  return counts;
}

interface Vocabulary {
  /** Teacher ids kept, ascending; position = id in the static bundle. */
  kept: number[];
  tokenizerJson: object;
  tokenizerBytes: Uint8Array;
  before: number;
}

/** All of the teacher's vocabulary, or pack's pruning (keep-set.ts) under --max-vocab. */
function chooseVocabulary(
  options: DistillOptions,
  table: VocabTable,
  teacher: TeacherBundle,
  counts: TokenCounts | null,
): Vocabulary {
  const size = table.tokens.length;
  if (options.maxVocab === undefined || options.maxVocab >= size) {
    const kept = Array.from({ length: size }, (_, id) => id);
    return { kept, tokenizerJson: teacher.tokenizerJson, tokenizerBytes: teacher.tokenizerBytes, before: size };
  }
  let usage = counts;
  if (usage === null) {
    if (table.kind !== 'Unigram') {
      throw new PackError('bad-option', '--max-vocab needs --corpus or --word-frequencies for a WordPiece teacher');
    }
    // A Unigram model's scores are log probabilities: rank pieces by them.
    usage = new Map(table.scores.map((score, id) => [id, Math.exp(score)]));
  }
  const { kept } = chooseKeptIds(table, usage, options.maxVocab);
  const oldToNew = new Int32Array(size).fill(-1);
  kept.forEach((oldId, newId) => {
    oldToNew[oldId] = newId;
  });
  const tokenizerJson = rewriteTokenizerJson(teacher.tokenizerJson, table, oldToNew);
  return { kept, tokenizerJson, tokenizerBytes: new TextEncoder().encode(JSON.stringify(tokenizerJson)), before: size };
}

function pieceWeights(options: DistillOptions, table: VocabTable, counts: TokenCounts | null): PieceWeights {
  const size = table.tokens.length;
  if (options.weighting === 'none') return { weights: new Float64Array(size).fill(1), scheme: 'none', source: 'none' };
  if (counts !== null) {
    const source = [...options.corpus, options.wordFrequencies].filter(Boolean).join(', ');
    return {
      weights: sifWeights(probabilitiesFromCounts(counts, size)),
      scheme: 'sif',
      source: `token counts of ${source}`,
    };
  }
  if (table.kind === 'Unigram') {
    return { weights: sifWeights(probabilitiesFromScores(table)), scheme: 'sif', source: 'unigram tokenizer scores' };
  }
  throw new PackError(
    'bad-option',
    'SIF weighting needs --corpus or --word-frequencies for a WordPiece teacher (or --weighting none)',
  );
}

async function staticManifest(parts: {
  options: DistillOptions;
  teacher: TeacherBundle;
  dims: number;
  vocabulary: Vocabulary;
  weights: PieceWeights;
  embeddings: Uint8Array;
  agreement: NonNullable<StaticBundleManifest['static']['agreement']>;
}): Promise<StaticBundleManifest> {
  const { options, teacher, dims, vocabulary, weights, embeddings, agreement } = parts;
  const tokenizerBytes = vocabulary.tokenizerBytes;
  const withoutHash: Omit<StaticBundleManifest, 'contentHash'> = {
    kind: 'static',
    formatVersion: BUNDLE_FORMAT_VERSION,
    modelName: options.name ?? `${teacher.manifest.modelName}-static`,
    dimensions: dims,
    allowedDimensions: [dims],
    maxTokens: teacher.manifest.maxTokens,
    pooling: 'mean',
    normalize: true,
    inputs: ['input_ids'],
    output: SENTENCE_EMBEDDING_OUTPUT,
    inputDtype: 'int32',
    tokenizerConfig: teacher.manifest.tokenizerConfig,
    quantization: 'int8-storage',
    vocabulary: { before: vocabulary.before, after: vocabulary.kept.length },
    files: {
      'embeddings.bin': { bytes: embeddings.length, sha256: await sha256Hex(embeddings) },
      'tokenizer.json': { bytes: tokenizerBytes.length, sha256: await sha256Hex(tokenizerBytes) },
    },
    bytes: {
      total: embeddings.length + tokenizerBytes.length,
      embeddings: embeddings.length,
      layers: 0,
      tokenizer: tokenizerBytes.length,
    },
    sourceFiles: {
      'teacher/model.onnx': await sha256Hex(teacher.model),
      'teacher/tokenizer.json': await sha256Hex(teacher.tokenizerBytes),
    },
    fidelity: null,
    wasmHeapBytes: null,
    createdBy: `${PACKAGER_VERSION} distill`,
    static: {
      teacher: { contentHash: teacher.manifest.contentHash, modelName: teacher.manifest.modelName },
      rows: vocabulary.kept.length,
      pcaDimensions: options.pca ? dims : null,
      weighting: { scheme: weights.scheme, a: SIF_A, source: weights.source },
      agreement,
    },
  };
  return { ...withoutHash, contentHash: await computeContentHash(withoutHash) };
}
