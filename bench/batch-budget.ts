/**
 * `npm run bench:batch-budget`: how MAX_BATCH_TOKENS (padded tokens per session run) changes the worker's inference
 * time per text, on its own pipeline code (bundle-runtime) in Node with the worker's onnxruntime-web WASM build,
 * one thread. Same texts for every budget: bench:compare's mixed workload (queries + 50-200-token passages), calls of 32.
 *
 *   npm run bench:batch-budget -- [--bundle bundles/minilm-fixture] [--texts 128] [--budgets 128,256,512,1024,2048]
 *                                 [--session-options '{"enableCpuMemArena":false}']
 *
 * Each budget runs in a fresh process (ORT's WASM heap only grows, and a grown heap would carry over).
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { profilePipeline } from './compare/profile.js';
import { makeWorkload } from './compare/texts.js';

const root = join(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    bundle: { type: 'string', default: 'bundles/minilm-fixture' },
    texts: { type: 'string', default: '128' },
    budgets: { type: 'string', default: '128,256,512,1024,2048' },
    /** onnxruntime session options as JSON, added to the worker's (to test e.g. enableCpuMemArena or enableMemPattern). */
    'session-options': { type: 'string', default: '{}' },
    /** Internal: measure one budget in this process and print one JSON line. */
    one: { type: 'string' },
  },
});
const texts = Number(values.texts);
const BATCH = 32;

if (values.one !== undefined) {
  const workload = makeWorkload(texts, 11);
  const batches = Array.from({ length: Math.ceil(texts / BATCH) }, (_, i) =>
    workload.texts.slice(i * BATCH, (i + 1) * BATCH),
  );
  const budget = Number(values.one);
  const sessionOptions = JSON.parse(values['session-options']) as Parameters<typeof profilePipeline>[5];
  const profile = await profilePipeline(
    join(root, values.bundle),
    batches,
    [],
    batches[0],
    { maxBatchSize: BATCH, maxBatchTokens: budget },
    sessionOptions,
  );
  console.log(
    JSON.stringify({
      budget,
      texts: profile.texts,
      tokens: profile.tokens,
      msPerText: profile.inferenceMs / profile.texts,
    }),
  );
} else {
  const tsx = createRequire(import.meta.url).resolve('tsx/cli');
  const budgets = values.budgets.split(',').map(Number);
  if (budgets.some((budget) => !Number.isInteger(budget) || budget < 1))
    throw new Error(`--budgets takes positive integers, got ${values.budgets}`);
  console.log(
    `${values.bundle}: ${texts} texts in calls of ${BATCH}; inference ms per text (tokenize excluded), one process per budget; session options ${values['session-options']}`,
  );
  console.log('| MAX_BATCH_TOKENS | ms per text | texts/s |');
  console.log('|---:|---:|---:|');
  for (const budget of budgets) {
    const args = [
      tsx,
      import.meta.filename,
      '--bundle',
      values.bundle,
      '--texts',
      String(texts),
      '--session-options',
      values['session-options'],
      '--one',
      String(budget),
    ];
    const run = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8' });
    const line = run.stdout.trim().split('\n').pop() ?? '';
    if (run.status !== 0 || !line.startsWith('{'))
      throw new Error(`budget ${budget} failed:\n${run.stderr.slice(-2000)}`);
    const result = JSON.parse(line) as { msPerText: number };
    console.log(`| ${budget} | ${result.msPerText.toFixed(1)} | ${(1000 / result.msPerText).toFixed(1)} |`);
  }
}
