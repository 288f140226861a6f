import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { describe, expect, it } from 'vitest';
import { defaultUsePackageDir } from '../../../src/importers/use/import-use.js';
import { type UsePiece, useTokenizerJson } from '../../../src/importers/use/tokenizer.js';

const require = createRequire(import.meta.url);
const { EmbeddingsModel } = require('@energetic-ai/embeddings') as {
  EmbeddingsModel: new (data: {
    vocabulary: UsePiece[];
    model: null;
  }) => { tokenizer: { encode(text: string): number[] } };
};

const vocab = JSON.parse(readFileSync(join(defaultUsePackageDir(), 'vocab.json'), 'utf8')) as UsePiece[];
/** The reference: @energetic-ai/embeddings' SentencePiece tokenizer (the model is not needed to tokenize). */
const reference = new EmbeddingsModel({ vocabulary: vocab, model: null }).tokenizer;
const tokenizer = new Tokenizer(useTokenizerJson(vocab), {});
const ids = (text: string) => tokenizer.encode(text).ids;

/** Deterministic pseudo-random generator (LCG), so the strings are the same on every run. */
function generator(seed: number) {
  let state = seed;
  const next = () => {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    return state / 0x80000000;
  };
  return { next, pick: <T>(items: readonly T[]) => items[Math.floor(next() * items.length)] };
}

const WORDS = [
  'the',
  'The',
  'THE',
  'cat',
  'Dog',
  'running',
  'unbelievable',
  'naïve',
  'café',
  'Zürich',
  'façade',
  'résumé',
  'São',
  'Paulo',
  'Øresund',
  'İstanbul',
  'ﬁnance',
  "don't",
  'U.S.A.',
  'e-mail',
  'COVID-19',
  'iPhone',
  'x86_64',
  'hello',
  'world',
  'Москва',
  'Ελλάδα',
  'مرحبا',
  'नमस्ते',
  '東京',
  '中文',
  '日本語',
  '한국어',
  'ไทย',
];
const PUNCTUATION = [
  '.',
  ',',
  '!',
  '?',
  ':',
  ';',
  '...',
  '--',
  '—',
  '–',
  '(',
  ')',
  '[',
  ']',
  '"',
  "'",
  '“',
  '”',
  '‘',
  '’',
  '«',
  '»',
  '/',
  '\\',
  '@',
  '#',
  '$',
  '%',
  '&',
  '*',
  '+',
  '=',
  '<',
  '>',
  '|',
  '~',
  '`',
  '^',
  '_',
  ':)',
  ':(',
  '://',
  ':30',
  ':00',
];
const NUMBERS = ['0', '7', '42', '3.14', '1,000', '10:30', '2024', '½', '①', '²', '٣', '１２３', '-5', '1e10'];
const EMOJI = ['😀', '👍🏽', '🇫🇷', '👨‍👩‍👧', '❤️', '🎉', '™', '©', '€', '°C'];
const SPACES = [' ', '  ', '\t', '\n', '\r\n', '\u00a0', '\u3000', '\u2009', '\u200b', '▁'];
const RESERVED = ['<s>', '</s>', 'extra_token_id_1', 'extra_token_id_3', '�', '<unk>'];

