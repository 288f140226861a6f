import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerDistillCommand } from '../../src/commands/distill.js';
import { registerEvalCommand } from '../../src/commands/eval.js';
import { bundleEmbedder, type SentenceEmbedder } from '../../src/eval/embedders.js';
import { evaluateRetrieval, readRetrievalFile, retrievalFromSts } from '../../src/eval/retrieval.js';
import { writeTinyTeacher } from './tiny-teacher.js';

/** An embedder with fixed vectors, so ranks are known by hand. */
function fixedEmbedder(vectors: Record<string, number[]>): SentenceEmbedder {
  return {
    label: 'fixed',
    embed: async (texts) => texts.map((text) => Float32Array.from(vectors[text])),
    close: async () => {},
  };
}

async function run(register: (program: Command) => void, args: string[]): Promise<string> {
  const program = new Command().exitOverride();
  program.configureOutput({ writeErr: () => {}, writeOut: () => {} });
  register(program);
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((line: string) => void lines.push(line));
  const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  try {
    await program.parseAsync(['node', 'edge-embed', ...args]);
  } finally {
    log.mockRestore();
    write.mockRestore();
  }
  return lines.join('\n');
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'eval-static-'));
  await mkdir(join(dir, 'teacher'));
  await writeTinyTeacher(join(dir, 'teacher'));
  await run(registerDistillCommand, ['distill', join(dir, 'teacher'), '--out', join(dir, 'static'), '--no-pca']);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('retrieval evaluation', () => {
  it('gives recall@k and MRR from the ranks (known answer)', async () => {
    const embedder = fixedEmbedder({
      A: [1, 0],
      B: [0, 1],
      C: [0.7, 0.7],
      q1: [1, 0.1],
      q2: [0, 1],
    });
    const set = {
      documents: new Map([
        ['a', 'A'],
        ['b', 'B'],
        ['c', 'C'],
      ]),
      queries: [
        { text: 'q1', relevant: ['b'] }, // ranks A, C, B: rank 3
        { text: 'q2', relevant: ['b'] }, // rank 1
      ],
    };
    const result = await evaluateRetrieval(embedder, set, [1, 2, 3]);
    expect(result.recall).toEqual({ '1': 0.5, '2': 0.5, '3': 1 });
    expect(result.mrr).toBeCloseTo((1 / 3 + 1) / 2, 12);
  });

  it('in two stages, moves a relevant document up only when it is inside the re-scored top k', async () => {
    const first = fixedEmbedder({ A: [1, 0], B: [0, 1], C: [0.7, 0.7], q: [1, 0.1] }); // ranks A, C, B
    const second = fixedEmbedder({ A: [1, 0], B: [0, 1], C: [0.7, 0.7], q: [0, 1] }); // ranks B, C, A
    const set = {
      documents: new Map([
        ['a', 'A'],
        ['b', 'B'],
        ['c', 'C'],
      ]),
      queries: [{ text: 'q', relevant: ['b'] }],
    };
    const wide = await evaluateRetrieval(first, set, [1], { embedder: second, topK: 3 });
    expect(wide.mrr).toBe(1);
    const narrow = await evaluateRetrieval(first, set, [1], { embedder: second, topK: 2 });
    expect(narrow.mrr).toBeCloseTo(1 / 3, 12);
    expect(narrow.rerank).toEqual({ model: 'fixed', topK: 2 });
  });

  it('makes a set from STS pairs with gold >= 4', () => {
    const pair = (line: number, score: number, sentence1: string, sentence2: string) => ({
      line,
      score,
      sentence1,
      sentence2,
    });
    const set = retrievalFromSts([pair(1, 4.5, 'q', 'x'), pair(2, 1, 'r', 'y'), pair(3, 4, 's', 'x')]);
    expect([...set.documents.values()]).toEqual(['x', 'y']);
    expect(set.queries).toEqual([
      { text: 'q', relevant: ['d0'] },
      { text: 's', relevant: ['d0'] },
    ]);
  });

  it('refuses a relevance file naming an unknown document, or of the wrong shape, in one line', async () => {
    await writeFile(
      join(dir, 'bad-id.json'),
      JSON.stringify({ documents: { a: 'x' }, queries: [{ text: 'q', relevant: ['z'] }] }),
    );
    await expect(readRetrievalFile(join(dir, 'bad-id.json'))).rejects.toThrow(/queries\.0: no document has id "z"/);
    await writeFile(join(dir, 'bad-shape.json'), JSON.stringify({ queries: [] }));
    await expect(readRetrievalFile(join(dir, 'bad-shape.json'))).rejects.toThrow(
      /bad-shape\.json: documents: Required/,
    );
  });
});

describe('edge-embed eval on a static bundle', () => {
  it('scores STS and retrieval with --json', async () => {
    await writeFile(
      join(dir, 'tiny.tsv'),
      ['the cat sat\ta cat sat', 'a red truck\tthe car drove fast', 'the dog\tthe red mat']
        .map((pair, i) => `g\tf\t2012\t${i}\t${[4.8, 3.5, 0.5][i]}\t${pair}`)
        .join('\n'),
    );
    await writeFile(
      join(dir, 'relevance.json'),
      JSON.stringify({
        documents: { cat: 'the cat sat on the mat', car: 'a red car drove fast', dog: 'a dog' },
        queries: [
          { text: 'cat sat', relevant: ['cat'] },
          { text: 'a red car drove fast', relevant: ['car'] },
        ],
      }),
    );
    const out = JSON.parse(
      await run(registerEvalCommand, [
        'eval',
        '--bundle',
        join(dir, 'static'),
        '--sts',
        join(dir, 'tiny.tsv'),
        '--retrieval',
        join(dir, 'relevance.json'),
        '--json',
      ]),
    );
    expect(out.model).toContain('static bundle');
    expect(out.pairs).toBe(3);
    const embedder = await bundleEmbedder(join(dir, 'static'));
    const direct = await evaluateRetrieval(embedder, await readRetrievalFile(join(dir, 'relevance.json')));
    expect(out.retrieval).toMatchObject({ queries: 2, documents: 3, mrr: direct.mrr, recall: direct.recall });
    // The second query is its document's own text, so it is found first.
    expect(direct.mrr).toBeGreaterThanOrEqual(0.5 + 1 / 6);
  });

  it('needs a task', async () => {
    await expect(run(registerEvalCommand, ['eval', '--bundle', join(dir, 'static')])).rejects.toThrow(
      /give --sts <file>, --retrieval <file> or --retrieval-from-sts <file>/,
    );
  });
});
