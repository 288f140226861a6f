/**
 * The benchmark's inputs, generated deterministically (same seed, same texts on every run and for every system):
 * short queries (3-10 words) and passages of 48-198 words, built from whole-word pieces that both the full and the
 * pruned MiniLM tokenizers keep, so one word is one token and a passage is 50-200 tokens with [CLS]/[SEP].
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { mulberry32 as prng } from '../../model-packager/src/fixtures/random.js';

const root = join(import.meta.dirname, '../..');

/** Lower-case alphabetic whole words of the pruned MiniLM fixture vocabulary (a subset of the full one), sorted. */
function wordList(): string[] {
  const tokenizer = JSON.parse(readFileSync(join(root, 'bundles/minilm-fixture/tokenizer.json'), 'utf8')) as {
    model: { vocab: Record<string, number> };
  };
  return Object.keys(tokenizer.model.vocab)
    .filter((word) => /^[a-z]{3,}$/.test(word))
    .sort();
}

export interface Workload {
  texts: string[];
  /** Inputs that are short queries (the rest are passages). */
  queries: number;
  /** Texts that repeat an earlier text of the same list. */
  repeats: number;
}

function sentence(words: string[], random: () => number, count: number, capitalise: boolean): string {
  const picked = Array.from({ length: count }, () => words[Math.floor(random() * words.length)]);
  if (capitalise) picked[0] = picked[0][0].toUpperCase() + picked[0].slice(1);
  return picked.join(' ');
}

/**
 * `count` texts, ~40% short queries and ~60% passages (`passageWords` long), in a shuffled order; with `repeatShare` > 0 that share of the
 * texts (after the first 10%) repeats an earlier one. Different `seed`s give disjoint texts (in practice).
 * @example makeWorkload(1024, 1).texts.length // 1024
 */
export function makeWorkload(
  count: number,
  seed: number,
  repeatShare = 0,
  passageWords: [number, number] = [48, 198],
): Workload {
  const words = wordList();
  const random = prng(seed);
  const texts: string[] = [];
  let queries = 0;
  let repeats = 0;
  for (let i = 0; i < count; i++) {
    if (repeatShare > 0 && i >= count / 10 && random() < repeatShare / 0.9) {
      texts.push(texts[Math.floor(random() * texts.length)]);
      repeats++;
      continue;
    }
    if (random() < 0.4) {
      queries++;
      texts.push(sentence(words, random, 3 + Math.floor(random() * 8), false));
    } else {
      texts.push(
        `${sentence(words, random, passageWords[0] + Math.floor(random() * (passageWords[1] - passageWords[0] + 1)), true)}`,
      );
    }
  }
  return { texts, queries, repeats };
}

/** Short single sentences for the latency workload (6-10 words, about 8-12 tokens). */
export function shortSentences(count: number, seed: number): string[] {
  const words = wordList();
  const random = prng(seed);
  return Array.from({ length: count }, () => sentence(words, random, 6 + Math.floor(random() * 5), true));
}