function generatedStrings(count: number): string[] {
  const { next, pick } = generator(20240611);
  const classes: (() => string)[] = [
    () => `${pick(WORDS)} ${pick(WORDS)}${pick(PUNCTUATION)}`,
    () => Array.from({ length: 1 + Math.floor(next() * 8) }, () => pick(WORDS)).join(pick(SPACES)),
    () => `${pick(PUNCTUATION)}${pick(WORDS)}${pick(PUNCTUATION)}${pick(NUMBERS)}`,
    () => `${pick(NUMBERS)}${pick(PUNCTUATION)}${pick(NUMBERS)} ${pick(WORDS)}`,
    () => `${pick(EMOJI)}${pick(WORDS)} ${pick(EMOJI)}${pick(EMOJI)}`,
    () => pick(SPACES).repeat(1 + Math.floor(next() * 4)),
    () => `${pick(SPACES)}${pick(WORDS)}${pick(SPACES)}`,
    () => `${pick(RESERVED)} ${pick(WORDS)}${pick(RESERVED)}`,
    () =>
      Array.from({ length: 1 + Math.floor(next() * 12) }, () =>
        String.fromCodePoint(0x20 + Math.floor(next() * (next() < 0.7 ? 0x2fe0 : 0x1ffdf))),
      ).join(''),
    () => `${pick(WORDS).toUpperCase()} ${pick(WORDS).toLowerCase()}`,
    () =>
      Array.from({ length: 40 + Math.floor(next() * 80) }, () => pick([...WORDS, ...PUNCTUATION, ...NUMBERS])).join(
        ' ',
      ),
    () => `:${pick(WORDS)}${pick(PUNCTUATION)}`,
  ];
  return Array.from({ length: count }, (_, i) => classes[i % classes.length]());
}

describe('USE tokenizer.json', () => {
  it('gives the reference ids on hand-picked edge cases', () => {
    const cases = [
      '',
      ' ',
      '   ',
      '\t',
      '\n\n',
      'Hello world',
      'hello  world',
      ' leading space',
      'trailing space ',
      ':',
      ':)',
      ': colon first',
      'time 10:30',
      'ﬁ ligature',
      'café',
      'naïve',
      '中文',
      '😀',
      '<s>',
      '</s>',
      'extra_token_id_1',
      '�',
      '▁',
      'x'.repeat(3000),
      'Ünïcödé ① ㍻',
      '\u00a0nbsp',
    ];
    for (const text of cases) expect(ids(text), JSON.stringify(text)).toEqual(reference.encode(text));
  });

  it('keeps a leading "▁" and ":" apart, as the reference does', () => {
    expect(ids(':')).toEqual([30, 57]);
    expect(ids('a :')).toEqual(reference.encode('a :'));
  });

  it('never emits the reserved ids 1-5, and adds no BOS/EOS', () => {
    for (const text of ['<s> hi </s>', 'extra_token_id_2']) {
      expect(ids(text).some((id) => id >= 1 && id <= 5)).toBe(false);
      expect(ids(text)).toEqual(reference.encode(text));
    }
    expect(ids('hi')).toEqual(reference.encode('hi'));
    expect(ids('hi')).toHaveLength(1);
  });

  it('matches the reference ids on 3,000 generated strings', () => {
    const strings = generatedStrings(3000);
    const mismatches = strings.filter((text) => JSON.stringify(ids(text)) !== JSON.stringify(reference.encode(text)));
    expect(mismatches).toEqual([]);
  });
});

describe('USE tokenizer.json construction', () => {
  const reserved: UsePiece[] = [
    ['�', 0],
    ['<s>', 0],
    ['</s>', 0],
    ['extra_token_id_1', 0],
    ['extra_token_id_2', 0],
    ['extra_token_id_3', 0],
  ];

  it('refuses a vocabulary where a piece uses a character that is not itself a piece', () => {
    expect(() => useTokenizerJson([...reserved, ['▁', -1], ['a', -2], ['▁ab', -3]])).toThrow(
      /"▁ab" has a character that is not itself a piece/,
    );
  });

  it('keeps the scores the reference reads (null as 0) and keeps the reserved pieces out of reach', () => {
    const json = useTokenizerJson([...reserved, ['▁', -1], [':', null], ['a', -2]]) as {
      model: { vocab: [string, number][] };
    };
    expect(json.model.vocab.slice(6)).toEqual([
      ['▁', -1],
      [':', 0],
      ['a', -2],
    ]);
    expect(json.model.vocab.slice(1, 6).every(([, score]) => score < -100)).toBe(true);
  });
});
