/**
 * Tokenization with @huggingface/tokenizers from the bundle's tokenizer.json, plus the truncation the library does not
 * do: cut the content tokens from the chosen end and keep the special tokens (e.g. [CLS] ... [SEP]) around them.
 */
import { Tokenizer } from '@huggingface/tokenizers';
import { TokenAligner } from './token-offsets.js';
import { cacheUnigramWords } from './unigram-word-cache.js';

export type TruncationDirection = 'right' | 'left';

export interface TokenizedInput {
  /** Token ids fed to the model, special tokens included, at most maxTokens long. */
  ids: number[];
  /** Tokens of the whole input before truncation. */
  fullLength: number;
}

/** A (query, document) pair framed for a cross-encoder, e.g. [CLS] q [SEP] d [SEP]. */
export interface TokenizedPair {
  ids: number[];
  /** Token type of each id: the post-processor's (BERT: 0 up to the first [SEP], 1 after). */
  typeIds: number[];
  /** Tokens of the whole pair before the document was cut. */
  fullLength: number;
}

/** The special tokens and token types a tokenizer's post-processor puts around and between a pair's two texts. */
export interface PairTemplate {
  prefix: number[];
  middle: number[];
  suffix: number[];
  prefixTypes: number[];
  middleTypes: number[];
  suffixTypes: number[];
  queryType: number;
  documentType: number;
}

/** A query that leaves no room for its document (a pair's query is never cut). */
export class QueryTooLongError extends Error {
  constructor(
    readonly tokens: number,
    readonly maxTokens: number,
  ) {
    super(`the query is ${tokens} tokens with the pair's special tokens; the model takes at most ${maxTokens}`);
    this.name = 'QueryTooLongError';
  }
}

export interface TokenDetail {
  id: number;
  text: string;
  special: boolean;
}

/** A token with its place in the input: `text.slice(start, stop)`; null for the special tokens framing the content. */
export interface TokenWithOffsets extends TokenDetail {
  start: number | null;
  stop: number | null;
}

export class BundleTokenizer {
  private readonly tokenizer: Tokenizer;
  private readonly specialIds: Set<number>;
  /** Special tokens the post-processor puts before and after the content, measured once on a probe text. */
  private readonly prefix: number[];
  private readonly suffix: number[];
  private readonly aligner: TokenAligner;
  private readonly unknownToken: string | undefined;
  private template: PairTemplate | undefined;
  readonly vocabularySize: number;

  constructor(tokenizerJson: object, tokenizerConfig: Record<string, unknown>) {
    this.tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
    cacheUnigramWords(this.tokenizer);
    this.aligner = new TokenAligner(this.tokenizer, tokenizerJson);
    this.unknownToken = unknownTokenOf(
      tokenizerJson as { model?: { unk_token?: unknown; unk_id?: unknown; vocab?: unknown } },
    );
    this.specialIds = new Set(
      [...this.tokenizer.get_added_tokens_decoder()].filter(([, token]) => token.special).map(([id]) => id),
    );
    const withSpecials = this.tokenizer.encode('a').ids;
    const content = this.tokenizer.encode('a', { add_special_tokens: false }).ids;
    const start = indexOfSequence(withSpecials, content);
    this.prefix = start < 0 ? [] : withSpecials.slice(0, start);
    this.suffix = start < 0 ? [] : withSpecials.slice(start + content.length);
    this.vocabularySize = this.tokenizer.get_vocab(true).size;
  }

  /**
   * Encodes a text for the model, truncated to maxTokens when it is longer.
   * @example tokenizer.encode('hello world', 256, 'right') // { ids: [101, 7592, 2088, 102], fullLength: 4 }
   */
  encode(text: string, maxTokens: number, direction: TruncationDirection): TokenizedInput {
    return this.frame(this.tokenizer.encode(text, { add_special_tokens: false }).ids, maxTokens, direction);
  }

  /** Wraps caller-given content token ids in the special tokens, truncated like {@link encode}. */
  frame(content: number[], maxTokens: number, direction: TruncationDirection): TokenizedInput {
    const fullLength = this.prefix.length + content.length + this.suffix.length;
    const room = Math.max(0, maxTokens - this.prefix.length - this.suffix.length);
    const kept =
      content.length <= room
        ? content
        : direction === 'right'
          ? content.slice(0, room)
          : content.slice(content.length - room);
    return { ids: [...this.prefix, ...kept, ...this.suffix], fullLength };
  }

  /**
   * Encodes a (query, document) pair as a cross-encoder reads it, cutting only the document (from `direction`'s end)
   * to fit maxTokens, as Hugging Face's "only_second" truncation does; throws {@link QueryTooLongError} when the query
   * alone leaves no room.
   * @example tokenizer.encodePair('capital of france', 'paris is ...', 512, 'right') // [CLS] q [SEP] d [SEP]
   */
  encodePair(query: string, document: string, maxTokens: number, direction: TruncationDirection): TokenizedPair {
    const t = this.pairTemplate();
    const q = this.tokenizer.encode(query, { add_special_tokens: false }).ids;
    const d = this.tokenizer.encode(document, { add_special_tokens: false }).ids;
    const framing = t.prefix.length + t.middle.length + t.suffix.length;
    const room = maxTokens - framing - q.length;
    if (room < 0) throw new QueryTooLongError(framing + q.length, maxTokens);
    const kept = d.length <= room ? d : direction === 'right' ? d.slice(0, room) : d.slice(d.length - room);
    return {
      ids: [...t.prefix, ...q, ...t.middle, ...kept, ...t.suffix],
      typeIds: [
        ...t.prefixTypes,
        ...q.map(() => t.queryType),
        ...t.middleTypes,
        ...kept.map(() => t.documentType),
        ...t.suffixTypes,
      ],
      fullLength: framing + q.length + d.length,
    };
  }

