/**
 * Tokenization with @huggingface/tokenizers from the bundle's tokenizer.json, plus the truncation the library does not
 * do: cut the content tokens from the chosen end and keep the special tokens (e.g. [CLS] ... [SEP]) around them.
 */
import { Tokenizer } from '@huggingface/tokenizers';

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

export class BundleTokenizer {
  private readonly tokenizer: Tokenizer;
  private readonly specialIds: Set<number>;
  /** Special tokens the post-processor puts before and after the content, measured once on a probe text. */
  private readonly prefix: number[];
  private readonly suffix: number[];
  readonly vocabularySize: number;

  constructor(tokenizerJson: object, tokenizerConfig: Record<string, unknown>) {
    this.tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
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
}

function indexOfSequence(haystack: number[], needle: number[]): number {
  for (let start = 0; start + needle.length <= haystack.length; start++) {
    if (needle.every((value, i) => haystack[start + i] === value)) return start;
  }
  return -1;
}
