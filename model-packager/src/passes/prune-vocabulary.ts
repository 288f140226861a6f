/**
 * Pass: prune the vocabulary of a BERT-family model to the tokens its users' text needs.
 *
 * Matches: a 2-D FLOAT word-embedding initializer [vocab, hidden] read (axis 0) by one Gather and by nothing else,
 * and a WordPiece or Unigram tokenizer.json whose ids fit that table. Keeps special tokens, every one-character
 * token with its continuation / word-start form (so no text gets new unknown tokens), then the most frequent tokens
 * of `counts`, up to `maxVocab`; renumbers the kept tokens densely in their original order, gathers the embedding
 * rows to match and rewrites tokenizer.json's ids. A text whose original tokenization uses only kept tokens gets
 * the same pieces and the same embedding rows, hence the same model output.
 * Refuses when the graph compares input_ids with a constant token id (RoBERTa's position ids test input_ids != <pad>)
 * and pruning would renumber that token, since the comparison would then test a different token.
 */
import { PackError } from '../errors.js';
import { consumerMap, getAttribute, initializerMap } from '../onnx/graph.js';
import {
  DataType,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  onnx,
  type TensorProto,
  type ValueInfoProto,
} from '../onnx/proto.js';
import { float32Tensor, integerScalar, readFloat32, tensorDims } from '../onnx/tensor.js';
import { type ChangedWord, compareWordTokenization } from '../vocab/changed-words.js';
import { chooseKeptIds } from '../vocab/keep-set.js';
import { rewriteTokenizerJson } from '../vocab/rewrite-tokenizer.js';
import type { TokenCounts } from '../vocab/token-counts.js';
import { createTokenizer, readVocabTable } from '../vocab/tokenizer-json.js';

export interface PruneReport {
  /** Vocabulary size before (token ids the tokenizer can produce). */
  before: number;
  /** Vocabulary size after (= rows of the new embedding table). */
  after: number;
  /** Tokens kept (= after). */
  kept: number;
  /** Tokens removed (before - after). */
  removed: number;
  /** On heldOutTexts, the share of words whose pieces changed; null without held-out text. */
  changedWordShare: number | null;
  /** Tokens kept whatever the counts say (specials, single characters and their other forms). */
  required: number;
  /** Tokens kept because the counts use them. */
  fromCounts: number;
  /** Tokens the counts use that did not fit under maxVocab. */
  usedButDropped: number;
  /** Most frequent held-out words whose tokenization changed. */
  changedWordExamples: ChangedWord[];
  /** Things the user should know (e.g. the required tokens alone exceed maxVocab). */
  notes: string[];
}

export interface PruneOptions {
  maxVocab: number;
  /** Text not in the pruning source, to measure how many words tokenize differently after pruning. */
  heldOutTexts?: string[];
}

interface EmbeddingRef {
  initializer: string;
  gatherNode: string;
}

function findEmbedding(
  model: ModelProto,
  embedding: EmbeddingRef,
): { table: TensorProto; rows: number; hidden: number } {
  const graph = model.graph as GraphProto | null | undefined;
  if (!graph) throw new PackError('unsupported-graph', 'model has no graph');
  const table = initializerMap(graph).get(embedding.initializer);
  const gather = (graph.node as NodeProto[]).find((n) => n.name === embedding.gatherNode);
  const expected = `expected a 2-D FLOAT initializer read at axis 0 by one Gather (word embeddings)`;
  if (!table)
    throw new PackError(
      'unsupported-graph',
      `vocabulary pruning: no initializer named ${embedding.initializer}; ${expected}`,
    );
  if (gather?.opType !== 'Gather' || gather.input[0] !== embedding.initializer) {
    throw new PackError(
      'unsupported-graph',
      `vocabulary pruning: node ${embedding.gatherNode} is not a Gather of ${embedding.initializer}; ${expected}`,
    );
  }
  const axis = getAttribute(gather, 'axis') ?? 0;
  const dims = tensorDims(table);
  if (axis !== 0 || dims.length !== 2 || table.dataType !== DataType.FLOAT) {
    throw new PackError(
      'unsupported-graph',
      `vocabulary pruning: ${embedding.initializer} is ${DataType[table.dataType]} [${dims.join(', ')}] gathered at axis ${String(axis)}; ${expected}`,
    );
  }
  const readers = consumerMap(graph).get(embedding.initializer) ?? [];
  const isOutput = graph.output.some((o) => o.name === embedding.initializer);
  if (readers.length !== 1 || isOutput) {
    const names = readers.filter((n) => n !== gather).map((n) => `${n.opType} ${n.name}`);
    throw new PackError(
      'unsupported-graph',
      `vocabulary pruning: the word-embedding table ${embedding.initializer} is also read by ${names.join(', ') || 'a graph output'}; ${expected}`,
    );
  }
  return { table, rows: dims[0]!, hidden: dims[1]! };
}

/** Token ids the graph compares input_ids with (Equal against a one-element integer constant), by node name. */
function comparedTokenIds(graph: GraphProto): Map<string, number> {
  const constants = new Map<string, TensorProto>(initializerMap(graph));
  for (const node of graph.node as NodeProto[]) {
    const value = node.opType === 'Constant' ? node.attribute.find((a) => a.name === 'value')?.t : undefined;
    if (value) constants.set(node.output[0], value as TensorProto);
  }
  const found = new Map<string, number>();
  for (const node of graph.node as NodeProto[]) {
    if (node.opType !== 'Equal' || !node.input.includes('input_ids')) continue;
    const other = constants.get(node.input[0] === 'input_ids' ? node.input[1] : node.input[0]);
    const id = other ? integerScalar(other) : undefined;
    if (id !== undefined) found.set(node.name || node.output[0], id);
  }
  return found;
}

