import { readFile } from 'node:fs/promises';
import { PackError } from '../errors.js';

/** Reads a file as UTF-8 text (BOM dropped), with one clear error for a missing file or binary content. */
export async function readTextFile(path: string, what: string): Promise<string> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'EISDIR' ? 'it is a directory' : 'it cannot be read';
    throw new PackError('missing-input', `${what} ${path}: ${reason}`);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new PackError('bad-input', `${what} ${path} is not UTF-8 text`);
  }
}

/**
 * Reads a text corpus: plain text or one sentence per line. Each non-empty line becomes one entry (tokenization is
 * per word, so where a wrapped paragraph is cut does not change the counts).
 *
 * @example
 *   const texts = await readCorpusFile('support-tickets.txt');
 */
export async function readCorpusFile(path: string): Promise<string[]> {
  const text = await readTextFile(path, 'corpus file');
  return text
    .split(/\r\n|\r|\n/)
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
}
