/**
 * STS Benchmark files: one pair per line, tab-separated (genre, file, year, id, score, sentence 1, sentence 2, and on
 * some lines source columns). Split on tabs only: sentences contain stray quotes a CSV parser would misread.
 */
import { readFile } from 'node:fs/promises';
import { PackError } from '../errors.js';

export interface StsPair {
  /** 1-based line number in the file. */
  line: number;
  score: number;
  sentence1: string;
  sentence2: string;
}

const SCORE_COLUMN = 4;
const FIRST_SENTENCE_COLUMN = 5;
const SECOND_SENTENCE_COLUMN = 6;

/**
 * Parses STS-format text; blank lines are skipped, any other line without a numeric score and two sentences is an
 * error naming the line.
 *
 * @example
 *   parseSts('g\tf\t2012\t1\t4.5\tA cat.\tThe cat.\n', 'tiny.tsv'); // [{ line: 1, score: 4.5, ... }]
 */
export function parseSts(text: string, label: string): StsPair[] {
  const pairs: StsPair[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, index) => {
    if (raw.trim() === '') return;
    const line = index + 1;
    const columns = raw.split('\t');
    if (columns.length <= SECOND_SENTENCE_COLUMN) {
      throw new PackError(
        'bad-input',
        `${label}:${line}: expected at least 7 tab-separated columns (score in column 5, sentences in 6 and 7), found ${columns.length}`,
      );
    }
    const scoreText = columns[SCORE_COLUMN].trim();
    const score = Number(scoreText);
    if (scoreText === '' || !Number.isFinite(score)) {
      throw new PackError(
        'bad-input',
        `${label}:${line}: column 5 should be the gold score, found ${JSON.stringify(columns[SCORE_COLUMN])}`,
      );
    }
    pairs.push({ line, score, sentence1: columns[FIRST_SENTENCE_COLUMN], sentence2: columns[SECOND_SENTENCE_COLUMN] });
  });
  if (pairs.length === 0) throw new PackError('bad-input', `${label} has no sentence pairs`);
  return pairs;
}

/** Reads and parses an STS-format file. */
export async function readStsFile(path: string): Promise<StsPair[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new PackError('missing-input', `cannot read STS file ${path}`);
  }
  return parseSts(text, path);
}