  /** The post-processor's pair framing, measured once on a probe pair; throws when the tokenizer frames no pairs. */
  pairTemplate(): PairTemplate {
    this.template ??= measurePairTemplate(this.tokenizer);
    return this.template;
  }

  /** Tokens of a text for /tokenize. */
  details(text: string, addSpecialTokens: boolean): TokenDetail[] {
    const encoding = this.tokenizer.encode(text, { add_special_tokens: addSpecialTokens });
    return encoding.ids.map((id, i) => ({ id, text: encoding.tokens[i], special: this.specialIds.has(id) }));
  }

  /**
   * Tokens of a text with their character offsets (UTF-16 indices into `text`), for /tokenize.
   * @example tokenizer.withOffsets('Hi!', false) // [{ id, text: 'hi', start: 0, stop: 2, ... }, { text: '!', start: 2, stop: 3, ... }]
   */
  withOffsets(text: string, addSpecialTokens: boolean): TokenWithOffsets[] {
    const content = this.tokenizer.encode(text, { add_special_tokens: false });
    const unmatched = new Set(this.unknownToken === undefined ? [] : [this.unknownToken]);
    for (const [, token] of this.tokenizer.get_added_tokens_decoder()) if (token.special) unmatched.add(token.content);
    const spans = this.aligner.align(text, content.tokens, unmatched);
    const tokens: TokenWithOffsets[] = content.ids.map((id, i) => ({
      id,
      text: content.tokens[i],
      special: this.specialIds.has(id),
      ...spans[i],
    }));
    if (!addSpecialTokens) return tokens;
    const framing = (id: number): TokenWithOffsets => ({
      id,
      text: this.tokenizer.id_to_token(id) ?? '',
      special: true,
      start: null,
      stop: null,
    });
    return [...this.prefix.map(framing), ...tokens, ...this.suffix.map(framing)];
  }

  /**
   * Text of token ids, for /decode; ids outside the vocabulary are the caller's to refuse. Only the tokenizer.json
   * decoder runs, as in the Rust tokenizers TEI uses: the library's extra transformers-style clean-up (" ?" -> "?")
   * would change byte-level BPE text, which decodes exactly.
   * @example tokenizer.decode([101, 7592, 102], true) // 'hello'
   */
  decode(ids: readonly number[], skipSpecialTokens: boolean): string {
    return this.tokenizer.decode([...ids], {
      skip_special_tokens: skipSpecialTokens,
      clean_up_tokenization_spaces: false,
    });
  }
}

/** The model's unknown token: WordPiece/BPE name it, Unigram gives its index in the vocabulary. */
function unknownTokenOf(json: {
  model?: { unk_token?: unknown; unk_id?: unknown; vocab?: unknown };
}): string | undefined {
  const model = json.model;
  if (typeof model?.unk_token === 'string') return model.unk_token;
  if (typeof model?.unk_id === 'number' && Array.isArray(model.vocab)) {
    const entry = model.vocab[model.unk_id];
    if (Array.isArray(entry) && typeof entry[0] === 'string') return entry[0];
  }
  return undefined;
}

function measurePairTemplate(tokenizer: Tokenizer): PairTemplate {
  const pair = tokenizer.encode('a', { text_pair: 'b', return_token_type_ids: true });
  const types = pair.token_type_ids ?? pair.ids.map(() => 0);
  const a = tokenizer.encode('a', { add_special_tokens: false }).ids;
  const b = tokenizer.encode('b', { add_special_tokens: false }).ids;
  const aStart = indexOfSequence(pair.ids, a);
  const bOffset = aStart < 0 ? -1 : indexOfSequence(pair.ids.slice(aStart + a.length), b);
  if (aStart < 0 || bOffset < 0) throw new Error("the tokenizer's post-processor does not frame text pairs");
  const bStart = aStart + a.length + bOffset;
  const bEnd = bStart + b.length;
  return {
    prefix: pair.ids.slice(0, aStart),
    middle: pair.ids.slice(aStart + a.length, bStart),
    suffix: pair.ids.slice(bEnd),
    prefixTypes: types.slice(0, aStart),
    middleTypes: types.slice(aStart + a.length, bStart),
    suffixTypes: types.slice(bEnd),
    queryType: types[aStart],
    documentType: types[bStart],
  };
}

function indexOfSequence(haystack: number[], needle: number[]): number {
  for (let start = 0; start + needle.length <= haystack.length; start++) {
    if (needle.every((value, i) => haystack[start + i] === value)) return start;
  }
  return -1;
}
