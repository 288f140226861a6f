import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { isStaticManifest, parseAnyBundleManifest } from '../../../bundle-format/manifest.js';
import { decodeStaticTable } from '../../../bundle-format/static-table.js';
import { BundleTokenizer } from '../../../bundle-runtime/tokenizer.js';
import { registerDistillCommand } from '../../src/commands/distill.js';
import { type DistillOptions, distillInMemory } from '../../src/distill/distill.js';
import { bundleEmbedder } from '../../src/eval/embedders.js';
import { silentReporter } from '../../src/report/reporter.js';
import { DIMS, PIECES, writeTinyTeacher } from './tiny-teacher.js';

let dir: string;
let teacherDir: string;
const options = (extra: Partial<DistillOptions> = {}): DistillOptions => ({
  teacherDir,
  outDir: join(dir, 'unused'),
  pca: false,
  weighting: 'sif',
  corpus: [],
  ...extra,
});

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'distill-'));
  teacherDir = join(dir, 'teacher');
  await import('node:fs/promises').then((fs) => fs.mkdir(teacherDir));
  await writeTinyTeacher(teacherDir);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** The maths written out plainly: row = SIF weight x the teacher's vector of the piece alone; special rows zero. */
function referenceRow(id: number): number[] {
  if (id === 0) return new Array(DIMS).fill(0);
  const [, score, vector] = PIECES[id];
  const weight = 1e-3 / (1e-3 + Math.exp(score));
  return vector.map((value) => value * weight);
}

function referenceSentence(ids: number[], row: (id: number) => ArrayLike<number>): number[] {
  const sum = new Array(DIMS).fill(0);
  for (const id of ids) for (let d = 0; d < DIMS; d++) sum[d] += row(id)[d];
  const norm = Math.hypot(...sum);
  return sum.map((value) => value / norm);
}

describe('distill on a tiny teacher', () => {
  it('makes rows equal to SIF-weighted teacher piece vectors, up to int8 rounding', async () => {
    const { table, manifest } = await distillInMemory(options(), silentReporter);
    expect(manifest.kind).toBe('static');
    expect(manifest.static.rows).toBe(PIECES.length);
    expect(manifest.dimensions).toBe(DIMS);
    for (let id = 0; id < PIECES.length; id++) {
      const want = referenceRow(id);
      for (let d = 0; d < DIMS; d++) {
        const got = table.values[id * DIMS + d] * table.scales[id];
        // Half a quantization step, plus float32 rounding of the teacher's vector and the scale.
        expect(Math.abs(got - want[d])).toBeLessThanOrEqual(table.scales[id] * 0.501 + 1e-7);
      }
    }
    expect(table.scales[0]).toBe(0);
  });

  it('serves sentence vectors equal to the normalised sum of the reference rows', async () => {
    const out = join(dir, 'served');
    await runDistill([teacherDir, '--out', out, '--no-pca']);
    const embedder = await bundleEmbedder(out);
    const texts = ['the cat sat', 'a red truck drove fast', 'dog mat'];
    const vectors = await embedder.embed(texts);
    const tokenizer = new BundleTokenizer(JSON.parse(await readFile(join(out, 'tokenizer.json'), 'utf8')), {});
    texts.forEach((text, i) => {
      const ids = tokenizer.encode(text, 16, 'right').ids;
      const want = referenceSentence(ids, referenceRow);
      const cosine = want.reduce((sum, value, d) => sum + value * vectors[i][d], 0);
      expect(cosine).toBeGreaterThan(0.999);
    });
  });

  it('is deterministic: the same bytes twice, with and without PCA', async () => {
    for (const extra of [{}, { pca: true, dims: 3 }]) {
      const first = await distillInMemory(options(extra), silentReporter);
      const second = await distillInMemory(options(extra), silentReporter);
      expect(Buffer.from(second.embeddings).equals(Buffer.from(first.embeddings))).toBe(true);
      expect(Buffer.from(second.tokenizer).equals(Buffer.from(first.tokenizer))).toBe(true);
      expect(JSON.stringify(second.manifest)).toBe(JSON.stringify(first.manifest));
    }
  });

  it('projects to --dims with PCA and records it', async () => {
    const { manifest, table } = await distillInMemory(options({ pca: true, dims: 3 }), silentReporter);
    expect(manifest.dimensions).toBe(3);
    expect(manifest.static.pcaDimensions).toBe(3);
    expect(table.values.length).toBe(PIECES.length * 3);
  });

  it('prunes under --max-vocab and keeps each kept piece its row', async () => {
    const full = await distillInMemory(options(), silentReporter);
    const pruned = await distillInMemory(options({ maxVocab: 6 }), silentReporter);
    expect(pruned.manifest.static.rows).toBeLessThan(PIECES.length);
    const vocab = (bytes: Uint8Array) =>
      (JSON.parse(new TextDecoder().decode(bytes)).model.vocab as [string, number][]).map(([piece]) => piece);
    const fullPieces = vocab(full.tokenizer);
    vocab(pruned.tokenizer).forEach((piece, newId) => {
      const oldId = fullPieces.indexOf(piece);
      const row = (t: typeof full.table, id: number) => Array.from(t.values.subarray(id * DIMS, (id + 1) * DIMS));
      expect(row(pruned.table, newId)).toEqual(row(full.table, oldId));
    });
  });

  it('takes the frequencies from --corpus token counts when given', async () => {
    const corpus = join(dir, 'corpus.txt');
    await writeFile(corpus, 'the cat\nthe dog\nthe car\n');
    const { table, manifest } = await distillInMemory(options({ corpus: [corpus] }), silentReporter);
    expect(manifest.static.weighting.source).toContain('corpus.txt');
    // p(the) = 3/6, p(cat) = 1/6, p(truck) = 0 (never seen: weight 1).
    const weight = (p: number) => 1e-3 / (1e-3 + p);
    for (const [id, p] of [
      [1, 3 / 6],
      [2, 1 / 6],
      [5, 0],
    ]) {
      const want = PIECES[id][2].map((value) => value * weight(p));
      const got = Array.from(table.values.subarray(id * DIMS, (id + 1) * DIMS), (v) => v * table.scales[id]);
      got.forEach((value, d) => {
        expect(Math.abs(value - want[d])).toBeLessThanOrEqual(table.scales[id] * 0.501 + 1e-7);
      });
    }
  });

  it('weights frequent pieces less (SIF) unless --weighting none', async () => {
    const sif = await distillInMemory(options(), silentReporter);
    const none = await distillInMemory(options({ weighting: 'none' }), silentReporter);
    const norm = (t: typeof sif.table, id: number) =>
      Math.hypot(...Array.from(t.values.subarray(id * DIMS, (id + 1) * DIMS), (v) => v * t.scales[id]));
    const the = 1;
    const cat = 2;
    expect(norm(sif.table, the) / norm(sif.table, cat)).toBeLessThan(
      0.1 * (norm(none.table, the) / norm(none.table, cat)),
    );
    expect(none.manifest.static.weighting.scheme).toBe('none');
  });
});

