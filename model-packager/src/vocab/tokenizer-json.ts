/**
 * A read-only view of a Hugging Face tokenizer.json as pruning needs it: which id is which token, which ids are
 * special, and what shape the vocabulary has (WordPiece, Unigram or BPE with its merges). Tokenization itself always goes through
 * @huggingface/tokenizers ({@link createTokenizer}).
 */
import { Tokenizer } from '@huggingface/tokenizers';
import { PackError } from '../errors.js';

export type VocabKind = 'WordPiece' | 'Unigram' | 'BPE';

/** What pruning needs to know about a tokenizer's vocabulary. */
export interface VocabTable {
  kind: VocabKind;
  /** Token string by id (model vocabulary and added tokens); `undefined` for ids no token uses. */
  tokens: (string | undefined)[];
  /** Ids of added tokens, post-processor special tokens, the padding token and the unknown token. */
  specialIds: Set<number>;
  unkId: number | undefined;
  /** Unigram piece scores by id. */
  scores: number[];
  /** WordPiece continuation prefix ("##"). */
  continuingPrefix: string;
  /** Unigram word-start marker ("▁") when a Metaspace pre-tokenizer or normalizer uses one. */
  wordStartMarker: string | null;
  /** Unigram models that spell unknown characters as <0xNN> byte pieces. */
  byteFallback: boolean;
  /** BPE merges in rank order, as [left, right] token strings; empty for the other kinds. */
  merges: [string, string][];
}

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Builds a tokenizer from tokenizer.json, turning a library failure into a PackError. */
export function createTokenizer(tokenizerJson: object): Tokenizer {
  try {
    return new Tokenizer(tokenizerJson, {});
  } catch (err) {
    throw new PackError('bad-input', `tokenizer.json cannot be loaded (${(err as Error).message})`);
  }
}

/** The model kind, following the same inference @huggingface/tokenizers applies when `type` is missing. */
export function vocabKind(tokenizerJson: object): VocabKind {
  const model = (tokenizerJson as Json).model;
  if (!isObject(model)) throw new PackError('bad-input', 'tokenizer.json has no "model" section');
  const type = model.type ?? (Array.isArray(model.vocab) ? 'Unigram' : 'merges' in model ? 'BPE' : 'WordPiece');
  if (type === 'WordPiece' || type === 'Unigram' || type === 'BPE') return type;
  throw new PackError(
    'bad-input',
    `vocabulary pruning supports WordPiece, Unigram and BPE tokenizers; this tokenizer.json has a ${String(type)} model`,
  );
}

function checkId(id: unknown, what: string): number {
  if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
    throw new PackError(
      'bad-input',
      `tokenizer.json: ${what} has id ${JSON.stringify(id)}, expected a non-negative integer`,
    );
  }
  return id;
}

function findWordStartMarker(tokenizerJson: Json): string | null {
  const found: string[] = [];
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(visit);
    else if (isObject(node)) {
      if (node.type === 'Metaspace') found.push(typeof node.replacement === 'string' ? node.replacement : '\u2581');
      if (node.type === 'Replace' && node.content === '\u2581') found.push('\u2581');
      Object.values(node).forEach(visit);
    }
  };
  visit(tokenizerJson.pre_tokenizer);
  visit(tokenizerJson.normalizer);
  return found[0] ?? null;
}

/** Ids named by the post-processor (TemplateProcessing, BertProcessing, RobertaProcessing, Sequence). */
function postProcessorIds(node: unknown, out: Set<number>): void {
  if (!isObject(node)) return;
  if (isObject(node.special_tokens)) {
    for (const [name, special] of Object.entries(node.special_tokens)) {
      if (isObject(special) && Array.isArray(special.ids)) {
        for (const id of special.ids) out.add(checkId(id, `post_processor special token ${name}`));
      }
    }
  }
  for (const key of ['sep', 'cls']) {
    const pair = node[key];
    if (Array.isArray(pair) && pair.length === 2) out.add(checkId(pair[1], `post_processor ${key}`));
  }
  if (Array.isArray(node.processors)) for (const p of node.processors) postProcessorIds(p, out);
}

