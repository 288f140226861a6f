/**
 * `npm run bench:compare`: the worker side by side with what a user would otherwise run, in one run on one machine,
 * same inputs, one thread everywhere, against the goals in its last table (the default model's goal: 5x the tfjs
 * reference's throughput). Prints a markdown report and writes bench/results/compare-latest.{json,md}.
 *
 *   npm run bench:compare -- [--texts 1024] [--singles 40] [--skip transformers-wasm-fp32,...] [--out bench/results/compare-latest]
 *
 * 1. MiniLM-L6-sized fixture: the worker in workerd over HTTP (bundles/minilm-fixture via bench/compare/minilm-entry.ts,
 *    cache off; wrangler's deployable build served by Miniflare, see bench/compare/workerd.ts; (a) also under
 *    `wrangler dev`), transformers.js feature-extraction (local files; fp32 and q8; onnxruntime-web WASM and its Node
 *    default onnxruntime-node) and onnxruntime-node (fp32 export; our int8 bundle). Workloads: (a) one short sentence per call,
 *    (b) mixed queries + 50-200-token passages in calls of 32, (c) the same with 30% repeats, cache on (worker only).
 * 2. Default model (Universal Sentence Encoder Lite): the worker against @energetic-ai/embeddings (tfjs) on the same texts.
 * 3. Cold start: new workerd process to first embedding; a cached text on a cold isolate (warm KV, no model load).
 * 4. Memory: the engines' WASM heap (GET /info) and RSS of each process.
 * 5. Engines: the worker runs with the production default ENGINE=auto (the encoder plan engine: both bundles have a
 *    plan) everywhere above; (a) and (b) run again with ENGINE=ort (ONNX Runtime on model.onnx) on both bundles, so the
 *    engine rows compare plan and ort in the same run.
 * Every peer runs in its own process (bench/compare/peer.ts), one after the other; nothing else of ours runs meanwhile.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { parseBundleManifest } from '../bundle-format/manifest.js';
import { timedRequest } from './compare/http.js';
import { percentile } from './compare/percentile.js';
import { profilePipeline, type StageProfile } from './compare/profile.js';
import { PEER_SYSTEMS, type PeerPlan, type PeerResult, type PeerSystem } from './compare/systems.js';
import { makeWorkload, shortSentences } from './compare/texts.js';
import { transformersLayout } from './compare/transformers-layout.js';
import { type BenchWorker, startWorker } from './compare/workerd.js';

const root = join(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    texts: { type: 'string', default: '1024' },
    singles: { type: 'string', default: '40' },
    'batch-size': { type: 'string', default: '32' },
    skip: { type: 'string', default: '' },
    out: { type: 'string', default: 'bench/results/compare-latest' },
  },
});
const TEXTS = Number(values.texts);
const SINGLES = Number(values.singles);
const BATCH = Number(values['batch-size']);
const WARMUP = 3;
const skip = new Set(values.skip.split(',').filter(Boolean));
const scratch = mkdtempSync(join(tmpdir(), 'edge-embed-compare-'));
const runStarted = performance.now();

const log = (line: string) =>
  console.error(`[${((performance.now() - runStarted) / 1000).toFixed(0).padStart(4)} s] ${line}`);

function chunk<T>(items: T[], size: number): T[][] {
  return Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));
}

// ---------------------------------------------------------------- inputs
const singles = shortSentences(SINGLES, 7);
const mixed = makeWorkload(TEXTS, 1);
const repeated = makeWorkload(TEXTS, 2, 0.3);
// USE Lite's bundle takes at most 128 tokens: its passages are 20-60 words so nothing is truncated on either side.
const useTexts = makeWorkload(TEXTS, 3, 0, [20, 60]);
// Embedded once, untimed, by every system before its throughput run: V8 tiers the WASM up and ORT's heap grows first.
const warmBatch = makeWorkload(BATCH, 99).texts;
const warmUseBatch = makeWorkload(BATCH, 98, 0, [20, 60]).texts;

// ---------------------------------------------------------------- HTTP
interface Posted {
  ms: number;
  hits: number;
  misses: number;
  timing: Record<string, number>;
}

/** wrangler dev's proxy sometimes drops a POST after an idle keep-alive connection (workers-sdk#14641); resend it. */
let proxyRetries = 0;

