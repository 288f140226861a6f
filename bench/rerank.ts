/**
 * `npm run bench:rerank`: re-ranking 20 documents of ~60 tokens with a MiniLM-L6-sized cross-encoder (the
 * `cross-encoder` fixture preset: seeded random weights, calibrated head; packed int8, vocabulary whole), one request
 * at a time:
 * - the worker in workerd (wrangler's build served by Miniflare, bench/compare/workerd.ts), POST /rerank with a new
 *   query each time (every pair new: 20 pairs of inference), then the same request again (every pair cached), twice:
 *   ENGINE=ort (onnxruntime-web) and ENGINE=plan (the plan engine on the bundle's plan, relaxed-SIMD kernels), each
 *   worker checked by /info to run the reranker on that engine;
 * - onnxruntime-node (native, one thread) on the same packed model.onnx, through bundle-runtime's CrossEncoder (same
 *   tokenization and micro-batches as the worker);
 * - in the same Node process, through the same CrossEncoder: onnxruntime-web (the worker's ORT build) and the plan
 *   engine (bundle-runtime/plan-engine.ts, engine/'s SIMD128 kernels) on the bundle's encoder plan. The plan engine row
 *   runs only when the engine reads token types: it must score probe pairs as the reference executor does with their
 *   types, else the output says why the row was skipped (an engine that added the type-0 row to every token would give
 *   wrong scores, not slow ones).
 * Prints p50/p90 of each and the ratios the issue's goals name; the machine's load average goes with them.
 *
 *   npm run bench:rerank -- [--requests 30] [--documents 20] [--words 58] [--node-only]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { parseEncoderPlan } from '../bundle-format/encoder-plan.js';
import { type CrossEncoderBundleManifest, parseCrossEncoderManifest } from '../bundle-format/manifest.js';
import { CrossEncoder } from '../bundle-runtime/cross-encoder.js';
import { Embedder } from '../bundle-runtime/embedder.js';
import type { InferenceEngine } from '../bundle-runtime/engine.js';
import { createOrtEngine, type OrtRuntime } from '../bundle-runtime/ort-engine.js';
import { createPlanEngine } from '../bundle-runtime/plan-engine.js';
import { createPlanReferenceEngine } from '../bundle-runtime/plan-reference.js';
import { BundleTokenizer, type TokenizedPair } from '../bundle-runtime/tokenizer.js';
import { buildEngine } from '../engine/build.js';
import { bertBaseUncasedVocab } from '../model-packager/src/fixtures/bert-vocab.js';
import { mulberry32 } from '../model-packager/src/fixtures/random.js';
import { nodeOrt } from '../model-packager/src/runtime/ort-node.js';
import { percentile } from './compare/percentile.js';
import { startWorker } from './compare/workerd.js';

const root = join(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '30' },
    documents: { type: 'string', default: '20' },
    words: { type: 'string', default: '58' },
    'node-only': { type: 'boolean', default: false },
  },
});
const REQUESTS = Number(values.requests);
const DOCUMENTS = Number(values.documents);
const WORDS = Number(values.words);
const WARMUP = 3;
const fixture = join(root, '.fixtures/cross-encoder-minilm');
const bundle = join(root, 'bundles/cross-encoder-minilm');

function edgeEmbed(args: string[]): void {
  const run = spawnSync(process.execPath, [join(root, 'bin/edge-embed.mjs'), ...args], { stdio: 'inherit' });
  if (run.status !== 0) throw new Error(`edge-embed ${args[0]} exited with ${run.status}`);
}

/** The fixture and its bundle, made once (about a minute) and reused by later runs. */
function ensureBundle(): void {
  if (!existsSync(join(fixture, 'model.onnx'))) edgeEmbed(['fixture', fixture, '--preset', 'cross-encoder']);
  if (!existsSync(join(bundle, 'manifest.json'))) {
    edgeEmbed(['pack', fixture, '--out', bundle, '--name', 'cross-encoder-minilm']);
  }
}