/** BPE merges as [left, right]: tokenizer.json writes them as "left right" strings (older) or as pairs (newer). */
function readMerges(model: Json): [string, string][] {
  if (!Array.isArray(model.merges))
    throw new PackError('bad-input', 'tokenizer.json: BPE model.merges must be an array');
  return model.merges.map((merge, rank) => {
    const pair = typeof merge === 'string' ? merge.split(' ') : merge;
    if (!Array.isArray(pair) || pair.length !== 2 || pair.some((part) => typeof part !== 'string' || part === '')) {
      throw new PackError(
        'bad-input',
        `tokenizer.json: BPE merge ${rank} is ${JSON.stringify(merge)}, expected "left right" or ["left", "right"]`,
      );
    }
    return [pair[0], pair[1]] as [string, string];
  });
}

/**
 * Reads the vocabulary of a WordPiece, Unigram or BPE tokenizer.json.
 *
 * @example
 *   const table = readVocabTable(JSON.parse(await readFile('tokenizer.json', 'utf8')));
 *   table.tokens[101]; // '[CLS]'
 */
export function readVocabTable(tokenizerJson: object): VocabTable {
  const json = tokenizerJson as Json;
  const kind = vocabKind(json);
  const model = json.model as Json;
  const tokens: (string | undefined)[] = [];
  const scores: number[] = [];
  const put = (id: number, token: string, what: string): void => {
    if (tokens[id] !== undefined && tokens[id] !== token) {
      throw new PackError(
        'bad-input',
        `tokenizer.json: id ${id} is both ${JSON.stringify(tokens[id])} and ${JSON.stringify(token)} (${what})`,
      );
    }
    tokens[id] = token;
  };

  let unkId: number | undefined;
  if (kind === 'WordPiece' || kind === 'BPE') {
    if (!isObject(model.vocab))
      throw new PackError('bad-input', `tokenizer.json: ${kind} model.vocab must be an object`);
    for (const [token, id] of Object.entries(model.vocab))
      put(checkId(id, `token ${JSON.stringify(token)}`), token, 'model.vocab');
    const unk = typeof model.unk_token === 'string' ? model.unk_token : undefined;
    unkId = unk === undefined ? undefined : (model.vocab[unk] as number | undefined);
  } else {
    if (!Array.isArray(model.vocab))
      throw new PackError('bad-input', 'tokenizer.json: Unigram model.vocab must be an array');
    model.vocab.forEach((entry, id) => {
      if (!Array.isArray(entry) || typeof entry[0] !== 'string' || typeof entry[1] !== 'number') {
        throw new PackError('bad-input', `tokenizer.json: Unigram vocab entry ${id} is not [piece, score]`);
      }
      put(id, entry[0], 'model.vocab');
      scores[id] = entry[1];
    });
    if (model.unk_id !== undefined && model.unk_id !== null) unkId = checkId(model.unk_id, 'model.unk_id');
  }

  const specialIds = new Set<number>();
  const added = Array.isArray(json.added_tokens) ? json.added_tokens : [];
  for (const token of added) {
    if (!isObject(token) || typeof token.content !== 'string')
      throw new PackError('bad-input', 'tokenizer.json: malformed added_tokens entry');
    const id = checkId(token.id, `added token ${JSON.stringify(token.content)}`);
    put(id, token.content, 'added_tokens');
    specialIds.add(id);
  }
  postProcessorIds(json.post_processor, specialIds);
  if (isObject(json.padding) && json.padding.pad_id !== undefined)
    specialIds.add(checkId(json.padding.pad_id, 'padding.pad_id'));
  if (unkId !== undefined) specialIds.add(unkId);
  for (const id of specialIds) {
    if (tokens[id] === undefined)
      throw new PackError('bad-input', `tokenizer.json names special id ${id}, which no token has`);
  }

  return {
    kind,
    tokens,
    specialIds,
    unkId,
    scores,
    continuingPrefix: typeof model.continuing_subword_prefix === 'string' ? model.continuing_subword_prefix : '##',
    wordStartMarker: kind === 'Unigram' ? findWordStartMarker(json) : null,
    byteFallback: model.byte_fallback === true,
    merges: kind === 'BPE' ? readMerges(model) : [],
  };
}
