/**
 * Byte-level BPE (RoBERTa's tokenizer) on the inputs it finds hard: emoji (skin tones, ZWJ families), combining marks,
 * CJK, leading and repeated spaces, a very long word, text that is all punctuation, tabs and newlines. For the full
 * GPT-2 vocabulary and for a bundle pruned to a small corpus: /tokenize offsets slice the input back into each token's
 * bytes, /decode gives the text back exactly, and the worker embeds every one (a too-long word with a 413 naming the
 * limit unless `truncate` is set).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BundleTokenizer, type TokenWithOffsets } from '../../bundle-runtime/tokenizer.js';
import { robertaTokenizerJson } from '../../model-packager/src/fixtures/roberta-files.js';
import { robertaVocab } from '../../model-packager/src/fixtures/roberta-vocab.js';
import { packModel } from '../../model-packager/src/pack.js';
import { fixtureCli, workerOn } from './support.js';

const LONG_WORD = 'Pneumonoultramicroscopicsilicovolcanoconiosis'.repeat(8);
const EDGE_TEXTS = [
  'thumbs 👍🏽 party 🎉 family 👨‍👩‍👧 flag 🇯🇵 heart ❤️',
  'e\u0301cole, n\u0303, a\u0308 beside composed école and Zalgo z\u0336\u0317a\u0334\u031b',
  '日本語のテキストと中文混合、한국어 too',
  '   three leading spaces and  two  inside',
  LONG_WORD,
  '...!!! ??? --- ;;; ((( ))) """ @#$%^&*',
  'tabs\tand\nnewlines\r\nhere ',
];
const CORPUS = ['The quick brown fox jumps over the lazy dog.', 'A river runs quietly past the old stone market.'];

/** GPT-2's byte <-> printable-character table (bytes_to_unicode), inverted: character -> byte. */
function byteLevelDecoder(): Map<string, number> {
  const printable = [
    ...Array.from({ length: 94 }, (_, i) => 33 + i),
    ...Array.from({ length: 12 }, (_, i) => 161 + i),
    ...Array.from({ length: 82 }, (_, i) => 174 + i),
  ];
  const table = new Map<string, number>();
  let extra = 0;
  for (let byte = 0; byte < 256; byte++) {
    const char = printable.includes(byte) ? byte : 256 + extra++;
    table.set(String.fromCodePoint(char), byte);
  }
  return table;
}
const toByte = byteLevelDecoder();
const tokenBytes = (token: string) => Uint8Array.from([...token], (char) => toByte.get(char) ?? -1);
const utf8 = (text: string) => new TextEncoder().encode(text);
const bare = (text: string) => text.replace(/\p{M}/gu, '');
const isWhitespaceByte = (byte: number) => [0x20, 0x09, 0x0a, 0x0d].includes(byte);

function contains(haystack: Uint8Array, needle: Uint8Array): boolean {
  return haystack.some((_, i) => needle.every((byte, k) => haystack[i + k] === byte));
}

/** Each token's bytes, without the whitespace trim_offsets leaves out of its span, lie inside the slice's bytes. */
function expectOffsetsSliceBack(tokenizer: BundleTokenizer, text: string): void {
  const tokens = tokenizer.withOffsets(text, false) as Array<TokenWithOffsets & { start: number; stop: number }>;
  expect(tokens.length).toBeGreaterThan(0);
  const joined = tokens.flatMap((token) => [...tokenBytes(token.text)]);
  expect(Uint8Array.from(joined), 'the tokens hold exactly the text').toEqual(utf8(text));
  for (const token of tokens) {
    const bytes = [...tokenBytes(token.text)];
    while (bytes.length > 0 && isWhitespaceByte(bytes[0]!)) bytes.shift();
    while (bytes.length > 0 && isWhitespaceByte(bytes.at(-1)!)) bytes.pop();
    const slice = text.slice(token.start, token.stop);
    if (bytes.length === 0) {
      expect(slice, JSON.stringify(token)).toMatch(/^\s*$/);
      continue;
    }
    expect(contains(utf8(slice), Uint8Array.from(bytes)), `${JSON.stringify(token)} in ${slice}`).toBe(true);
    // A piece of whole characters spans them, with any combining marks that belong to them (a character is a code
    // point and its marks); a piece of one character's bytes, or of marks alone, spans that one character.
    const whole = new TextDecoder().decode(Uint8Array.from(bytes));
    if (whole.includes('\uFFFD') || bare(whole) === '') expect([...bare(slice)].length, JSON.stringify(token)).toBe(1);
    else expect(bare(slice), JSON.stringify(token)).toBe(bare(whole));
  }
  for (let i = 1; i < tokens.length; i++) expect(tokens[i]!.start).toBeGreaterThanOrEqual(tokens[i - 1]!.start);
}

let work: string;
const bundle = () => join(work, 'bundle');

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'family-bpe-edges-'));
  await fixtureCli([join(work, 'roberta'), '--preset', 'roberta']);
  await writeFile(join(work, 'corpus.txt'), `${CORPUS.join('\n')}\n`);
  await packModel({
    modelDir: join(work, 'roberta'),
    outDir: bundle(),
    corpus: [join(work, 'corpus.txt')],
    maxVocab: 400,
  });
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('byte-level BPE offsets', () => {
  const { vocab, merges } = robertaVocab();
  const full = new BundleTokenizer(robertaTokenizerJson(vocab, merges, 128), {});

  it.each(EDGE_TEXTS)('slice %j back into each token, GPT-2 vocabulary', (text) => {
    expectOffsetsSliceBack(full, text);
  });

  it.each(EDGE_TEXTS)('slice %j back into each token, vocabulary pruned to 400', async (text) => {
    const json = JSON.parse(await readFile(join(bundle(), 'tokenizer.json'), 'utf8'));
    expectOffsetsSliceBack(new BundleTokenizer(json, {}), text);
  });

  it('tells a word after a space from the same word at the start, and spans only the word', () => {
    const [start] = full.withOffsets('hello', false);
    const [, spaced] = full.withOffsets('x hello', false);
    expect([start!.text, spaced!.text]).toEqual(['hello', 'Ġhello']);
    expect([spaced!.start, spaced!.stop]).toEqual([2, 7]);
  });
});

describe('byte-level BPE edge cases through the worker (pruned bundle)', () => {
  it('tokenizes, decodes back exactly and embeds every edge case', async () => {
    const { post } = workerOn(bundle());
    const tokenized = (await (await post('/tokenize', { inputs: EDGE_TEXTS })).json()) as TokenWithOffsets[][];
    const ids = tokenized.map((tokens) => tokens.map((token) => token.id));
    const decoded = await post('/decode', { ids });
    expect(decoded.status).toBe(200);
    expect(await decoded.json()).toEqual(EDGE_TEXTS);

    const response = await post('/embed', { inputs: EDGE_TEXTS, truncate: true });
    expect(response.status).toBe(200);
    const vectors = (await response.json()) as number[][];
    for (const vector of vectors) {
      expect(vector.every(Number.isFinite)).toBe(true);
      expect(Math.hypot(...vector)).toBeCloseTo(1, 4);
    }
  });

  it('refuses the very long word without truncate, naming the token limit', async () => {
    const { post } = workerOn(bundle());
    const response = await post('/embed', { inputs: LONG_WORD });
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
    expect(JSON.stringify(await response.json())).toMatch(/128|token/);
  });
});
