/**
 * `npm run bench:rerank`: re-ranking 20 documents of ~60 tokens with a MiniLM-L6-sized cross-encoder (the
 * `cross-encoder` fixture preset: seeded random weights, calibrated head; packed int8, vocabulary whole), one request
 * at a time:
 * - the worker in workerd (wrangler's build served by Miniflare, bench/compare/workerd.ts), POST /rerank with a new
 *   query each time (every pair new: 20 pairs of inference), then the same request again (every pair cached);
 * - onnxruntime-node (native, one thread) on the same packed model.onnx, through bundle-runtime's CrossEncoder (same
 *   tokenization and micro-batches as the worker).
 * Prints p50/p90 of each and the ratios the goals name; the machine's load average goes with them.
 *
 *   npm run bench:rerank -- [--requests 30] [--documents 20] [--words 58]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { parseCrossEncoderManifest } from '../bundle-format/manifest.js';
import { CrossEncoder } from '../bundle-runtime/cross-encoder.js';
import { Embedder } from '../bundle-runtime/embedder.js';
import { createOrtEngine, type OrtRuntime } from '../bundle-runtime/ort-engine.js';
import { BundleTokenizer } from '../bundle-runtime/tokenizer.js';
import { bertBaseUncasedVocab } from '../model-packager/src/fixtures/bert-vocab.js';
import { mulberry32 } from '../model-packager/src/fixtures/random.js';
import { startWorker } from './compare/workerd.js';

const root = join(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '30' },
    documents: { type: 'string', default: '20' },
    words: { type: 'string', default: '58' },
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

function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const summary = (samples: number[]) => ({ p50: percentile(samples, 50), p90: percentile(samples, 90) });

/** The worker entry and its wrangler config, written to a temporary folder (the bundle exists only after this script). */
function writeEntry(dir: string): string {
  const at = (path: string) => JSON.stringify(join(root, path));
  writeFileSync(
    join(dir, 'entry.ts'),
    `/// <reference path=${at('worker/src/modules.d.ts')} />
import manifest from ${at('bundles/cross-encoder-minilm/manifest.json')};
import model from ${at('bundles/cross-encoder-minilm/model.onnx')};
import tokenizer from ${at('bundles/cross-encoder-minilm/tokenizer.json')};
import { withCacheSwitch } from ${at('bench/compare/cache-switch.ts')};
import { defaultBundle } from ${at('worker/src/bundle/default-bundle.ts')};
import { createApp } from ${at('worker/src/http/app.ts')};
import { wasmHeapBytes, workerdOrt } from ${at('worker/src/runtime/ort-workerd.ts')};
const reranker = { manifest: async () => manifest, tokenizer: async () => tokenizer, model: async () => new Uint8Array(model) };
export default withCacheSwitch(createApp({ bundle: { ...defaultBundle, reranker }, ort: workerdOrt, wasmHeapBytes }));
`,
  );
  const config = readFileSync(join(root, 'bench/compare/wrangler.minilm.toml'), 'utf8')
    .replace(/^name = .*$/m, 'name = "edge-embed-bench-rerank"')
    .replace(/^main = .*$/m, 'main = "entry.ts"');
  writeFileSync(join(dir, 'wrangler.toml'), config);
  return join(dir, 'wrangler.toml');
}

async function workerd(queries: string[], documents: string[]) {
  const dir = mkdtempSync(join(tmpdir(), 'edge-embed-bench-rerank-'));
  const worker = await startWorker({ config: writeEntry(dir), persistTo: join(dir, 'state') });
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
  try {
    for (let i = 0; i < WARMUP; i++) await post(`warm-up query ${i}`);
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
async function nodeNative(queries: string[], documents: string[]) {
  const require = createRequire(import.meta.url);
  const ort = require('onnxruntime-node') as typeof import('onnxruntime-node');
  const runtime = {
    Tensor: ort.Tensor,
    createSession: (bytes: Uint8Array) =>
      ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 }),
  } as unknown as OrtRuntime;
  const manifest = parseCrossEncoderManifest(JSON.parse(readFileSync(join(bundle, 'manifest.json'), 'utf8')));
  const graph = { inputs: manifest.inputs, inputDtype: manifest.inputDtype, output: manifest.output };
  const engine = await createOrtEngine(runtime, readFileSync(join(bundle, 'model.onnx')), graph);
  const tokenizer = new BundleTokenizer(JSON.parse(readFileSync(join(bundle, 'tokenizer.json'), 'utf8')), {});
  const encoder = new CrossEncoder(new Embedder(engine), tokenizer, {
    maxTokens: manifest.maxTokens,
    activation: manifest.crossEncoder.activation,
  });
  for (let i = 0; i < WARMUP; i++) await encoder.score(`warm-up query ${i}`, documents);
  const samples: number[] = [];
  for (const query of queries) {
    const started = performance.now();
    await encoder.score(query, documents);
    samples.push(performance.now() - started);
  }
  await encoder.release();
  return summary(samples);
}

ensureBundle();
const documents = texts(1, DOCUMENTS, WORDS);
const queries = texts(2, REQUESTS, 6);
const load = loadavg()[0].toFixed(2);
const native = await nodeNative(queries, documents);
const worker = await workerd(queries, documents);
const ms = (value: number) => `${value.toFixed(1)} ms`;
console.log(
  `\nRe-ranking ${DOCUMENTS} documents of ${WORDS} tokens (pairs of ${WORDS + 9}), ${REQUESTS} requests each`,
);
console.log(`(load average at start ${load}; figures from a busy machine are only good as ratios)\n`);
console.log('| system | p50 | p90 |');
console.log('|---|---|---|');
console.log(`| onnxruntime-node, native, 1 thread (same bundle) | ${ms(native.p50)} | ${ms(native.p90)} |`);
console.log(`| worker in workerd, POST /rerank, new pairs | ${ms(worker.fresh.p50)} | ${ms(worker.fresh.p90)} |`);
console.log(
  `| worker in workerd, POST /rerank, repeated pairs | ${ms(worker.repeated.p50)} | ${ms(worker.repeated.p90)} |`,
);
console.log(
  `\nworkerd new pairs / onnxruntime-node: ${(worker.fresh.p50 / native.p50).toFixed(2)}x (goal <= 1.5x); ` +
    `new / repeated pairs: ${(worker.fresh.p50 / worker.repeated.p50).toFixed(1)}x (goal >= 20x)`,
);
