/**
 * The per-word Unigram cache (bundle-runtime/unigram-word-cache.ts) changes no token: BundleTokenizer with it gives the ids and pieces
 * @huggingface/tokenizers gives alone, on the USE bundles' SentencePiece vocabulary (STS-dev's sentences, generated
 * texts that run pieces together with odd spacing, punctuation and unknown characters, edge cases, and more distinct
 * words than the cache holds), and a vocabulary with a piece across a word boundary is left uncached.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { describe, expect, it } from 'vitest';
import { BundleTokenizer } from '../../bundle-runtime/tokenizer.js';
import { cacheUnigramWords } from '../../bundle-runtime/unigram-word-cache.js';
import { parseSts } from '../../model-packager/src/eval/sts.js';
import { mulberry32 } from '../../model-packager/src/fixtures/random.js';
import { needs } from '../support/requirements.js';

const root = join(import.meta.dirname, '../..');
const STS_DEV = join(root, '../shared/data/stsbenchmark/sts-dev.csv');

const EDGE_CASES = [
  '',
  ' ',
  'a',
  '  leading and trailing  ',
  'double  spaces\tand\ttabs\nand\nnewlines',
  ': a colon first',
  ':colon',
  'word:word, again; (brackets) "quotes" it\'s',
  'Ünïcödé àccents, ﬁ ligature, full-width ＡＢＣ',
  'emoji 🙂🙂 and 漢字 and עברית unknown runs',
  '▁already▁marked ▁ ▁▁',
  'the the the the the the',
  'x'.repeat(300),
  `${'supercalifragilistic'.repeat(20)} tail`,
];

/** Texts made of the vocabulary's own pieces, joined with and without boundaries, to stress the segmentation. */
function pieceSoup(vocab: string[], count: number, seed: number): string[] {
  const random = mulberry32(seed);
  const separators = [' ', ' ', ' ', '', '  ', ', ', '-', ':', '\t'];
  const pick = <T>(items: T[]) => items[Math.floor(random() * items.length)];
  return Array.from({ length: count }, () => {
    let text = random() < 0.1 ? ':' : '';
    const words = 1 + Math.floor(random() * 12);
    for (let w = 0; w < words; w++) text += pick(vocab).replaceAll('\u2581', '') + pick(separators);
    return random() < 0.1 ? `${text}é🙂` : text;
  });
}

function bundleTexts(vocab: string[]): string[] {
  const sts = existsSync(STS_DEV) ? parseSts(readFileSync(STS_DEV, 'utf8'), STS_DEV) : [];
  // More distinct words than the cache holds (16,384), so it starts over at least once.
  const many = Array.from({ length: 1200 }, (_, i) => vocab.slice((i * 17) % 7000, ((i * 17) % 7000) + 17).join(' '));
  return [
    ...EDGE_CASES,
    ...sts.flatMap((pair) => [pair.sentence1, pair.sentence2]),
    ...pieceSoup(vocab, 3000, 12),
    ...many,
  ];
}

for (const name of ['static-default', 'default']) {
  const dir = join(root, 'bundles', name);
  describe.skipIf(needs(existsSync(join(dir, 'tokenizer.json')), `${dir}/tokenizer.json (npm run build)`))(
    `the Unigram word cache on bundles/${name}`,
    () => {
      const load = () => {
        const json = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')) as {
          model: { vocab: [string, number][] };
        };
        const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as {
          tokenizerConfig: Record<string, unknown>;
        };
        return { json, config: manifest.tokenizerConfig };
      };

      it('is used for this vocabulary', () => {
        const { json, config } = load();
        expect(cacheUnigramWords(new Tokenizer(json, config))).toBe(true);
      });

      it('gives the library’s own pieces and ids for every text, twice over (the second time from the cache)', () => {
        const { json, config } = load();
        const plain = new Tokenizer(json, config);
        const cached = new BundleTokenizer(json, config);
        const texts = bundleTexts(json.model.vocab.map(([piece]) => piece));
        expect(texts.length).toBeGreaterThan(4000);
        const mismatches: string[] = [];
        for (const pass of [1, 2]) {
          for (const text of texts) {
            const expected = plain.encode(text, { add_special_tokens: false });
            const got = cached.encode(text, 1_000_000, 'right');
            const pieces = cached.details(text, false).map((token) => token.text);
            if (JSON.stringify(got.ids) !== JSON.stringify(expected.ids) || got.fullLength !== expected.ids.length) {
              mismatches.push(`pass ${pass} ids: ${JSON.stringify(text)}`);
            }
            if (JSON.stringify(pieces) !== JSON.stringify(expected.tokens)) {
              mismatches.push(`pass ${pass} pieces: ${JSON.stringify(text)}`);
            }
          }
        }
        expect(mismatches.slice(0, 5)).toEqual([]);
      });
    },
  );
}

describe('a vocabulary with a piece across a word boundary', () => {
  // "▁new▁york" beats "▁new" + "▁york": a per-word cache would split it, so the cache must stay off.
  const json = {
    version: '1.0',
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'Replace', pattern: { String: ' ' }, content: '\u2581' },
        { type: 'Prepend', prepend: '\u2581' },
      ],
    },
    pre_tokenizer: null,
    post_processor: null,
    decoder: null,
    added_tokens: [],
    model: {
      type: 'Unigram',
      unk_id: 0,
      vocab: [
        ['<unk>', 0],
        ['\u2581', -2],
        ['\u2581new', -3],
        ['\u2581york', -3],
        ['\u2581new\u2581york', -4],
        ['\u2581city', -3],
      ],
    },
  };

  it('is not cached, and keeps the piece across the boundary', () => {
    expect(cacheUnigramWords(new Tokenizer(json, {}))).toBe(false);
    const tokenizer = new BundleTokenizer(json, {});
    const pieces = (text: string) => tokenizer.details(text, false).map((token) => token.text);
    expect(pieces('new york city')).toEqual(['\u2581new\u2581york', '\u2581city']);
    expect(pieces('new york city')).toEqual(['\u2581new\u2581york', '\u2581city']);
  });
});