async function post(url: string, input: string | string[]): Promise<Posted> {
  for (let attempt = 1; ; attempt++) {
    const { ms, status, headers, body } = await timedRequest(url, '/v1/embeddings', JSON.stringify({ input }));
    if (status === 503 && body.startsWith('Your worker restarted mid-request') && attempt < 3) {
      proxyRetries++;
      continue;
    }
    if (status !== 200) throw new Error(`HTTP ${status} from ${url}: ${body.slice(0, 500)}`);
    const timing: Record<string, number> = {};
    for (const part of String(headers['server-timing'] ?? '').split(',')) {
      const match = /^\s*(\w+);dur=([\d.]+)/.exec(part);
      if (match) timing[match[1]] = Number(match[2]);
    }
    return { ms, hits: Number(headers['x-cache-hits']), misses: Number(headers['x-cache-misses']), timing };
  }
}

interface Info {
  loaded: boolean;
  engine: string | null;
  wasm_heap_bytes: number | null;
  counters: Record<string, number>;
}

async function info(url: string): Promise<Info> {
  const response = await fetch(`${url}/info`);
  if (!response.ok) throw new Error(`GET /info: HTTP ${response.status}`);
  return (await response.json()) as Info;
}

interface Throughput {
  texts: number;
  seconds: number;
  textsPerSecond: number;
  hits: number;
  misses: number;
  /** Server-Timing summed over the requests (workerd's clock only moves across I/O: CPU stages read ~0). */
  serverTimingMs: Record<string, number>;
}

async function throughput(url: string, batches: string[][]): Promise<Throughput> {
  const result: Throughput = { texts: 0, seconds: 0, textsPerSecond: 0, hits: 0, misses: 0, serverTimingMs: {} };
  const started = performance.now();
  for (const batch of batches) {
    const posted = await post(url, batch);
    result.texts += batch.length;
    result.hits += posted.hits;
    result.misses += posted.misses;
    for (const [name, ms] of Object.entries(posted.timing))
      result.serverTimingMs[name] = (result.serverTimingMs[name] ?? 0) + ms;
  }
  result.seconds = (performance.now() - started) / 1000;
  result.textsPerSecond = result.texts / result.seconds;
  return result;
}

async function latencies(url: string, texts: string[], warmup = WARMUP): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await post(url, `warm-up ${i} ${texts[i % texts.length]}`);
  const ms: number[] = [];
  for (const text of texts) ms.push((await post(url, text)).ms);
  return ms;
}

async function withWorker<T>(
  options: Parameters<typeof startWorker>[0],
  run: (worker: BenchWorker) => Promise<T>,
): Promise<T> {
  const worker = await startWorker(options);
  try {
    return await run(worker);
  } finally {
    await worker.stop();
  }
}

// ---------------------------------------------------------------- peers
const tsxCli = createRequire(import.meta.url).resolve('tsx/cli');

