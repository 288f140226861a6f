/**
 * A per-word cache of a Unigram model's pieces, the way Hugging Face's Rust Unigram keeps a cache: same pieces, less
 * work. @huggingface/tokenizers runs its Viterbi lattice over a whole pre-token, which for SentencePiece tokenizers
 * normalised as USE's ("a cat" -> "▁a▁cat", no whitespace split) is the whole text, so every text pays for its full
 * lattice even when all its words were seen before (it was most of a static bundle's CPU per text).
 *
 * When no piece of the vocabulary holds the word boundary '▁' after its first character, a piece (or the one-character
 * unknown piece) that covers a '▁' starts there, so every segmentation breaks before each '▁': the best segmentation of a
 * pre-token is the best segmentations of its words ('▁cat', '▁sat', ...) side by side. The cache then runs the
 * library's own lattice once per distinct word and concatenates; unknown-piece fusing still runs on the whole sequence
 * in the library, after this. A vocabulary that breaks the condition (a piece such as "▁new▁york") is left alone.
 * The two agree up to float rounding in the lattice's score sums, which could only matter for a word whose two best
 * segmentations tie to within ~1e-14; bundle-runtime/test/tokenizer-word-cache.test.ts checks thousands of texts.
 */
import { type Tokenizer, Unigram } from '@huggingface/tokenizers';

const WORD_BOUNDARY = '\u2581';
/** Distinct words kept; the cache starts over when full (a few hundred KB at most). */
const MAX_WORDS = 16_384;
/** Longer words are tokenized each time, as the library's BPE cache does (its max_length_to_cache). */
const MAX_CACHED_WORD_LENGTH = 256;

/**
 * Caches the tokenizer's Unigram model per word when its vocabulary allows (see above); returns whether it did.
 * @example cacheUnigramWords(new Tokenizer(tokenizerJson, config)) // true for USE's SentencePiece vocabulary
 */
export function cacheUnigramWords(tokenizer: Tokenizer): boolean {
  const model = tokenizer.model;
  if (!(model instanceof Unigram) || !segmentsAtWordBoundaries(model.vocab)) return false;
  const tokenizeAlone = model.tokenize.bind(model);
  const words = new Map<string, string[]>();
  const wordPieces = (word: string): string[] => {
    let pieces = words.get(word);
    if (pieces !== undefined) return pieces;
    pieces = tokenizeAlone(word);
    if (word.length <= MAX_CACHED_WORD_LENGTH) {
      if (words.size >= MAX_WORDS) words.clear();
      words.set(word, pieces);
    }
    return pieces;
  };
  model.tokenize = (normalized: string): string[] => {
    const pieces: string[] = [];
    for (let start = 0; start < normalized.length; ) {
      const next = normalized.indexOf(WORD_BOUNDARY, start + 1);
      const end = next < 0 ? normalized.length : next;
      for (const piece of wordPieces(normalized.slice(start, end))) pieces.push(piece);
      start = end;
    }
    return pieces;
  };
  return true;
}

/** No piece holds '▁' after its first character. */
function segmentsAtWordBoundaries(vocab: readonly string[]): boolean {
  return vocab.every((piece) => piece.indexOf(WORD_BOUNDARY, 1) < 0);
}