/** Whole-word tokens of the vocabulary, so a document of n words is n tokens. */
function texts(seed: number, count: number, words: number): string[] {
  const vocabulary = bertBaseUncasedVocab().filter((word) => /^[a-z]{3,}$/.test(word));
  const next = mulberry32(seed);
  return Array.from({ length: count }, () =>
    Array.from({ length: words }, () => vocabulary[Math.floor(next() * vocabulary.length)]).join(' '),
  );
}

const summary = (samples: number[]) => ({ p50: percentile(samples, 50), p90: percentile(samples, 90) });

/** The worker entry and its wrangler config, written to a temporary folder (the bundle exists only after this script). */
function writeEntry(dir: string): string {
  const at = (path: string) => JSON.stringify(join(root, path));
  writeFileSync(
    join(dir, 'entry.ts'),
    `/// <reference path=${at('worker/src/modules.d.ts')} />
/// <reference path=${at('worker/src/bundle/bin-module.d.ts')} />
import manifest from ${at('bundles/cross-encoder-minilm/manifest.json')};
import model from ${at('bundles/cross-encoder-minilm/model.onnx')};
import planWeights from ${at('bundles/cross-encoder-minilm/plan.bin')};
import plan from ${at('bundles/cross-encoder-minilm/plan.json')};
import tokenizer from ${at('bundles/cross-encoder-minilm/tokenizer.json')};
import { withCacheSwitch } from ${at('bench/compare/cache-switch.ts')};
import { defaultBundle } from ${at('worker/src/bundle/default-bundle.ts')};
import { createApp } from ${at('worker/src/http/app.ts')};
import { workerdRuntime } from ${at('worker/src/runtime/workerd.ts')};
const reranker = {
  manifest: async () => manifest,
  tokenizer: async () => tokenizer,
  model: async () => new Uint8Array(model),
  planFiles: async () => ({ plan, weights: async () => new Uint8Array(planWeights) }),
};
export default withCacheSwitch(createApp({ bundle: { ...defaultBundle, reranker }, ...workerdRuntime }));
`,
  );
  const config = readFileSync(join(root, 'bench/compare/wrangler.minilm.toml'), 'utf8')
    .replace(/^name = .*$/m, 'name = "edge-embed-bench-rerank"')
    .replace(/^main = .*$/m, 'main = "entry.ts"');
  writeFileSync(join(dir, 'wrangler.toml'), config);
  return join(dir, 'wrangler.toml');
}

/** The worker under ENGINE=engine: /info must say the reranker runs on that engine, then new and repeated pairs. */
async function workerd(queries: string[], documents: string[], engine: 'ort' | 'plan') {
  const dir = mkdtempSync(join(tmpdir(), 'edge-embed-bench-rerank-'));
  const worker = await startWorker({
    config: writeEntry(dir),
    persistTo: join(dir, 'state'),
    vars: { ENGINE: engine },
  });
  const post = async (query: string) => {
    const started = performance.now();
    const response = await fetch(`${worker.url}/rerank`, {
      method: 'POST',
      // A fresh connection per request: Miniflare dropped a POST on a reused keep-alive connection mid-run.
      headers: { 'content-type': 'application/json', connection: 'close' },
      body: JSON.stringify({ query, texts: documents, truncate: true }),
    }).catch((error: Error) => {
      throw new Error(`POST /rerank failed (${error.message}); the worker said:\n${worker.output().slice(-3000)}`);
    });
    const body = await response.text();
    if (response.status !== 200) throw new Error(`POST /rerank: ${response.status} ${body}`);
    return { ms: performance.now() - started, misses: Number(response.headers.get('x-cache-misses')) };
  };
  const rerankerEngine = async () => {
    const info = (await (await fetch(`${worker.url}/info`)).json()) as {
      models: Array<{ kind: string; engine: string }>;
    };
    return info.models.find((model) => model.kind === 'cross-encoder')?.engine;
  };
  try {
    for (let i = 0; i < WARMUP; i++) await post(`warm-up query ${i}`);
    const running = await rerankerEngine();
    if (running !== engine) throw new Error(`ENGINE=${engine}, but /info says the reranker runs on ${running}`);
    const fresh: number[] = [];
    for (const query of queries) {
      const { ms, misses } = await post(query);
      if (misses !== documents.length) throw new Error(`expected ${documents.length} new pairs, got ${misses} misses`);
      fresh.push(ms);
    }
    const repeated: number[] = [];
    for (const query of queries) {
      const { ms, misses } = await post(query);
      if (misses !== 0) throw new Error(`expected every pair cached, got ${misses} misses`);
      repeated.push(ms);
    }
    return { fresh: summary(fresh), repeated: summary(repeated) };
  } finally {
    await worker.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** onnxruntime-node as bundle-runtime's OrtRuntime: native kernels, one thread. */
function nativeOrt(): OrtRuntime {
  const require = createRequire(import.meta.url);
  const ort = require('onnxruntime-node') as typeof import('onnxruntime-node');
  return {
    Tensor: ort.Tensor,
    createSession: (bytes: Uint8Array) =>
      ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 }),
  } as unknown as OrtRuntime;
}

