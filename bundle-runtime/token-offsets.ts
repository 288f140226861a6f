/**
 * Character offsets of tokens in the input text, for /tokenize. @huggingface/tokenizers' Encoding has ids and tokens
 * but no offsets, so they are recovered by alignment:
 *
 * 1. The input is cut into characters (a code point with its combining marks) and each character is normalised alone
 *    with the tokenizer's own normalizer (minus Prepend/Strip, which act on the whole text), then written as UTF-8.
 *    Every normalised byte remembers the character it came from.
 * 2. Each token's surface is its bytes without the word markers: `##` (WordPiece), `▁` (Metaspace, read as a space),
 *    or the byte-level alphabet mapped back to bytes (GPT-2/RoBERTa BPE), with the boundary space trimmed.
 * 3. Tokens are matched in order, each searched from where the previous one ended. A token that cannot be matched
 *    (the unknown token, a whitespace-only piece) gets the span between its matched neighbours.
 *
 * Offsets are JS string (UTF-16) indices: `text.slice(start, stop)` is the token's text before normalisation. A token
 * that holds part of a character's bytes (byte-level BPE splitting an emoji) spans the whole character.
 */
import {
  type Normalizer,
  PrependNormalizer,
  SequenceNormalizer,
  StripNormalizer,
  type Tokenizer,
} from '@huggingface/tokenizers';

export interface TokenSpan {
  start: number;
  stop: number;
}

/** The parts of tokenizer.json that decide how a token's text maps back to input bytes. */
interface TokenizerJsonShape {
  model?: { type?: string; continuing_subword_prefix?: string | null };
  pre_tokenizer?: unknown;
  decoder?: unknown;
}

interface StreamByte {
  byte: number;
  start: number;
  stop: number;
}

const encoder = new TextEncoder();
const CHARACTER = /\P{M}\p{M}*|\p{M}+/gu;
/**
 * How far past the previous token (and any spaces) a token may start: the span of the unmatched tokens between them.
 * A WordPiece unknown word is at most 100 characters; the bound keeps a token that matches nothing from scanning the
 * rest of a long input, which would make /tokenize quadratic.
 */
const MAX_GAP_BYTES = 1024;
const isSpaceByte = (byte: number) => byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d;

export class TokenAligner {
  private readonly normalizers: Normalizer[];
  private readonly byteLevel: Map<string, number> | null;
  private readonly subwordPrefix: string | null;
  private readonly metaspace: string | null;

  constructor(tokenizer: Tokenizer, json: TokenizerJsonShape) {
    this.normalizers = characterNormalizers(tokenizer.normalizer);
    const stages = JSON.stringify([json.pre_tokenizer ?? null, json.decoder ?? null]);
    this.byteLevel = stages.includes('"ByteLevel"') ? byteLevelDecoder() : null;
    this.subwordPrefix = json.model?.type === 'WordPiece' ? (json.model.continuing_subword_prefix ?? '##') : null;
    this.metaspace = stages.includes('"Metaspace"') ? (metaspaceReplacement(json) ?? '▁') : null;
  }

  /**
   * Spans of the given tokens in `text`; `unmatched` ids (e.g. the unknown token) take the span between neighbours.
   * @example aligner.align('Hi there', ['hi', 'there'], new Set()) // [{ start: 0, stop: 2 }, { start: 3, stop: 8 }]
   */
  align(text: string, tokens: readonly string[], unmatched: ReadonlySet<string>): TokenSpan[] {
    const stream = this.stream(text);
    const spans: TokenSpan[] = [];
    let cursor = 0;
    let pending: number[] = [];
    const settle = (end: number) => {
      const span = gapSpan(stream, cursor, end);
      for (const i of pending) spans[i] = span;
      pending = [];
    };
    tokens.forEach((token, i) => {
      const surface = unmatched.has(token) ? [] : this.surface(token);
      let from = cursor;
      while (from < stream.length && isSpaceByte(stream[from].byte)) from++;
      const at = surface.length === 0 ? -1 : indexOfBytes(stream, surface, from, from + MAX_GAP_BYTES);
      if (at < 0) {
        pending.push(i);
        return;
      }
      settle(at);
      spans[i] = { start: stream[at].start, stop: stream[at + surface.length - 1].stop };
      cursor = at + surface.length;
    });
    settle(stream.length);
    return spans;
  }

