import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PackError } from '../../src/errors.js';
import { pearson, ranks, spearman } from '../../src/eval/correlation.js';
import { parseSts, readStsFile } from '../../src/eval/sts.js';

describe('correlation', () => {
  it('computes Pearson r on hand-computed data', () => {
    // dx = [-1, 0, 1], dy = [-7/3, -1/3, 8/3]: r = 5 / sqrt(2 * 114 / 9)
    expect(pearson([1, 2, 3], [2, 4, 7])).toBeCloseTo(5 / Math.sqrt((2 * 114) / 9), 12);
    expect(pearson([1, 2, 3], [3, 2, 1])).toBeCloseTo(-1, 12);
  });

  it('computes Spearman rho with tied ranks averaged (scipy.stats.spearmanr)', () => {
    expect(Array.from(ranks([5, 6, 7, 8, 7]))).toEqual([1, 2, 3.5, 5, 3.5]);
    // ranks [1..5] vs [1, 2, 3.5, 5, 3.5]: r = 8 / sqrt(10 * 9.5) = 0.8207826816681233 (scipy gives the same)
    expect(spearman([1, 2, 3, 4, 5], [5, 6, 7, 8, 7])).toBeCloseTo(0.8207826816681233, 12);
    expect(spearman([1, 2, 3, 4], [10, 20, 40, 30])).toBeCloseTo(0.8, 12);
    expect(spearman([0.1, 0.5, 0.9], [1, 100, 1000])).toBe(1);
  });

  it('is NaN for a constant series', () => {
    expect(pearson([1, 1, 1], [1, 2, 3])).toBeNaN();
  });
});

describe('STS Benchmark files', () => {
  const line = (score: string, a: string, b: string, extra = '') =>
    `main-captions\tMSRvid\t2012test\t0001\t${score}\t${a}\t${b}${extra}`;

  it('reads score and sentences from columns 5-7, keeping quotes and ignoring extra columns', () => {
    const text = [line('5.000', 'A "quoted man.', 'A man.'), '', line('0.5', 'x', 'y', '\tsrc1\tsrc2'), ''].join('\n');
    expect(parseSts(text, 'dev.csv')).toEqual([
      { line: 1, score: 5, sentence1: 'A "quoted man.', sentence2: 'A man.' },
      { line: 3, score: 0.5, sentence1: 'x', sentence2: 'y' },
    ]);
  });

  it('names the malformed line', () => {
    const short = [line('1', 'a', 'b'), 'genre\tfile\t2012\t1\t2.0\tonly one sentence'].join('\n');
    expect(() => parseSts(short, 'dev.csv')).toThrow(/dev\.csv:2: expected at least 7 tab-separated columns/);
    const badScore = [line('1', 'a', 'b'), line('1', 'a', 'b'), line('high', 'a', 'b')].join('\n');
    expect(() => parseSts(badScore, 'dev.csv')).toThrow(/dev\.csv:3: column 5 should be the gold score, found "high"/);
  });

  it('refuses an empty file and a missing file', async () => {
    expect(() => parseSts('\n\n', 'empty.csv')).toThrow(/empty\.csv has no sentence pairs/);
    const dir = await mkdtemp(join(tmpdir(), 'sts-'));
    try {
      await writeFile(join(dir, 'empty.csv'), '');
      await expect(readStsFile(join(dir, 'empty.csv'))).rejects.toThrow(/has no sentence pairs/);
      const missing = await readStsFile(join(dir, 'nope.csv')).catch((e: unknown) => e);
      expect(missing).toBeInstanceOf(PackError);
      expect((missing as PackError).kind).toBe('missing-input');
      expect((missing as PackError).message).toContain('nope.csv');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
