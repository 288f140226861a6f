/**
 * How much pruning changes tokenization of text the pruning source did not contain: the share of words (running
 * words, split on whitespace) whose pieces differ between the original and the pruned tokenizer.
 */
import type { Tokenizer } from '@huggingface/tokenizers';

export interface ChangedWord {
  word: string;
  before: string[];
  after: string[];
}

export interface ChangedWordsReport {
  words: number;
  changed: number;
  /** changed / words, or null when the texts hold no words. */
  share: number | null;
  /** Up to `maxExamples` distinct changed words, most frequent first. */
  examples: ChangedWord[];
}

const samePieces = (a: string[], b: string[]): boolean => a.length === b.length && a.every((t, i) => t === b[i]);

/**
 * Compares tokenization word by word.
 *
 * @example
 *   const { share } = compareWordTokenization(original, pruned, ['a sentence the corpus never had']);
 */
export function compareWordTokenization(
  original: Tokenizer,
  pruned: Tokenizer,
  texts: Iterable<string>,
  maxExamples = 10,
): ChangedWordsReport {
  const seen = new Map<string, { change: ChangedWord | null; occurrences: number }>();
  let words = 0;
  let changed = 0;
  for (const text of texts) {
    for (const word of text.match(/\S+/g) ?? []) {
      words++;
      let entry = seen.get(word);
      if (!entry) {
        const before = original.tokenize(word);
        const after = pruned.tokenize(word);
        entry = { change: samePieces(before, after) ? null : { word, before, after }, occurrences: 0 };
        seen.set(word, entry);
      }
      entry.occurrences++;
      if (entry.change) changed++;
    }
  }
  const examples = [...seen.values()]
    .filter((e) => e.change !== null)
    .sort((a, b) => b.occurrences - a.occurrences)
    .slice(0, maxExamples)
    .map((e) => e.change!);
  return { words, changed, share: words === 0 ? null : changed / words, examples };
}
