/**
 * /tokenize's character offsets and /decode: the offsets slice the input back into each token's text (up to the
 * tokenizer's normalisation and word markers) for both tokenizer kinds we ship, and /decode inverts /tokenize.
 */
import { describe, expect, it } from 'vitest';
import { BundleTokenizer, type TokenWithOffsets } from '../../../bundle-runtime/tokenizer.js';
import defaultManifest from '../../../bundles/default/manifest.json';
import defaultTokenizer from '../../../bundles/default/tokenizer.json';
import minilmManifest from '../../../bundles/minilm-fixture/manifest.json';
import minilmTokenizer from '../../../bundles/minilm-fixture/tokenizer.json';
import { call } from '../helpers.js';

const texts = [
  'Hello, world!',
  'Héllo  wörld — café naïve e\u0301cole',
  'emoji 👍🏽 and a family 👨‍👩‍👧 here',
  '日本語のテキスト and 中文 mixed',
  '...!!! ??? ;-) "quoted" (paren)',
  '   leading and trailing   ',
  'tabs\tand\nnewlines\r\nhere',
  'ﬁne ligatures and ＦＵＬＬ width',
  `far${' '.repeat(3000)}apart`,
];

/** BERT uncased: lower-cased, accents stripped, `##` marks a word's continuation. */
const bertFold = (slice: string) =>
  slice
    .toLowerCase()
    .normalize('NFD')
    .replace(/\p{Mn}/gu, '');
/** SentencePiece (USE): NFKC, `▁` stands for a space. */
const unigramFold = (slice: string) => slice.normalize('NFKC');

const kinds = [
  {
    name: 'WordPiece (bundles/minilm-fixture)',
    tokenizer: new BundleTokenizer(minilmTokenizer, minilmManifest.tokenizerConfig),
    unknown: '[UNK]',
    surface: (token: string) => token.replace(/^##(?=.)/, ''),
    fold: bertFold,
  },
  {
    name: 'Unigram (bundles/default)',
    tokenizer: new BundleTokenizer(defaultTokenizer, defaultManifest.tokenizerConfig),
    unknown: defaultTokenizer.model.vocab[defaultTokenizer.model.unk_id][0] as string,
    surface: (token: string) => token.replaceAll('▁', ' ').trim(),
    fold: unigramFold,
  },
];

describe.each(kinds)('offsets, $name', ({ tokenizer, unknown, surface, fold }) => {
  it.each(texts)('slice %j back into each token', (text) => {
    const tokens = tokenizer.withOffsets(text, false);
    expect(tokens.length).toBeGreaterThan(0);
    for (const token of tokens) {
      expect(token.start, JSON.stringify(token)).not.toBeNull();
      const slice = text.slice(token.start ?? 0, token.stop ?? 0);
      const expected = surface(token.text);
      if (token.text === unknown) expect(slice.trim(), `unknown token over ${JSON.stringify(slice)}`).not.toBe('');
      else if (expected === '') expect(slice, `whitespace piece ${JSON.stringify(token)}`).toMatch(/^\s*$/);
      else expect(fold(slice), JSON.stringify(token)).toBe(expected);
    }
  });

  it.each(texts)('covers every visible character of %j in order', (text) => {
    const spans = tokenizer.withOffsets(text, false) as Array<TokenWithOffsets & { start: number; stop: number }>;
    spans.forEach((span, i) => {
      if (i > 0) expect(span.start).toBeGreaterThanOrEqual(spans[i - 1].start);
    });
    const covered = new Set(
      spans.flatMap((span) => Array.from({ length: span.stop - span.start }, (_, k) => span.start + k)),
    );
    const missed = [...text].flatMap((char, i, chars) => {
      const at = chars.slice(0, i).join('').length;
      return /\s/u.test(char) || covered.has(at) ? [] : [`${char}@${at}`];
    });
    expect(missed).toEqual([]);
  });

  it('gives null offsets only to the special tokens framing the content', () => {
    const tokens = tokenizer.withOffsets('Hello, world!', true);
    const content = tokenizer.withOffsets('Hello, world!', false);
    const framing = tokens.filter((token) => token.start === null);
    expect(tokens.length - framing.length).toBe(content.length);
    for (const token of framing) expect(token.special).toBe(true);
    expect(tokens.map((token) => token.id)).toEqual(tokenizer.details('Hello, world!', true).map((token) => token.id));
  });
});

describe('POST /tokenize and /decode (default bundle)', () => {
  it('returns offsets that slice the input', async () => {
    const text = 'Caching  café — 👍🏽 日本';
    const response = await call('/tokenize', { body: { inputs: [text] } });
    expect(response.status).toBe(200);
    const [tokens] = (await response.json()) as TokenWithOffsets[][];
    const content = tokens.filter((token) => token.start !== null);
    expect(content.length).toBeGreaterThan(3);
    const visible = content
      .map((token) => text.slice(token.start ?? 0, token.stop ?? 0))
      .join('')
      .replace(/\s/g, '');
    expect(visible).toBe(text.replace(/\s/g, ''));
  });

  it('decodes the ids /tokenize gave back to the text, single and batched', async () => {
    const inputs = ['the quick brown fox', 'jumps over the lazy dog'];
    const tokenized = (await (await call('/tokenize', { body: { inputs } })).json()) as TokenWithOffsets[][];
    const ids = tokenized.map((tokens) => tokens.map((token) => token.id));
    const batch = await call('/decode', { body: { ids } });
    expect(batch.status).toBe(200);
    expect(await batch.json()).toEqual(inputs);
    const single = await call('/decode', { body: { ids: ids[1] } });
    expect(await single.json()).toEqual([inputs[1]]);
  });

  it.each([
    [{ ids: 'abc' }, 'ids'],
    [{ ids: [1, -2] }, 'ids[1]'],
    [{ ids: [1.5] }, 'ids[0]'],
    [{ ids: [] }, 'ids'],
    [{ ids: [[1], [99999999]] }, 'ids[1][0]'],
    [{ ids: [1], skip_special_tokens: 'yes' }, 'skip_special_tokens'],
  ])('refuses %j with 400 naming %s', async (body, param) => {
    const response = await call('/decode', { body });
    expect(response.status).toBe(400);
    const error = ((await response.json()) as { error: { param: string; message: string } }).error;
    expect(error.param).toBe(param);
    expect(error.message).toContain(param);
  });
});