const read = (file: string) => readFileSync(join(bundle, file));

/** One engine behind bundle-runtime's CrossEncoder, re-ranking the documents for each query in turn. */
async function timeEngine(
  manifest: CrossEncoderBundleManifest,
  engine: InferenceEngine,
  queries: string[],
  documents: string[],
) {
  const tokenizer = new BundleTokenizer(JSON.parse(read('tokenizer.json').toString('utf8')), {});
  const encoder = new CrossEncoder(new Embedder(engine), tokenizer, {
    maxTokens: manifest.maxTokens,
    activation: manifest.crossEncoder.activation,
  });
  try {
    for (let i = 0; i < WARMUP; i++) await encoder.score(`warm-up query ${i}`, documents);
    const samples: number[] = [];
    for (const query of queries) {
      const started = performance.now();
      await encoder.score(query, documents);
      samples.push(performance.now() - started);
    }
    return summary(samples);
  } finally {
    await encoder.release();
  }
}

/**
 * The plan engine on the bundle's encoder plan, or why it cannot run here: no plan in the bundle, or an engine that
 * refuses or ignores token types. Probe pairs tell: their logits from the engine must be nearer the reference
 * executor's with the pairs' token types than without (int8 rounding makes single logits differ a little, so a median
 * over pairs decides).
 */
async function planEngine(
  manifest: CrossEncoderBundleManifest,
  probes: TokenizedPair[],
): Promise<InferenceEngine | string> {
  if (!manifest.files['plan.json']) {
    return 'the bundle has no encoder plan (the pack report says why; rm -rf bundles/cross-encoder-minilm to repack)';
  }
  const weights = new Uint8Array(read('plan.bin'));
  const plan = parseEncoderPlan(JSON.parse(read('plan.json').toString('utf8')), weights.length);
  const kernels = new WebAssembly.Module(readFileSync((await buildEngine()).simd128));
  const engine = await createPlanEngine(plan, weights, kernels);
  const ids = probes.map((pair) => pair.ids);
  const types = probes.map((pair) => pair.typeIds);
  const reference = createPlanReferenceEngine(plan, weights);
  let got: Float32Array[];
  try {
    got = await engine.run(ids, types);
  } catch (error) {
    await engine.release();
    return `bundle-runtime/plan-engine.ts does not run token types yet (${(error as Error).message})`;
  }
  const medianDiff = (want: Float32Array[]) => {
    const diffs = want.map((row, i) => Math.abs(row[0] - got[i][0])).sort((a, b) => a - b);
    return diffs[Math.floor(diffs.length / 2)];
  };
  const typed = medianDiff(await reference.run(ids, types));
  const typeBlind = medianDiff(await reference.run(ids));
  if (!(typed < typeBlind)) {
    await engine.release();
    return `bundle-runtime/plan-engine.ts does not read token types yet (median |logit diff| to the reference ${typed.toFixed(3)} with the pairs' token types, ${typeBlind.toFixed(3)} without)`;
  }
  return engine;
}

