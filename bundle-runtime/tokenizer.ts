/**
 * Tokenization with @huggingface/tokenizers from the bundle's tokenizer.json, plus the truncation the library does not
 * do: cut the content tokens from the chosen end and keep the special tokens (e.g. [CLS] ... [SEP]) around them.
 */
import { Tokenizer } from '@huggingface/tokenizers';
import { TokenAligner } from './token-offsets.js';

export type TruncationDirection = 'right' | 'left';

export interface TokenizedInput {
  /** Token ids fed to the model, special tokens included, at most maxTokens long. */
  ids: number[];
  /** Tokens of the whole input before truncation. */
  fullLength: number;
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
  readonly vocabularySize: number;

  constructor(tokenizerJson: object, tokenizerConfig: Record<string, unknown>) {
    this.tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
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

function indexOfSequence(haystack: number[], needle: number[]): number {
  for (let start = 0; start + needle.length <= haystack.length; start++) {
    if (needle.every((value, i) => haystack[start + i] === value)) return start;
  }
  return -1;
}
