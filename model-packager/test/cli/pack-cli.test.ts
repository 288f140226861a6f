import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBundleManifest } from '../../../bundle-format/manifest.js';
import { FIXTURE_PRESETS, writeBertFixture } from '../../src/fixtures/bert-fixture.js';

const run = promisify(execFile);
const cli = join(import.meta.dirname, '../../../bin/edge-embed.mjs');

async function edgeEmbed(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [cli, ...args], { maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

let work: string;
let modelDir: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'edge-embed-cli-'));
  modelDir = join(work, 'tiny');
  await writeBertFixture(modelDir, FIXTURE_PRESETS.tiny);
  await writeFile(
    join(work, 'corpus.txt'),
    'the cat sat on the mat\na dog runs in the park\nembeddings at the edge are cheap\n',
  );
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** Exit codes (README, model-packager/src/cli.ts): 1 for a failure the packager reports (PackError), 2 for a usage error. */
const EXIT_REFUSED = 1;
const EXIT_USAGE = 2;

/** A refused pack prints one error line, exits 1 and leaves nothing at --out. */
async function expectRefusal(args: string[], out: string, pattern: RegExp) {
  const result = await edgeEmbed([...args, '--out', out]);
  expect(result.code, result.stderr).toBe(EXIT_REFUSED);
  const errorLines = result.stderr
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('edge-embed: error:'));
  expect(errorLines).toHaveLength(1);
  expect(errorLines[0]).toMatch(pattern);
  expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
  expect(existsSync(out)).toBe(false);
  return result;
}

