import { Tokenizer } from '@huggingface/tokenizers';
import { describe, expect, it } from 'vitest';
import { robertaTokenizerJson } from '../../src/fixtures/roberta-files.js';
import { robertaVocab } from '../../src/fixtures/roberta-vocab.js';
import { withSentenceTransformersLowercase } from '../../src/readers/sentence-transformers-lowercase.js';

const nfc = { type: 'NFC' };

describe('withSentenceTransformersLowercase', () => {
  it('leaves the tokenizer alone without do_lower_case, or when it lower-cases already', () => {
    const cased = { normalizer: nfc };
    expect(withSentenceTransformersLowercase(cased, {})).toBe(cased);
    expect(withSentenceTransformersLowercase(cased, { do_lower_case: false })).toBe(cased);
    const uncased = { normalizer: { type: 'BertNormalizer', lowercase: true } };
    expect(withSentenceTransformersLowercase(uncased, { do_lower_case: true })).toBe(uncased);
    const inSequence = { normalizer: { type: 'Sequence', normalizers: [nfc, { type: 'Lowercase' }] } };
    expect(withSentenceTransformersLowercase(inSequence, { do_lower_case: true })).toBe(inSequence);
  });

  it('puts Lowercase first: alone, in front of one normalizer, or at the head of a Sequence', () => {
    const lower = { type: 'Lowercase' };
    const folded = (normalizer: unknown) =>
      withSentenceTransformersLowercase({ normalizer }, { do_lower_case: true }).normalizer;
    expect(folded(null)).toEqual(lower);
    expect(folded(nfc)).toEqual({ type: 'Sequence', normalizers: [lower, nfc] });
    expect(folded({ type: 'Sequence', normalizers: [nfc] })).toEqual({ type: 'Sequence', normalizers: [lower, nfc] });
  });

  it('makes a byte-level BPE tokenizer (no normalizer) split "Hello" as "hello"', () => {
    const { vocab, merges } = robertaVocab();
    const json = withSentenceTransformersLowercase(
      robertaTokenizerJson(vocab, merges, 128) as Record<string, unknown>,
      { do_lower_case: true },
    );
    expect(new Tokenizer(json, {}).encode('Hello World', { add_special_tokens: false }).tokens).toEqual([
      'hello',
      'Ġworld',
    ]);
  });
});
