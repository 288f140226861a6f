import { Tokenizer } from '@huggingface/tokenizers';
import { describe, expect, it } from 'vitest';
import { chooseKeptIds, requiredTokenIds } from '../../src/vocab/keep-set.js';
import { rewriteTokenizerJson } from '../../src/vocab/rewrite-tokenizer.js';
import { countTokens } from '../../src/vocab/token-counts.js';
import { readVocabTable } from '../../src/vocab/tokenizer-json.js';

/** A small WordPiece tokenizer.json where "é" exists only inside "café" (no "é" or "##é" token). */
function wordPiece(vocab: string[]) {
  return {
    version: '1.0',
    added_tokens: ['[PAD]', '[UNK]'].map((content) => ({
      id: vocab.indexOf(content),
      content,
      special: true,
      normalized: false,
      lstrip: false,
      rstrip: false,
      single_word: false,
    })),
    normalizer: {
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: true,
      strip_accents: false,
      lowercase: true,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: null,
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: '[UNK]',
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: Object.fromEntries(vocab.map((t, i) => [t, i])),
    },
  };
}

const VOCAB = [
  '[PAD]',
  '[UNK]',
  'c',
  'a',
  'f',
  't',
  '##c',
  '##a',
  '##f',
  '##t',
  'cat',
  'caf',
  '##é',
  'café',
  'fat',
  '##at',
];
const VOCAB_NO_CONT_E = VOCAB.filter((t) => t !== '##é');

function prune(vocab: string[], texts: string[], maxVocab: number) {
  const json = wordPiece(vocab);
  const table = readVocabTable(json);
  const { kept } = chooseKeptIds(table, countTokens(json, texts), maxVocab);
  const oldToNew = new Int32Array(vocab.length).fill(-1);
  for (const [newId, oldId] of kept.entries()) oldToNew[oldId] = newId;
  return {
    before: new Tokenizer(json, {}),
    after: new Tokenizer(rewriteTokenizerJson(json, table, oldToNew), {}),
    kept: kept.map((i) => vocab[i]),
  };
}

describe('requiredTokenIds', () => {
  it('keeps specials, single characters and their ## forms, and nothing else (WordPiece)', () => {
    const required = [...requiredTokenIds(readVocabTable(wordPiece(VOCAB)))].map((i) => VOCAB[i]).sort();
    expect(required).toEqual(['##a', '##c', '##f', '##t', '##é', '[PAD]', '[UNK]', 'a', 'c', 'f', 't'].sort());
  });

  it('also keeps the tokens that alone can spell a character without a one-character token', () => {
    const { before, after, kept } = prune(VOCAB_NO_CONT_E, ['fat cat'], 1);
    expect(kept).toContain('café');
    expect(kept).not.toContain('caf');
    expect(after.tokenize('café')).toEqual(before.tokenize('café'));
    expect(after.tokenize('café')).not.toContain('[UNK]');
  });
});

describe('chooseKeptIds', () => {
  it('adds the most frequent counted tokens up to maxVocab, ties broken by id', () => {
    const { kept } = prune(VOCAB, ['cat cat cat fat fat café'], 13);
    expect(kept).toContain('cat');
    expect(kept).toContain('fat');
    expect(kept).not.toContain('café');
    expect(kept.length).toBe(13);
  });
});