async function runPeer(system: PeerSystem, plan: PeerPlan): Promise<PeerResult> {
  const planPath = join(scratch, `${system}.json`);
  writeFileSync(planPath, JSON.stringify(plan));
  const child = spawn(process.execPath, [tsxCli, join(root, 'bench/compare/peer.ts'), system, planPath], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const line = stdout.trim().split('\n').pop() ?? '';
  if (code !== 0 || !line.startsWith('{')) throw new Error(`${system} failed (exit ${code}):\n${stderr.slice(-2000)}`);
  return JSON.parse(line) as PeerResult;
}

// ---------------------------------------------------------------- run
/** The ENGINE var's pinned values. */
type EngineName = 'plan' | 'ort';

/** One engine on one bundle, cache off: cold start, (a) and (b) (USE Lite: its texts). */
interface EngineRun {
  bundle: 'minilm' | 'use';
  engine: EngineName;
  coldStartMs: number;
  firstEmbeddingMs: number;
  heapAfterLoadBytes: number | null;
  rssAfterLoadBytes: number;
  singleMs: number[];
  singleMsFresh: number[];
  throughput: Throughput;
}

interface WorkerMiniLm {
  readyMs: number;
  firstEmbeddingMs: number;
  coldStartMs: number;
  heapAfterLoadBytes: number | null;
  heapPeakBytes: number | null;
  rssAfterLoadBytes: number;
  rssPeakBytes: number;
  /** (a) after the warm-up batch; singleMsFresh: (a) right after the model load. */
  singleMs: number[];
  singleMsFresh: number[];
  mixed: Throughput;
}

interface WorkerCache {
  /** (b)'s texts with the cache on: all misses, each looked up in KV and written to it. */
  mixedCacheOn: Throughput;
  repeated: Throughput;
  allHitsLru: Throughput;
  coldIsolate: {
    readyMs: number;
    cachedTextMs: number;
    cachedTextHit: boolean;
    modelLoadedAfter: boolean;
    allHitsKv: Throughput;
  };
}

interface WorkerUse {
  /** The same texts on a second process with the cache on (all misses: KV lookups and writes). */
  textsCacheOn?: Throughput;
  readyMs: number;
  firstEmbeddingMs: number;
  coldStartMs: number;
  heapAfterLoadBytes: number | null;
  rssBytes: number;
  singleMs: number[];
  singleMsFresh: number[];
  texts: Throughput;
}

const loadBefore = loadavg();
log(
  `load average ${loadBefore.map((l) => l.toFixed(2)).join(' ')} on ${cpus().length} cores; texts ${TEXTS}, singles ${SINGLES}, batches of ${BATCH}`,
);
const layout = await transformersLayout();
const bundleInfo = (dir: string) => {
  const manifest = parseBundleManifest(JSON.parse(readFileSync(join(root, dir, 'manifest.json'), 'utf8')));
  return {
    dir,
    modelName: manifest.modelName,
    contentHash: manifest.contentHash,
    quantization: manifest.quantization,
    maxTokens: manifest.maxTokens,
    bytes: manifest.bytes.total,
  };
};
const bundles = [bundleInfo('bundles/minilm-fixture'), bundleInfo('bundles/default')];
const minilmConfig = join(root, 'bench/compare/wrangler.minilm.toml');

/**
 * A new worker's first request (the model load: cold start), then (a) twice: fresh, and again after one untimed
 * warm-up batch.
 */
async function coldStartAndSingles(worker: BenchWorker, warmup: string[], engine?: EngineName) {
  const first = await post(worker.url, `cold start ${singles[0]}`);
  const coldStartMs = performance.now() - worker.spawnedAt;
  const loaded = await info(worker.url);
  if (loaded.engine !== (engine ?? 'plan')) throw new Error(`the worker runs engine ${loaded.engine}, not ${engine}`);
  const rssAfterLoadBytes = worker.rssBytes();
  const singleMsFresh = await latencies(worker.url, singles);
  await post(worker.url, warmup);
  const singleMs = await latencies(worker.url, singles, 0);
  return {
    readyMs: worker.readyMs,
    firstEmbeddingMs: first.ms,
    coldStartMs,
    heapAfterLoadBytes: loaded.wasm_heap_bytes,
    rssAfterLoadBytes,
    singleMs,
    singleMsFresh,
  };
}

log('worker (workerd, MiniLM bundle, cache off): cold start, (a), (b)');
const workerMiniLm = await withWorker(
  { config: minilmConfig, vars: { BENCH_CACHE: 'off' }, persistTo: join(scratch, 'kv-off') },
  async (worker) => {
    const start = await coldStartAndSingles(worker, warmBatch);
    const mixedResult = await throughput(worker.url, chunk(mixed.texts, BATCH));
    const after = await info(worker.url);
    return {
      ...start,
      heapPeakBytes: after.wasm_heap_bytes,
      rssPeakBytes: worker.rssBytes(),
      mixed: mixedResult,
    } satisfies WorkerMiniLm;
  },
);

log('worker (MiniLM bundle, cache on): (c), all hits, then a cold isolate on the same KV');
const cacheKv = join(scratch, 'kv-on');
const repeatedBatches = chunk(repeated.texts, BATCH);
const cacheFirst = await withWorker({ config: minilmConfig, persistTo: cacheKv }, async (worker) => {
  await post(worker.url, warmBatch);
  const mixedCacheOn = await throughput(worker.url, chunk(mixed.texts, BATCH));
  const repeatedResult = await throughput(worker.url, repeatedBatches);
  const allHitsLru = await throughput(worker.url, repeatedBatches);
  // KV writes run under waitUntil; give them time to land on disk before the process stops.
  await new Promise((resolve) => setTimeout(resolve, 2000));
  return { mixedCacheOn, repeated: repeatedResult, allHitsLru };
});
const coldIsolate = await withWorker({ config: minilmConfig, persistTo: cacheKv }, async (worker) => {
  const cached = await post(worker.url, repeated.texts[0]);
  const modelLoadedAfter = (await info(worker.url)).loaded;
  const allHitsKv = await throughput(worker.url, repeatedBatches);
  return {
    readyMs: worker.readyMs,
    cachedTextMs: cached.ms,
    cachedTextHit: cached.hits === 1,
    modelLoadedAfter,
    allHitsKv,
  };
});
const workerCache: WorkerCache = { ...cacheFirst, coldIsolate };

log('worker under wrangler dev (its dev proxy in front, as `npm start` runs it), MiniLM bundle, cache off: (a) only');
const wranglerDevSingleMs = await withWorker(
  { config: minilmConfig, vars: { BENCH_CACHE: 'off' }, persistTo: join(scratch, 'kv-dev'), host: 'wrangler-dev' },
  async (worker) => (await coldStartAndSingles(worker, warmBatch)).singleMs,
);

log('worker (workerd, default USE Lite bundle, cache off): cold start, (a), same texts as tfjs');
const defaultConfig = join(root, 'bench/compare/wrangler.default.toml');
const workerUse: WorkerUse = await withWorker(
  { config: defaultConfig, vars: { BENCH_CACHE: 'off' }, persistTo: join(scratch, 'kv-use') },
  async (worker) => {
    const { rssAfterLoadBytes, ...start } = await coldStartAndSingles(worker, warmUseBatch);
    const texts = await throughput(worker.url, chunk(useTexts.texts, BATCH));
    return { ...start, rssBytes: rssAfterLoadBytes, texts } satisfies WorkerUse;
  },
);
log('worker (default bundle, cache on): the same texts, all misses');
workerUse.textsCacheOn = await withWorker(
  { config: defaultConfig, persistTo: join(scratch, 'kv-use-on') },
  async (worker) => {
    await post(worker.url, warmUseBatch);
    return throughput(worker.url, chunk(useTexts.texts, BATCH));
  },
);

/** A cache-off worker pinned to one engine: cold start, (a), then the bundle's throughput texts. */
async function engineRun(bundle: EngineRun['bundle'], engine: EngineName): Promise<EngineRun> {
  const minilm = bundle === 'minilm';
  const vars = { BENCH_CACHE: 'off', ENGINE: engine };
  const config = minilm ? minilmConfig : defaultConfig;
  return withWorker({ config, vars, persistTo: join(scratch, `kv-${bundle}-${engine}`) }, async (worker) => {
    const start = await coldStartAndSingles(worker, minilm ? warmBatch : warmUseBatch, engine);
    const texts = minilm ? mixed.texts : useTexts.texts;
    return {
      bundle,
      engine,
      coldStartMs: start.coldStartMs,
      firstEmbeddingMs: start.firstEmbeddingMs,
      heapAfterLoadBytes: start.heapAfterLoadBytes,
      rssAfterLoadBytes: start.rssAfterLoadBytes,
      singleMs: start.singleMs,
      singleMsFresh: start.singleMsFresh,
      throughput: await throughput(worker.url, chunk(texts, BATCH)),
    };
  });
}

// The auto runs above are the plan engine's; ONNX Runtime's runs here, the same texts and warm-up.
log('engines: ENGINE=ort on both bundles, cache off: cold start, (a), (b) / USE Lite texts');
const engineRuns: EngineRun[] = [];
for (const bundle of ['minilm', 'use'] as const) {
  const plan = bundle === 'minilm' ? workerMiniLm : workerUse;
  engineRuns.push({
    bundle,
    engine: 'plan',
    coldStartMs: plan.coldStartMs,
    firstEmbeddingMs: plan.firstEmbeddingMs,
    heapAfterLoadBytes: plan.heapAfterLoadBytes,
    rssAfterLoadBytes: 'rssAfterLoadBytes' in plan ? plan.rssAfterLoadBytes : plan.rssBytes,
    singleMs: plan.singleMs,
    singleMsFresh: plan.singleMsFresh,
    throughput: 'mixed' in plan ? plan.mixed : plan.texts,
  });
  engineRuns.push(await engineRun(bundle, 'ort'));
}

const peers: Partial<Record<PeerSystem, PeerResult>> = {};
for (const system of PEER_SYSTEMS) {
  if (skip.has(system)) continue;
  log(`peer ${system}`);
  const use = system === 'tfjs-use-reference';
  peers[system] = await runPeer(system, {
    singles,
    warmup: WARMUP,
    warmupBatch: use ? warmUseBatch : warmBatch,
    workloads: use ? { use: chunk(useTexts.texts, BATCH) } : { mixed: chunk(mixed.texts, BATCH) },
    transformersPath: `${layout.parent}/`,
    transformersModel: layout.modelId,
  });
}

log('stage profile (worker pipeline code in Node, same WASM build)');
const profileBatches = chunk(mixed.texts, BATCH).slice(0, Math.max(1, Math.ceil(256 / BATCH)));
const profile: StageProfile = await profilePipeline(
  join(root, 'bundles/minilm-fixture'),
  profileBatches,
  singles,
  warmBatch,
);
const useProfile: StageProfile = await profilePipeline(
  join(root, 'bundles/default'),
  chunk(useTexts.texts, BATCH).slice(0, profileBatches.length),
  singles,
  warmUseBatch,
);
const loadAfter = loadavg();
const bundlesChanged = [bundleInfo('bundles/minilm-fixture'), bundleInfo('bundles/default')].some(
  (after, i) => after.contentHash !== bundles[i].contentHash,
);
if (bundlesChanged) log('WARNING: a bundle was rebuilt during the run; the figures mix two builds');
log(`done; load average ${loadAfter.map((l) => l.toFixed(2)).join(' ')}`);
rmSync(scratch, { recursive: true, force: true });

// ---------------------------------------------------------------- report
const mib = (bytes: number | null | undefined) =>
  bytes === null || bytes === undefined ? 'n/a' : (bytes / 1024 / 1024).toFixed(0);
const f1 = (value: number | undefined) => (value === undefined ? 'n/a' : value.toFixed(1));
const ratio = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined ? undefined : a / b;
const peerRate = (system: PeerSystem, workload = 'mixed') => {
  const w = peers[system]?.workloads[workload];
  return w ? w.texts / w.seconds : undefined;
};

const LABELS: Record<PeerSystem, string> = {
  'ort-node-fp32': 'onnxruntime-node (native CPU), fp32 export',
  'ort-node-int8-bundle': 'onnxruntime-node (native CPU), our int8 bundle model',
  'transformers-node-fp32': 'transformers.js, Node default (onnxruntime-node), fp32',
  'transformers-node-q8': 'transformers.js, Node default (onnxruntime-node), q8',
  'transformers-wasm-fp32': 'transformers.js, WASM (onnxruntime-web), fp32',
  'transformers-wasm-q8': 'transformers.js, WASM (onnxruntime-web), q8',
  'tfjs-use-reference': '@energetic-ai/embeddings (tfjs, Node)',
};

const workerRate = workerMiniLm.mixed.textsPerSecond;
const p50 = percentile(workerMiniLm.singleMs, 50);
const goals = [
  {
    goal: 'throughput >= 1.2x transformers.js WASM q8 (same quantization)',
    value: ratio(workerRate, peerRate('transformers-wasm-q8')),
    target: 1.2,
  },
  {
    goal: 'throughput >= 0.5x onnxruntime-node, 1 thread (our int8 model)',
    value: ratio(workerRate, peerRate('ort-node-int8-bundle')),
    target: 0.5,
  },
  {
    goal: 'throughput vs onnxruntime-node, 1 thread (fp32 export), for reference',
    value: ratio(workerRate, peerRate('ort-node-fp32')),
    target: 0.5,
  },
  {
    goal: 'cache hits >= 20x miss throughput (in-isolate LRU)',
    value: ratio(workerCache.allHitsLru.textsPerSecond, workerRate),
    target: 20,
  },
  {
    goal: 'cache hits >= 20x miss throughput (KV only, cold isolate)',
    value: ratio(workerCache.coldIsolate.allHitsKv.textsPerSecond, workerRate),
    target: 20,
  },
  { goal: 'p50 one short sentence <= 15 ms (ms), warm isolate', value: p50, target: 15, lowerIsBetter: true },
  {
    goal: 'the same on a fresh isolate (first calls after the model load), for reference',
    value: percentile(workerMiniLm.singleMsFresh, 50),
    target: 15,
    lowerIsBetter: true,
  },
  {
    goal: 'MiniLM (b) in workerd >= 1.0x onnxruntime-node, 1 thread, our int8 model (issue 11, plan engine)',
    value: ratio(workerRate, peerRate('ort-node-int8-bundle')),
    target: 1,
  },
  {
    goal: 'default model: worker (USE Lite) >= 5x tfjs reference, same texts',
    value: ratio(workerUse.texts.textsPerSecond, peerRate('tfjs-use-reference', 'use')),
    target: 5,
  },
];

const date = new Date().toISOString().slice(0, 16).replace('T', ' ');
const md: string[] = [];
md.push(`### Side-by-side benchmark (${date} UTC)`);
md.push('');
md.push(
  `\`npm run bench:compare -- --texts ${TEXTS} --singles ${SINGLES}\` on ${cpus().length} cores (${cpus()[0]?.model.trim()}), Node ${process.version}; ` +
    `load average ${loadBefore[0].toFixed(2)} before, ${loadAfter[0].toFixed(2)} after. One thread everywhere.`,
);
md.push(
  `Texts: (a) ${SINGLES} short sentences (8-12 tokens), one per call, twice: "fresh" right after the model load (after ${WARMUP} warm-up calls), then again after one untimed batch of ${BATCH} ` +
    `(every system; V8 compiles WASM with its baseline tier first and optimises the hot functions as they run); (b) ${TEXTS} texts (${mixed.queries} queries of 3-10 words, ` +
    `${TEXTS - mixed.queries} passages of 50-200 tokens) in calls of ${BATCH}; (c) ${TEXTS} texts with ${repeated.repeats} repeats (${((repeated.repeats / TEXTS) * 100).toFixed(0)}%), cache on.`,
);
md.push('');
md.push('**MiniLM-L6-sized fixture** (random weights, MiniLM-L6 shapes: 6 layers, hidden 384)');
md.push('');
md.push(
  '| System | (a) p50 ms | (a) p95 ms | (a) fresh p50 ms | (b) texts/s | (c) texts/s | load ms | RSS MiB | WASM heap MiB |',
);
md.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
md.push(
  `| **edge-embed worker** (workerd, HTTP, int8 bundle, plan engine, cache off for a/b) | ${f1(p50)} | ${f1(percentile(workerMiniLm.singleMs, 95))} | ${f1(percentile(workerMiniLm.singleMsFresh, 50))} | ${f1(workerRate)} | ` +
    `${f1(workerCache.repeated.textsPerSecond)} | ${workerMiniLm.coldStartMs.toFixed(0)}* | ${mib(workerMiniLm.rssPeakBytes)} | ${mib(workerMiniLm.heapAfterLoadBytes)} (peak ${mib(workerMiniLm.heapPeakBytes)}) |`,
);
for (const system of PEER_SYSTEMS) {
  const peer = peers[system];
  if (peer === undefined || system === 'tfjs-use-reference') continue;
  md.push(
    `| ${LABELS[system]} | ${f1(percentile(peer.singleMs, 50))} | ${f1(percentile(peer.singleMs, 95))} | ${f1(percentile(peer.singleMsFresh, 50))} | ${f1(peerRate(system))} | no cache | ` +
      `${peer.loadMs.toFixed(0)} | ${mib(peer.rssBytes)} | ${mib(peer.wasmHeapBytes)} |`,
  );
}
md.push('');
md.push(
  `\\* worker load = new workerd process to first embedding (Miniflare ready ${workerMiniLm.readyMs.toFixed(0)} ms + first request with model load ${workerMiniLm.firstEmbeddingMs.toFixed(0)} ms); ` +
    "peers: model load + first call in an already running Node process. The worker is wrangler's deployable build (`wrangler deploy --dry-run`, built before the clock starts) " +
    "served by Miniflare: one workerd process, HTTP through Miniflare's entry worker, each request on a new connection " +
    'timed by a node:http client to the last byte (plain workerd without Miniflare: `npm run bench:latency`). ' +
    `Under \`wrangler dev\` (what \`npm start\` runs), whose dev proxy is a second workerd in front, (a) is p50 ${f1(percentile(wranglerDevSingleMs, 50))} ms, p95 ${f1(percentile(wranglerDevSingleMs, 95))} ms (after the same warm-up).`,
);
md.push(
  `Cache (worker, MiniLM): (b)'s texts with the cache on (all misses, KV lookups + writes) ${f1(workerCache.mixedCacheOn.textsPerSecond)} texts/s against ${f1(workerRate)} off; ` +
    `(c) ${f1(workerCache.repeated.textsPerSecond)} texts/s (${workerCache.repeated.hits} hits / ${workerCache.repeated.misses} misses); ` +
    `the same ${TEXTS} texts again, all in-isolate LRU hits: ${f1(workerCache.allHitsLru.textsPerSecond)} texts/s; on a new process (cold isolate, KV only): ` +
    `${f1(workerCache.coldIsolate.allHitsKv.textsPerSecond)} texts/s.`,
);
md.push('');
md.push(
  '**Default model, Universal Sentence Encoder Lite** (same texts: queries + passages of 20-60 words, within its 128 tokens)',
);
md.push('');
md.push('| System | (a) p50 ms | (a) fresh p50 ms | texts/s | load ms | RSS MiB |');
md.push('|---|---:|---:|---:|---:|---:|');
md.push(
  `| **edge-embed worker** (workerd, HTTP, int8 pruned bundle, plan engine, cache off) | ${f1(percentile(workerUse.singleMs, 50))} | ${f1(percentile(workerUse.singleMsFresh, 50))} | ${f1(workerUse.texts.textsPerSecond)} | ` +
    `${workerUse.coldStartMs.toFixed(0)}* | ${mib(workerUse.rssBytes)} |`,
);
md.push(
  `| edge-embed worker, cache on (all misses: KV lookups + writes) | | | ${f1(workerUse.textsCacheOn?.textsPerSecond)} | | |`,
);
const tfjs = peers['tfjs-use-reference'];
if (tfjs) {
  md.push(
    `| ${LABELS['tfjs-use-reference']} | ${f1(percentile(tfjs.singleMs, 50))} | ${f1(percentile(tfjs.singleMsFresh, 50))} | ${f1(peerRate('tfjs-use-reference', 'use'))} | ${tfjs.loadMs.toFixed(0)} | ${mib(tfjs.rssBytes)} |`,
  );
}
md.push('');
md.push('**Cold start and memory (worker)**');
md.push('');
md.push('| | MiniLM bundle | USE Lite bundle |');
md.push('|---|---:|---:|');
md.push(
  `| new workerd process to /health, ms | ${workerMiniLm.readyMs.toFixed(0)} | ${workerUse.readyMs.toFixed(0)} |`,
);
md.push(
  `| first embedding request (model load + inference), ms | ${workerMiniLm.firstEmbeddingMs.toFixed(0)} | ${workerUse.firstEmbeddingMs.toFixed(0)} |`,
);
md.push(
  `| new process to first embedding, ms | ${workerMiniLm.coldStartMs.toFixed(0)} | ${workerUse.coldStartMs.toFixed(0)} |`,
);
md.push(
  `| cached text on a cold isolate (KV hit, no model load), ms | ${workerCache.coldIsolate.cachedTextMs.toFixed(0)} (hit: ${workerCache.coldIsolate.cachedTextHit}, model loaded after: ${workerCache.coldIsolate.modelLoadedAfter}) | |`,
);
md.push(
  `| WASM heap after load (plan engine), MiB | ${mib(workerMiniLm.heapAfterLoadBytes)} | ${mib(workerUse.heapAfterLoadBytes)} |`,
);
md.push(`| WASM heap after (b) (plan engine), MiB | ${mib(workerMiniLm.heapPeakBytes)} | |`);
md.push(`| workerd RSS after load, MiB | ${mib(workerMiniLm.rssAfterLoadBytes)} | ${mib(workerUse.rssBytes)} |`);
md.push('');
md.push(
  '**Engines** (the ENGINE var; cache off; the plan rows are the runs above, ENGINE=auto; the ort rows ENGINE=ort, run after them)',
);
md.push('');
md.push(
  '| Bundle | Engine | (a) p50 ms | (a) fresh p50 ms | (b) / USE texts per s | new process to first embedding, ms | first request (load + inference), ms | WASM heap after load, MiB | workerd RSS after load, MiB |',
);
md.push('|---|---|---:|---:|---:|---:|---:|---:|---:|');
for (const run of engineRuns) {
  md.push(
    `| ${run.bundle === 'minilm' ? 'MiniLM fixture' : 'USE Lite (default)'} | ${run.engine} | ${f1(percentile(run.singleMs, 50))} | ${f1(percentile(run.singleMsFresh, 50))} | ` +
      `${f1(run.throughput.textsPerSecond)} | ${run.coldStartMs.toFixed(0)} | ${run.firstEmbeddingMs.toFixed(0)} | ${mib(run.heapAfterLoadBytes)} | ${mib(run.rssAfterLoadBytes)} |`,
  );
}
const engineRatio = (bundle: EngineRun['bundle'], pick: (run: EngineRun) => number) => {
  const [plan, ort] = (['plan', 'ort'] as const).map((engine) =>
    engineRuns.find((run) => run.bundle === bundle && run.engine === engine),
  );
  return plan && ort ? pick(plan) / pick(ort) : undefined;
};
md.push('');
md.push(
  `plan / ort: throughput ${f1(engineRatio('minilm', (run) => run.throughput.textsPerSecond))}x (MiniLM), ${f1(engineRatio('use', (run) => run.throughput.textsPerSecond))}x (USE Lite); ` +
    `(a) p50 ${f1(engineRatio('minilm', (run) => percentile(run.singleMs, 50)))}x and ${f1(engineRatio('use', (run) => percentile(run.singleMs, 50)))}x (below 1: the plan is faster).`,
);
md.push('');
md.push('**Goals**');
md.push('');
md.push('| Goal | Measured | Met |');
md.push('|---|---:|:---:|');
for (const g of goals) {
  const met =
    g.value === undefined ? 'n/a' : (g.lowerIsBetter ? g.value <= g.target : g.value >= g.target) ? 'yes' : 'no';
  md.push(
    `| ${g.goal} | ${g.value === undefined ? 'n/a' : g.lowerIsBetter ? g.value.toFixed(1) : `${g.value.toFixed(2)}x`} | ${met} |`,
  );
}
md.push('');
const stageLine = (name: string, stages: StageProfile, httpMsPerText: number, httpSingleP50: number) => {
  const perText = (ms: number) => (ms / stages.texts).toFixed(2);
  return (
    `| ${name} | ${stages.texts} / ${stages.tokens} | ${perText(stages.tokenizeMs)} | ${perText(stages.inferenceMs)} | ${perText(stages.inputTensorsMs)} | ` +
    `${perText(stages.serializeMs)} / ${perText(stages.serializeBase64Ms)} | ${httpMsPerText.toFixed(2)} | ${f1(percentile(stages.singleMs, 50))} | ${f1(httpSingleP50)} |`
  );
};
md.push(
  "**Where the worker's time goes with ENGINE=ort**: its own pipeline code (bundle-runtime) in Node on the same onnxruntime-web WASM build, one thread, on the first texts of (b); ms per text. workerd's clock stands still during CPU work, so Server-Timing cannot split this.",
);
md.push('');
md.push(
  '| Bundle | texts / tokens | tokenize | inference (inputs + session.run + slicing) | of which int64 inputs | JSON float / base64 | worker over HTTP, ms per text | one short sentence in Node, p50 ms | same over HTTP, p50 ms |',
);
md.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
md.push(stageLine('MiniLM fixture', profile, 1000 / workerRate, p50));
md.push(
  stageLine(
    'USE Lite (default)',
    useProfile,
    1000 / workerUse.texts.textsPerSecond,
    percentile(workerUse.singleMs, 50),
  ),
);
md.push('');
md.push(
  `Bundles: ${bundles.map((b) => `${b.dir} ${b.modelName} ${b.quantization} ${(b.bytes / 1e6).toFixed(1)} MB, hash ${b.contentHash.slice(0, 12)}`).join('; ')}.`,
);
if (bundlesChanged) md.push('**Warning: a bundle was rebuilt during the run; the figures mix two builds.**');
if (proxyRetries > 0)
  md.push(`\nRequests resent after wrangler dev's proxy dropped them (workers-sdk#14641): ${proxyRetries}.`);
const markdown = md.join('\n');

const results = {
  date: new Date().toISOString(),
  command: `npm run bench:compare -- --texts ${TEXTS} --singles ${SINGLES}`,
  machine: {
    cores: cpus().length,
    cpu: cpus()[0]?.model.trim(),
    node: process.version,
    loadAverageBefore: loadBefore,
    loadAverageAfter: loadAfter,
  },
  counts: {
    texts: TEXTS,
    singles: SINGLES,
    warmup: WARMUP,
    batchSize: BATCH,
    queries: mixed.queries,
    repeats: repeated.repeats,
    useTexts: useTexts.texts.length,
  },
  notes: {
    workerHost:
      'the worker is wrangler deploy --dry-run output served by Miniflare (one workerd); wranglerDevSingleMs is (a) under wrangler dev (its proxy workerd in front)',
    cacheOff:
      'bench/compare/minilm-entry.ts with BENCH_CACHE=off hides the EMBED_CACHE binding and sets LRU_MAX_BYTES=0 (worker/src unchanged)',
    transformersQ8:
      'transformers.js q8 = .fixtures/minilm quantized by the packer passes (quantizeEmbeddingTable + quantizeMatMulWeights int8-compute), unpruned, no pooling',
    transformersWasm:
      "transformers.js WASM in Node = our onnxruntime-web 1.30.0 registered under Symbol.for('onnxruntime'), device 'auto', numThreads 1",
    peersCache: 'peers have no cache; (c) is measured for the worker only',
    engines:
      'the worker runs ENGINE=auto (the plan engine) except engineRuns with engine ort (ENGINE=ort, run after the plan runs)',
  },
  bundles,
  bundlesChanged,
  workerMiniLm,
  workerCache,
  wranglerDevSingleMs,
  workerUse,
  engineRuns,
  peers,
  profile,
  useProfile,
  goals,
  proxyRetries,
  totalSeconds: (performance.now() - runStarted) / 1000,
};
const out = resolve(root, values.out);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(`${out}.json`, `${JSON.stringify(results, null, 2)}\n`);
writeFileSync(`${out}.md`, `${markdown}\n`);
console.log(markdown);
log(`wrote ${values.out}.json and .md in ${results.totalSeconds.toFixed(0)} s`);