/** The rows run in this Node process: onnxruntime-node, onnxruntime-web and, when it can, the plan engine. */
async function nodeRows(queries: string[], documents: string[]) {
  const manifest = parseCrossEncoderManifest(JSON.parse(read('manifest.json').toString('utf8')));
  const graph = { inputs: manifest.inputs, inputDtype: manifest.inputDtype, output: manifest.output };
  const native = await timeEngine(
    manifest,
    await createOrtEngine(nativeOrt(), read('model.onnx'), graph),
    queries,
    documents,
  );
  const web = await timeEngine(manifest, await createOrtEngine(nodeOrt, read('model.onnx'), graph), queries, documents);
  const tokenizer = new BundleTokenizer(JSON.parse(read('tokenizer.json').toString('utf8')), {});
  const probes = documents.slice(0, 7).map((d) => tokenizer.encodePair(queries[0], d, manifest.maxTokens, 'right'));
  const engine = await planEngine(manifest, probes);
  const plan = typeof engine === 'string' ? engine : await timeEngine(manifest, engine, queries, documents);
  return { native, web, plan };
}

ensureBundle();
if (!values['node-only'] && !existsSync(join(bundle, 'plan.json'))) {
  throw new Error(
    'bundles/cross-encoder-minilm has no encoder plan, which the workerd ENGINE=plan row needs (the pack report says why; rm -rf it to repack)',
  );
}
const documents = texts(1, DOCUMENTS, WORDS);
const queries = texts(2, REQUESTS, 6);
const load = loadavg()[0].toFixed(2);
const node = await nodeRows(queries, documents);
const worker = values['node-only'] ? null : await workerd(queries, documents, 'ort');
const workerPlan = values['node-only'] ? null : await workerd(queries, documents, 'plan');
const ms = (value: number) => `${value.toFixed(1)} ms`;
const row = (name: string, s: { p50: number; p90: number }) => console.log(`| ${name} | ${ms(s.p50)} | ${ms(s.p90)} |`);
console.log(
  `\nRe-ranking ${DOCUMENTS} documents of ${WORDS} tokens (pairs of ${WORDS + 9}), ${REQUESTS} requests each`,
);
console.log(`(load average at start ${load}; figures from a busy machine are only good as ratios)\n`);
console.log('| system | p50 | p90 |');
console.log('|---|---|---|');
row('onnxruntime-node, native, 1 thread (same bundle)', node.native);
row("onnxruntime-web in Node (the worker's ORT build)", node.web);
if (typeof node.plan !== 'string') row("plan engine in Node (SIMD128 kernels, the bundle's plan)", node.plan);
if (worker && workerPlan) {
  row('worker in workerd, ENGINE=ort (onnxruntime-web), POST /rerank, new pairs', worker.fresh);
  row('worker in workerd, ENGINE=plan (plan engine), POST /rerank, new pairs', workerPlan.fresh);
  row('worker in workerd, ENGINE=ort, POST /rerank, repeated pairs', worker.repeated);
  row('worker in workerd, ENGINE=plan, POST /rerank, repeated pairs', workerPlan.repeated);
}
console.log('');
if (typeof node.plan === 'string') console.log(`plan engine: skipped, ${node.plan}`);
else {
  console.log(
    `plan engine in Node / onnxruntime-node: ${(node.plan.p50 / node.native.p50).toFixed(2)}x; ` +
      `plan engine / onnxruntime-web, both in Node: ${(node.plan.p50 / node.web.p50).toFixed(2)}x`,
  );
}
if (worker && workerPlan) {
  const ratio = (a: number, b: number) => (a / b).toFixed(2);
  console.log(
    `workerd new pairs / onnxruntime-node: ENGINE=plan ${ratio(workerPlan.fresh.p50, node.native.p50)}x, ` +
      `ENGINE=ort ${ratio(worker.fresh.p50, node.native.p50)}x (goal <= 1.5x); ` +
      `ENGINE=ort / ENGINE=plan in workerd: ${ratio(worker.fresh.p50, workerPlan.fresh.p50)}x`,
  );
  console.log(
    `new / repeated pairs: ENGINE=plan ${(workerPlan.fresh.p50 / workerPlan.repeated.p50).toFixed(1)}x, ` +
      `ENGINE=ort ${(worker.fresh.p50 / worker.repeated.p50).toFixed(1)}x (goal >= 20x)`,
  );
}