  private stream(text: string): StreamByte[] {
    const stream: StreamByte[] = [];
    for (const match of text.matchAll(CHARACTER)) {
      const start = match.index;
      const stop = start + match[0].length;
      let normalized = this.normalizers.reduce((value, normalizer) => normalizer.normalize(value), match[0]);
      if (this.metaspace) normalized = normalized.replaceAll(this.metaspace, ' ');
      for (const byte of encoder.encode(normalized)) stream.push({ byte, start, stop });
    }
    return stream;
  }

  private surface(token: string): number[] {
    let bytes: number[];
    const fromByteLevel = this.byteLevel && [...token].map((char) => this.byteLevel?.get(char));
    if (fromByteLevel?.every((byte) => byte !== undefined)) {
      bytes = fromByteLevel as number[];
    } else {
      let text = token;
      if (this.subwordPrefix && text.startsWith(this.subwordPrefix) && text.length > this.subwordPrefix.length) {
        text = text.slice(this.subwordPrefix.length);
      }
      if (this.metaspace) text = text.replaceAll(this.metaspace, ' ');
      bytes = [...encoder.encode(text)];
    }
    let from = 0;
    let to = bytes.length;
    while (from < to && isSpaceByte(bytes[from])) from++;
    while (to > from && isSpaceByte(bytes[to - 1])) to--;
    return bytes.slice(from, to);
  }
}

/** The normalizer steps that apply character by character: Prepend and Strip see the whole text, so they are left out. */
function characterNormalizers(normalizer: Normalizer | null): Normalizer[] {
  if (!normalizer) return [];
  const steps = normalizer instanceof SequenceNormalizer ? normalizer.normalizers : [normalizer];
  return steps.filter(
    (step): step is Normalizer =>
      step !== null && !(step instanceof PrependNormalizer) && !(step instanceof StripNormalizer),
  );
}

function metaspaceReplacement(json: TokenizerJsonShape): string | undefined {
  const found = JSON.stringify([json.pre_tokenizer, json.decoder]).match(/"replacement":"([^"]+)"/);
  return found?.[1];
}

/** A gap between matched tokens: its non-space part, else its spaces, else an empty span where it sits. */
function gapSpan(stream: readonly StreamByte[], from: number, to: number): TokenSpan {
  let a = from;
  let b = to;
  while (a < b && isSpaceByte(stream[a].byte)) a++;
  while (b > a && isSpaceByte(stream[b - 1].byte)) b--;
  if (a === b) {
    a = from;
    b = to;
  }
  if (a < b) return { start: stream[a].start, stop: stream[b - 1].stop };
  const at = from < stream.length ? stream[from].start : from > 0 ? stream[from - 1].stop : 0;
  return { start: at, stop: at };
}

function indexOfBytes(stream: readonly StreamByte[], needle: readonly number[], from: number, last: number): number {
  outer: for (let start = from; start <= last && start + needle.length <= stream.length; start++) {
    for (let j = 0; j < needle.length; j++) if (stream[start + j].byte !== needle[j]) continue outer;
    return start;
  }
  return -1;
}

/** GPT-2's byte-to-unicode table, inverted: the byte-level alphabet's character for each byte, back to the byte. */
function byteLevelDecoder(): Map<string, number> {
  const printable = (byte: number) =>
    (byte >= 0x21 && byte <= 0x7e) || (byte >= 0xa1 && byte <= 0xac) || (byte >= 0xae && byte <= 0xff);
  const decoder = new Map<string, number>();
  let extra = 0;
  for (let byte = 0; byte < 256; byte++) {
    decoder.set(String.fromCodePoint(printable(byte) ? byte : 256 + extra++), byte);
  }
  return decoder;
}
