/**
 * Universal Sentence Encoder Lite's SentencePiece tokenizer as a Hugging Face tokenizer.json (Unigram model).
 *
 * The reference (@energetic-ai/embeddings, ported from @tensorflow-models/universal-sentence-encoder) does:
 *   NFKC, then "▁" + text with every U+0020 replaced by "▁" (nothing for an empty string; no lowercasing, no
 *   whitespace collapsing), then a Viterbi search over the pieces (ids >= 6; the six reserved ids are never
 *   matched), a character no piece starts with becomes id 0, and runs of id 0 are merged. No BOS/EOS.
 * Every character that occurs in a piece is also a one-character piece (checked), so the unknown positions of the
 * reference and of tokenizers.js's Unigram coincide. The construction below reproduces the reference ids; its two quirks:
 * - vocab.json stores null (read as 0) for pieces containing ":" and 30 for ":30" (a conversion accident upstream);
 *   the scores are kept as the reference reads them, so ids match.
 * - the reference treats a running path score of exactly 0 as "unset", which only happens for text starting with
 *   ":" (the pieces "▁:", "▁:)", ... score 0): it never uses those pieces at the very start. A Split pre-tokenizer
 *   isolating a leading "▁" before ":" reproduces that.
 */

import { PackError } from '../../errors.js';

/** One vocab.json entry: piece and log-probability (null in a few upstream entries). */
export type UsePiece = [string, number | null];

/** Ids 0-5 of vocab.json are reserved ("�" as unknown, <s>, </s>, extra_token_id_1..3). */
export const USE_RESERVED_PIECES = 6;
export const USE_UNK_ID = 0;

/** Score that keeps the reserved pieces out of every segmentation (the reference never matches them). */
const UNREACHABLE_SCORE = -1000;

/**
 * Builds tokenizer.json for the USE vocabulary.
 *
 * @example
 *   const json = useTokenizerJson(JSON.parse(await readFile('dist/vocab.json', 'utf8')));
 *   new Tokenizer(json, {}).encode('Hello world').ids; // [..] as the reference tokenizer
 */
export function useTokenizerJson(vocab: UsePiece[]): Record<string, unknown> {
  if (vocab.length <= USE_RESERVED_PIECES)
    throw new PackError('bad-input', `USE vocabulary has ${vocab.length} entries; expected thousands`);
  const singles = new Set(
    vocab
      .slice(USE_RESERVED_PIECES)
      .map(([piece]) => piece)
      .filter((piece) => [...piece].length === 1),
  );
  const uncovered = vocab.slice(USE_RESERVED_PIECES).find(([piece]) => [...piece].some((ch) => !singles.has(ch)));
  if (uncovered) {
    // Without this, the reference and tokenizers.js would disagree on where an unknown piece may start.
    throw new PackError(
      'vocab-mismatch',
      `piece ${JSON.stringify(uncovered[0])} has a character that is not itself a piece; the Unigram tokenizer.json cannot reproduce the reference ids for this vocabulary`,
    );
  }
  const pieces = vocab.map(([piece, score], id): [string, number] => [
    piece,
    id > USE_UNK_ID && id < USE_RESERVED_PIECES ? UNREACHABLE_SCORE : (score ?? 0),
  ]);
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [],
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'NFKC' },
        { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
        { type: 'Prepend', prepend: '▁' },
      ],
    },
    pre_tokenizer: { type: 'Split', pattern: { Regex: '\\A▁(?=:)' }, behavior: 'Isolated', invert: false },
    post_processor: null,
    decoder: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: false },
    model: { type: 'Unigram', unk_id: USE_UNK_ID, vocab: pieces, byte_fallback: false },
  };
}