async function runDistill(args: string[]): Promise<void> {
  const program = new Command().exitOverride();
  program.configureOutput({ writeErr: () => {}, writeOut: () => {} });
  registerDistillCommand(program);
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  try {
    await program.parseAsync(['node', 'edge-embed', 'distill', ...args]);
  } finally {
    log.mockRestore();
    write.mockRestore();
  }
}

describe('edge-embed distill refuses bad input with one line and writes nothing', () => {
  it.each([
    ['a missing teacher', () => [join(dir, 'nope'), '--out', join(dir, 'x1')], /teacher bundle .* does not exist/],
    ['--dims over the teacher', () => [teacherDir, '--out', join(dir, 'x2'), '--dims', '99'], /--dims 99 is more/],
    ['--dims without PCA', () => [teacherDir, '--out', join(dir, 'x3'), '--no-pca', '--dims', '3'], /--dims needs PCA/],
    ['a missing STS file', () => [teacherDir, '--out', join(dir, 'x4'), '--sts', join(dir, 'none.csv')], /none\.csv/],
    ['a zero --dims', () => [teacherDir, '--out', join(dir, 'x5'), '--dims', '0'], /--dims must be a positive integer/],
  ])('%s', async (_, args, message) => {
    const argv = args();
    const error = await runDistill(argv).then(
      () => undefined,
      (err: Error) => err,
    );
    expect(error?.message).toMatch(message);
    expect(error?.message).not.toContain('\n');
    expect(existsSync(argv[2])).toBe(false);
  });

  it('a static bundle as the teacher', async () => {
    const out = join(dir, 'static-teacher');
    await runDistill([teacherDir, '--out', out, '--no-pca']);
    await expect(runDistill([out, '--out', join(dir, 'x6')])).rejects.toThrow(/is a static bundle/);
    expect(existsSync(join(dir, 'x6'))).toBe(false);
  });

  it('a corrupt teacher manifest', async () => {
    const bad = join(dir, 'bad-teacher');
    await import('node:fs/promises').then((fs) => fs.cp(teacherDir, bad, { recursive: true }));
    await writeFile(join(bad, 'manifest.json'), '{"formatVersion": 1}');
    await expect(runDistill([bad, '--out', join(dir, 'x7')])).rejects.toThrow(/invalid bundle manifest/);
    expect(existsSync(join(dir, 'x7'))).toBe(false);
  });
});

describe('the static bundle on disk', () => {
  it('has a manifest that parses, hashes its own fields and matches its table', async () => {
    const out = join(dir, 'on-disk');
    await runDistill([teacherDir, '--out', out, '--dims', '4']);
    const manifest = parseAnyBundleManifest(JSON.parse(await readFile(join(out, 'manifest.json'), 'utf8')));
    if (!isStaticManifest(manifest)) throw new Error('expected a static manifest');
    const bytes = await readFile(join(out, 'embeddings.bin'));
    expect(bytes.length).toBe(manifest.files['embeddings.bin'].bytes);
    expect(decodeStaticTable(bytes, manifest.static.rows, manifest.dimensions).dimensions).toBe(4);
    expect(existsSync(join(out, 'model.onnx'))).toBe(false);
  });
});