describe('edge-embed pack (end to end)', () => {
  it('packs a model folder into a bundle with a valid manifest and machine-readable output', async () => {
    const out = join(work, 'bundle');
    const result = await edgeEmbed([
      'pack',
      modelDir,
      '--out',
      out,
      '--corpus',
      join(work, 'corpus.txt'),
      '--max-vocab',
      '3000',
      '--json',
    ]);
    expect(result.stderr).not.toMatch(/edge-embed: error/);
    expect(result.code).toBe(0);
    expect((await readdir(out)).sort()).toEqual([
      'manifest.json',
      'model.onnx',
      'plan.bin',
      'plan.json',
      'tokenizer.json',
    ]);
    const manifest = parseBundleManifest(JSON.parse(await readFile(join(out, 'manifest.json'), 'utf8')));
    expect(manifest.files['plan.bin']?.bytes).toBe((await readFile(join(out, 'plan.bin'))).length);
    expect(manifest.vocabulary.before).toBe(30522);
    // --max-vocab 3000 holds: the required tokens (specials, single characters and their ## forms) fit under it here.
    expect(manifest.vocabulary.after).toBeLessThanOrEqual(3000);
    expect(manifest.vocabulary.after).toBeLessThan(30522);
    expect(manifest.dimensions).toBe(FIXTURE_PRESETS.tiny.hidden);
    expect(manifest.files['model.onnx'].bytes).toBe((await readFile(join(out, 'model.onnx'))).length);
    expect(manifest.fidelity!.meanCosine).toBeGreaterThanOrEqual(0.99);
    const printed = JSON.parse(result.stdout);
    expect(printed.manifest.contentHash).toBe(manifest.contentHash);
    expect(printed.prune.required).toBeLessThanOrEqual(3000);
    expect(printed.prune.after).toBe(manifest.vocabulary.after);
    expect(result.stderr).toMatch(/✓ prune vocabulary/);
  });

  it('prints usage with --help and exits 0', async () => {
    const result = await edgeEmbed(['pack', '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/--max-vocab/);
    expect(result.stdout).toMatch(/--min-cosine/);
  });

  it('refuses a missing model folder', async () => {
    await expectRefusal(['pack', join(work, 'does-not-exist')], join(work, 'out-missing'), /does not exist/);
  });

  it('refuses a corrupt ONNX file', async () => {
    const dir = join(work, 'corrupt');
    await writeBertFixture(dir, FIXTURE_PRESETS.tiny);
    await writeFile(join(dir, 'model.onnx'), Buffer.from('this is not protobuf at all, just text'));
    await expectRefusal(['pack', dir], join(work, 'out-corrupt'), /not a valid ONNX file/);
  });

  it('refuses a tokenizer whose vocabulary does not match the embedding table', async () => {
    const dir = join(work, 'mismatch');
    await writeBertFixture(dir, FIXTURE_PRESETS.tiny);
    const tokenizer = JSON.parse(await readFile(join(dir, 'tokenizer.json'), 'utf8'));
    for (let i = 0; i < 100; i++) tokenizer.model.vocab[`extra_token_${i}`] = 30522 + i;
    await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(tokenizer));
    await expectRefusal(
      ['pack', dir],
      join(work, 'out-mismatch'),
      /30622 tokens but the word-embedding table .* 30522 rows/,
    );
  });

  it('refuses a bundle over the byte budget with a breakdown', async () => {
    const out = join(work, 'out-budget');
    const result = await edgeEmbed(['pack', modelDir, '--out', out, '--max-bytes', '1000']);
    expect(result.code, result.stderr).toBe(EXIT_REFUSED);
    expect(result.stderr).toMatch(/over the --max-bytes budget/);
    expect(result.stderr).toMatch(/embeddings .* MiB/);
    expect(result.stderr).toMatch(/layers .* MiB/);
    expect(existsSync(out)).toBe(false);
  });

  it('refuses a fidelity below --min-cosine', async () => {
    const out = join(work, 'out-fidelity');
    const result = await edgeEmbed(['pack', modelDir, '--out', out, '--min-cosine', '1']);
    expect(result.code, result.stderr).toBe(EXIT_REFUSED);
    expect(result.stderr).toMatch(/below --min-cosine 1/);
    expect(existsSync(out)).toBe(false);
  });

  it('refuses a bundle whose WASM heap after session creation is over --max-heap-mb, with a breakdown', async () => {
    const out = join(work, 'out-heap');
    // The tiny fixture's session needs well over 1 MiB of WASM heap (ORT's heap starts at 16 MiB); 25 MiB of bytes is plenty.
    const result = await expectRefusal(
      ['pack', modelDir, '--max-heap-mb', '1'],
      out,
      /^edge-embed: error: WASM heap after session creation is \d+\.\d\d MiB, over 1\.00 MiB$/,
    );
    expect(result.stderr).toMatch(/^ {2}WASM heap after session creation \d+\.\d\d MiB \(limit 1\.00 MiB\)$/m);
    expect(result.stderr).not.toMatch(/over the --max-bytes budget/);
  });

  it('rejects a bad option value with a usage error (exit 2)', async () => {
    const out = join(work, 'x');
    const result = await edgeEmbed(['pack', modelDir, '--out', out, '--max-vocab', 'lots']);
    expect(result.code, result.stderr).toBe(EXIT_USAGE);
    expect(result.stderr).toMatch(/--max-vocab must be a positive integer/);
    expect(existsSync(out)).toBe(false);
  });

  it("writes the model folder's prompts to the manifest, with --prompt adding or replacing one", async () => {
    const withPrompts = join(work, 'with-prompts');
    await writeBertFixture(withPrompts, FIXTURE_PRESETS.tiny);
    await writeFile(
      join(withPrompts, 'config_sentence_transformers.json'),
      JSON.stringify({ prompts: { query: 'query: ', passage: 'passage: ' }, default_prompt_name: 'passage' }),
    );
    const out = join(work, 'prompt-bundle');
    const args = ['pack', withPrompts, '--out', out, '--prompt', 'query=Represent: ', '--prompt', 'title=a=b '];
    const result = await edgeEmbed([...args, '--quantization', 'none']);
    expect(result.code, result.stderr).toBe(0);
    const manifest = parseBundleManifest(JSON.parse(await readFile(join(out, 'manifest.json'), 'utf8')));
    expect(manifest.prompts).toEqual({ query: 'Represent: ', passage: 'passage: ', title: 'a=b ' });
    expect(manifest.defaultPromptName).toBe('passage');

    const bad = await edgeEmbed(['pack', withPrompts, '--out', join(work, 'z'), '--prompt', 'query']);
    expect(bad.code, bad.stderr).toBe(EXIT_USAGE);
    expect(bad.stderr).toMatch(/--prompt must be name=text/);
  });

  it('rejects a missing --out and an unknown option with a usage error (exit 2)', async () => {
    const missingOut = await edgeEmbed(['pack', modelDir]);
    expect(missingOut.code, missingOut.stderr).toBe(EXIT_USAGE);
    expect(missingOut.stderr).toMatch(/required option '-o, --out <bundle-dir>' not specified/);
    const unknown = await edgeEmbed(['pack', modelDir, '--out', join(work, 'y'), '--max-vocabulary', '10']);
    expect(unknown.code, unknown.stderr).toBe(EXIT_USAGE);
    expect(unknown.stderr).toMatch(/unknown option '--max-vocabulary'/);
  });
});
