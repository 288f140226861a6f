/**
 * How often each token of the original vocabulary is used by the text a model will serve: the input to
 * vocabulary pruning. Counting tokenizes with @huggingface/tokenizers, without special tokens.
 */
import { PackError } from '../errors.js';
import { createTokenizer } from './tokenizer-json.js';

export { readCorpusFile } from './corpus.js';
export { readWordFrequencyFile, withCaseVariants } from './word-frequencies.js';

/** Original token id -> occurrences. */
export type TokenCounts = Map<number, number>;

/** Called every so often with the number of texts (or words) processed, for a progress bar. */
export type CountProgress = (done: number) => void;

const PROGRESS_EVERY = 1000;

function add(counts: TokenCounts, ids: number[], weight: number): void {
  for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + weight);
}

/**
 * Counts token uses over texts.
 *
 * @example
 *   const counts = countTokens(tokenizerJson, await readCorpusFile('corpus.txt'));
 */
export function countTokens(tokenizerJson: object, texts: Iterable<string>, progress?: CountProgress): TokenCounts {
  const tokenizer = createTokenizer(tokenizerJson);
  const counts: TokenCounts = new Map();
  let done = 0;
  for (const text of texts) {
    add(counts, tokenizer.encode(text, { add_special_tokens: false }).ids, 1);
    if (++done % PROGRESS_EVERY === 0) progress?.(done);
  }
  progress?.(done);
  return counts;
}

/**
 * Byte-level BPE without add_prefix_space spells a word differently at the start of a text ("word") and after a space
 * ("Ġword"), so a listed word counts in both spellings.
 */
function spellingsOf(tokenizerJson: object): (word: string) => string[] {
  const pre = JSON.stringify((tokenizerJson as { pre_tokenizer?: unknown }).pre_tokenizer ?? null);
  const byteLevel = pre.includes('"ByteLevel"') && !pre.includes('"add_prefix_space":true');
  return byteLevel ? (word) => [word, ` ${word}`] : (word) => [word];
}

/**
 * Counts token uses from a word-frequency list: each word is tokenized once (byte-level BPE: with and without a
 * leading space) and its tokens get the word's count.
 *
 * @example
 *   const counts = countTokensFromWordFrequencies(tokenizerJson, [['hello', 120], ['world', 80]]);
 */
export function countTokensFromWordFrequencies(
  tokenizerJson: object,
  freq: Iterable<[word: string, count: number]>,
  progress?: CountProgress,
): TokenCounts {
  const tokenizer = createTokenizer(tokenizerJson);
  const spellings = spellingsOf(tokenizerJson);
  const counts: TokenCounts = new Map();
  let done = 0;
  for (const [word, count] of freq) {
    if (!Number.isFinite(count) || count < 0) {
      throw new PackError(
        'bad-input',
        `word frequency for ${JSON.stringify(word)} is ${count}, expected a non-negative number`,
      );
    }
    if (count > 0) {
      for (const spelling of spellings(word)) {
        add(counts, tokenizer.encode(spelling, { add_special_tokens: false }).ids, count);
      }
    }
    if (++done % PROGRESS_EVERY === 0) progress?.(done);
  }
  progress?.(done);
  return counts;
}