/** A declared shape (old IR versions list initializers as graph inputs) with the vocabulary dimension replaced. */
function withVocabDim(info: ValueInfoProto, name: string, rows: number): ValueInfoProto {
  const dims = info.type?.tensorType?.shape?.dim;
  if (info.name !== name || !dims || dims.length === 0) return info;
  const copy = onnx.ValueInfoProto.fromObject(onnx.ValueInfoProto.toObject(info));
  copy.type!.tensorType!.shape!.dim![0] = onnx.TensorShapeProto.Dimension.create({ dimValue: rows });
  return copy;
}

/**
 * Prunes the vocabulary. Like every pass, it rewrites `model` in place and returns it; the returned tokenizer.json is
 * a new object (the input is not modified). `oldToNew[originalId]` is the new id, or -1 for a removed token.
 *
 * @example
 *   const { wordEmbedding } = inspectBertGraph(model);
 *   const counts = countTokens(tokenizerJson, await readCorpusFile('corpus.txt'));
 *   const pruned = pruneVocabulary(model, tokenizerJson, wordEmbedding, counts, { maxVocab: 8000 });
 *   pruned.report; // { before: 30522, after: 8000, kept: 8000, removed: 22522, ... }
 */
export function pruneVocabulary(
  model: ModelProto,
  tokenizerJson: object,
  embedding: EmbeddingRef,
  counts: TokenCounts,
  options: PruneOptions,
): { model: ModelProto; tokenizerJson: object; oldToNew: Int32Array; report: PruneReport } {
  const { maxVocab } = options;
  if (!Number.isInteger(maxVocab) || maxVocab < 1) {
    throw new PackError('bad-option', `--max-vocab must be a positive integer, got ${String(maxVocab)}`);
  }
  const { table, rows, hidden } = findEmbedding(model, embedding);
  const vocab = readVocabTable(tokenizerJson);
  const before = vocab.tokens.length;
  if (before > rows) {
    throw new PackError(
      'vocab-mismatch',
      `tokenizer.json has token ids up to ${before - 1} but the word-embedding table ${embedding.initializer} has ${rows} rows`,
    );
  }

  const choice = chooseKeptIds(vocab, counts, maxVocab);
  const after = choice.kept.length;
  const oldToNew = new Int32Array(rows).fill(-1);
  for (const [newId, oldId] of choice.kept.entries()) oldToNew[oldId] = newId;

  for (const [node, id] of comparedTokenIds(model.graph as GraphProto)) {
    if (id >= 0 && id < rows && oldToNew[id] !== id) {
      const becomes = oldToNew[id] < 0 ? 'removes it' : `renumbers it to ${oldToNew[id]}`;
      throw new PackError(
        'unsupported-graph',
        `vocabulary pruning: node ${node} compares input_ids with token id ${id} (${JSON.stringify(vocab.tokens[id] ?? '?')}) and pruning ${becomes}; expected compared tokens (e.g. <pad>) to keep their ids: pack without --max-vocab`,
      );
    }
  }

  const source = readFloat32(table);
  const gathered = new Float32Array(after * hidden);
  choice.kept.forEach((oldId, newId) => {
    gathered.set(source.subarray(oldId * hidden, (oldId + 1) * hidden), newId * hidden);
  });
  const newTable = float32Tensor(table.name, [after, hidden], gathered);

  const graph = model.graph as GraphProto;
  graph.initializer = (graph.initializer as TensorProto[]).map((t) => (t === table ? newTable : t));
  graph.input = (graph.input as ValueInfoProto[]).map((i) => withVocabDim(i, table.name, after));
  graph.valueInfo = (graph.valueInfo as ValueInfoProto[]).map((i) => withVocabDim(i, table.name, after));
  const newTokenizerJson = rewriteTokenizerJson(tokenizerJson, vocab, oldToNew);

  const notes: string[] = [];
  if (choice.required > maxVocab) {
    notes.push(
      `the ${choice.required} tokens every text may need (special tokens, single characters and their other forms) ` +
        `exceed --max-vocab ${maxVocab}; all of them were kept`,
    );
  }
  if (rows > before) notes.push(`${rows - before} embedding rows no token uses were dropped`);

  let changedWordShare: number | null = null;
  let changedWordExamples: ChangedWord[] = [];
  if (options.heldOutTexts && options.heldOutTexts.length > 0) {
    const changed = compareWordTokenization(
      createTokenizer(tokenizerJson),
      createTokenizer(newTokenizerJson),
      options.heldOutTexts,
    );
    changedWordShare = changed.share;
    changedWordExamples = changed.examples;
  }

  return {
    model,
    tokenizerJson: newTokenizerJson,
    oldToNew,
    report: {
      before,
      after,
      kept: after,
      removed: before - after,
      changedWordShare,
      required: choice.required,
      fromCounts: choice.fromCounts,
      usedButDropped: choice.usedButDropped,
      changedWordExamples,
      notes,
    },
  };
}
