/**
 * `npm run bench:cost`: what each cache policy (CACHE_POLICY = cost | always | off) costs per million embeddings on a
 * seeded workload, beside Workers AI's bge-small list price on the same token counts.
 *
 *   npm run bench:cost -- [--bundle bundles/default] [--engine plan|ort] [--embeddings 100000] [--distinct 20000]
 *                         [--seed 20261201] [--colos 3] [--isolates-per-colo 4] [--isolate-lifetime 2000]
 *                         [--admit-after 3] [--writes-per-day 1000] [--workerd-factor <x>] [--cpu-ms-per-token <ms>]
 *
 * The workload: requests of 1 text (70%) or 2-8 texts, each drawn from `distinct` texts (~40% short queries, ~60%
 * passages of 30-120 words) by a Zipf law with s = 1.1, sent to a random isolate of a random data centre; each
 * request replaces its isolate by a fresh one with probability 1/isolate-lifetime (a cold start).
 *
 * It drives the worker's own CachePolicy and EmbeddingCache (worker/src/cache-policy/, worker/src/cache/: the same LRU
 * size, frequency sketch, write budget and decisions) with in-memory stand-ins for KV (one, global, always consistent)
 * and the Cache API (one per data centre, never evicting). It embeds nothing in the simulation: token counts come from the bundle's tokenizer,
 * and the CPU per token and per model load are measured in this run, by embedding a sample of the workload with
 * bundle-runtime's Embedder on the engine the worker would run (--engine: the encoder plan engine, the worker's default
 * for a bundle with a plan, or onnxruntime-web WASM, one thread) and reading process.cpuUsage(), then scaled by
 * --workerd-factor to workerd: ONNX Runtime's WASM ran 1.4x slower there than in Node (docs/performance.md); the plan
 * engine runs its relaxed-SIMD build in workerd and its SIMD128 build in Node, and workerd took 0.45x Node's time
 * (`npm run bench:plan-engine -- --lengths short,12,64,128`: 2.1-2.5x the texts/s, 2026-12-01 14:03 UTC).
 * Not counted (the same under every policy): per-request CPU around inference (JSON, hashing, routing).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BUNDLE_FILES, parseBundleManifest } from '../bundle-format/manifest.js';
import { BundleTokenizer } from '../bundle-runtime/tokenizer.js';
import { type BundleEngine, bundleEmbedder } from '../model-packager/src/eval/embedders.js';
import { mulberry32 } from '../model-packager/src/fixtures/random.js';
import type { CachedEmbedding } from '../worker/src/cache/codec.js';
import {
  type CacheCounters,
  EmbeddingCache,
  type EmbeddingStore,
  emptyCacheCounters,
} from '../worker/src/cache/embedding-cache.js';
import { cacheKey } from '../worker/src/cache/key.js';
import { ByteLruCache } from '../worker/src/cache/lru.js';
import {
  CACHE_POLICY_MODES,
  CachePolicy,
  type CachePolicyMode,
  DEFAULT_CACHE_API_READ_MIN_MS,
  estimateTokens,
} from '../worker/src/cache-policy/policy.js';
import {
  type CostModel,
  costPerMillionEmbeddings,
  cpuCost,
  kvReadCost,
  kvWriteCost,
  LIST_PRICES,
  WORKERS_AI_BGE_SMALL_PER_MILLION_TOKENS,
} from '../worker/src/cache-policy/prices.js';
import { makeWorkload } from './compare/texts.js';

const root = join(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    bundle: { type: 'string', default: 'bundles/default' },
    embeddings: { type: 'string', default: '100000' },
    distinct: { type: 'string', default: '20000' },
    seed: { type: 'string', default: '20261201' },
    colos: { type: 'string', default: '3' },
    'isolates-per-colo': { type: 'string', default: '4' },
    'isolate-lifetime': { type: 'string', default: '2000' },
    'admit-after': { type: 'string', default: '3' },
    'writes-per-day': { type: 'string', default: '1000' },
    engine: { type: 'string', default: 'plan' },
    /** Node CPU-ms x this = workerd CPU-ms; default 0.45 for the plan engine, 1.4 for ort. */
    'workerd-factor': { type: 'string' },
    /** Skips the measurement and uses this figure (ms per token in workerd). */
    'cpu-ms-per-token': { type: 'string' },
    /** The worker's LRU_MAX_BYTES default. */
    'lru-bytes': { type: 'string', default: String(8 * 1024 * 1024) },
  },
});
const num = (name: keyof typeof values) => {
  const value = Number(values[name]);
  if (!Number.isFinite(value) || value < 0)
    throw new Error(`--${name} takes a non-negative number, got ${values[name]}`);
  return value;
};

if (values.engine !== 'plan' && values.engine !== 'ort')
  throw new Error(`--engine takes plan or ort, got ${values.engine}`);
const engine: BundleEngine = values.engine;
values['workerd-factor'] ??= engine === 'plan' ? '0.45' : '1.4';
const bundleDir = join(root, values.bundle);
const manifest = parseBundleManifest(JSON.parse(await readFile(join(bundleDir, BUNDLE_FILES.manifest), 'utf8')));
const tokenizer = new BundleTokenizer(
  JSON.parse(await readFile(join(bundleDir, BUNDLE_FILES.tokenizer), 'utf8')),
  manifest.tokenizerConfig,
);

// The workload's distinct texts, their keys, real token counts and the worker's pre-tokenization estimate.
const seed = num('seed');
const texts = makeWorkload(num('distinct'), seed, 0, [30, 120]).texts;
const encoded = texts.map((text) => tokenizer.encode(text, manifest.maxTokens, 'right'));
const keys = await Promise.all(
  texts.map((text) => cacheKey(manifest.contentHash, { truncationDirection: 'right' }, { text })),
);
const estimates = texts.map((text) => estimateTokens({ text }, manifest.maxTokens));

/** Zipf(s = 1.1) over the distinct texts: rank r is drawn with probability proportional to 1 / r^1.1. */
function zipfSampler(n: number, s: number, random: () => number): () => number {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let r = 0; r < n; r++) cdf[r] = sum += 1 / (r + 1) ** s;
  return () => {
    const target = random() * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] < target) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

/** The requests: lists of text indices, the same for every policy. */
function makeRequests(): number[][] {
  const random = mulberry32(seed + 1);
  const draw = zipfSampler(texts.length, 1.1, random);
  const requests: number[][] = [];
  let total = 0;
  while (total < num('embeddings')) {
    const size = random() < 0.7 ? 1 : 2 + Math.floor(random() * 7);
    requests.push(Array.from({ length: size }, draw));
    total += size;
  }
  return requests;
}
const requests = makeRequests();

// CPU per token and per model load, measured in this process on a sample of the workload.
async function measureCpu(): Promise<{ cpuMsPerToken: number; modelLoadCpuMs: number; how: string }> {
  const factor = num('workerd-factor');
  if (values['cpu-ms-per-token'] !== undefined) {
    const perToken = num('cpu-ms-per-token');
    return {
      cpuMsPerToken: perToken,
      modelLoadCpuMs: 0,
      how: `--cpu-ms-per-token ${perToken} (given; model loads not priced)`,
    };
  }
  const cpuMs = (since: NodeJS.CpuUsage) => {
    const used = process.cpuUsage(since);
    return (used.user + used.system) / 1000;
  };
  let started = process.cpuUsage();
  const embedder = await bundleEmbedder(bundleDir, undefined, engine);
  const loadMs = cpuMs(started);
  const sample = texts.slice(0, 256);
  await embedder.embed(sample.slice(0, 8)); // warm-up, as a loaded isolate is
  const sampleTokens = sample.reduce(
    (sum, text) => sum + tokenizer.encode(text, manifest.maxTokens, 'right').ids.length,
    0,
  );
  started = process.cpuUsage();
  await embedder.embed(sample);
  const embedMs = cpuMs(started);
  await embedder.close();
  const nodePerToken = embedMs / sampleTokens;
  return {
    cpuMsPerToken: nodePerToken * factor,
    modelLoadCpuMs: loadMs * factor,
    how:
      `measured in this run: ${sample.length} workload texts (${sampleTokens} tokens) took ${embedMs.toFixed(0)} CPU-ms in Node ` +
      `(${engine === 'plan' ? 'plan engine, SIMD128 build' : 'onnxruntime-web WASM, 1 thread'}, process.cpuUsage) = ${nodePerToken.toFixed(4)} ms/token; model load ${loadMs.toFixed(0)} CPU-ms; ` +
      `both x ${factor} for workerd`,
  };
}
const cpu = await measureCpu();
const cost: CostModel = { prices: LIST_PRICES, cpuMsPerToken: cpu.cpuMsPerToken, modelLoadCpuMs: cpu.modelLoadCpuMs };

/** An in-memory store standing in for KV or one data centre's Cache API. */
function memoryStore(): EmbeddingStore {
  const entries = new Map<string, CachedEmbedding>();
  return {
    get: async (key) => entries.get(key),
    put: async (key, entry) => {
      entries.set(key, entry);
    },
  };
}

interface PolicyRun {
  counters: CacheCounters;
  embeddings: number;
  inferences: number;
  inferenceTokens: number;
  modelLoads: number;
  coldStarts: number;
}

async function runPolicy(mode: CachePolicyMode): Promise<PolicyRun> {
  const random = mulberry32(seed + 2);
  const counters = emptyCacheCounters();
  const kv = memoryStore();
  const colos = Array.from({ length: num('colos') }, () => memoryStore());
  const perColo = num('isolates-per-colo');
  const vector = new Float32Array(manifest.dimensions);
  const newIsolate = (colo: number) => ({
    modelLoaded: false,
    cache: new EmbeddingCache({
      lru: new ByteLruCache(num('lru-bytes')),
      cacheApi: colos[colo],
      kv,
      policy: new CachePolicy({
        mode,
        cost,
        admitAfter: num('admit-after'),
        maxTokens: manifest.maxTokens,
        kvWritesPerDay: num('writes-per-day'),
        cacheApiReadMinMs: DEFAULT_CACHE_API_READ_MIN_MS,
      }),
      counters,
      // One simulated day: the budget never resets within a run.
      now: () => 0,
    }),
  });
  const isolates = colos.map((_, colo) => Array.from({ length: perColo }, () => newIsolate(colo)));
  const run: PolicyRun = { counters, embeddings: 0, inferences: 0, inferenceTokens: 0, modelLoads: 0, coldStarts: 0 };
  const background: Promise<unknown>[] = [];
  const waitUntil = (promise: Promise<unknown>) => background.push(promise);
  for (const request of requests) {
    const colo = Math.floor(random() * colos.length);
    const slot = Math.floor(random() * perColo);
    if (random() < 1 / num('isolate-lifetime')) {
      isolates[colo][slot] = newIsolate(colo);
      run.coldStarts++;
    }
    const isolate = isolates[colo][slot];
    const distinct = [...new Set(request)];
    const found = await isolate.cache.getMany(
      distinct.map((i) => keys[i]),
      { tokens: distinct.map((i) => estimates[i]), modelLoaded: isolate.modelLoaded, waitUntil },
    );
    const misses = distinct.filter((_, n) => found[n] === undefined);
    if (misses.length > 0) {
      if (!isolate.modelLoaded) run.modelLoads++;
      isolate.modelLoaded = true;
      run.inferences += misses.length;
      run.inferenceTokens += misses.reduce((sum, i) => sum + encoded[i].ids.length, 0);
      isolate.cache.putMany(
        misses.map((i) => [keys[i], { tokenCount: encoded[i].fullLength, vector }] as const),
        waitUntil,
      );
    }
    run.embeddings += request.length;
    await Promise.all(background.splice(0));
  }
  return run;
}

const allTokens = requests.flat().reduce((sum, i) => sum + encoded[i].fullLength, 0);
const embeddings = requests.reduce((sum, request) => sum + request.length, 0);
const workersAi = (allTokens / embeddings) * WORKERS_AI_BGE_SMALL_PER_MILLION_TOKENS;

console.log(
  `bench:cost  bundle ${values.bundle} (${manifest.modelName}, ${manifest.contentHash.slice(0, 12)}), engine ${engine}, seed ${seed}`,
);
console.log(
  `workload: ${embeddings} embeddings in ${requests.length} requests over ${texts.length} distinct texts (Zipf s=1.1), ` +
    `${(allTokens / embeddings).toFixed(1)} tokens per embedding; ${num('colos')} data centres x ${num('isolates-per-colo')} isolates, ` +
    `isolate lifetime ~${num('isolate-lifetime')} requests; admit after ${num('admit-after')} accesses, ${num('writes-per-day')} KV writes per isolate per day`,
);
console.log(`CPU: ${cpu.how}`);
console.log(
  `cost model: ${cost.cpuMsPerToken.toFixed(4)} CPU-ms per token, ${cost.modelLoadCpuMs.toFixed(0)} CPU-ms per model load; ` +
    `KV read $${LIST_PRICES.kvReadPerMillion}/M, KV write $${LIST_PRICES.kvWritePerMillion}/M, CPU $${LIST_PRICES.cpuMsPerMillion}/M CPU-ms`,
);
console.log('');
console.log(
  '| CACHE_POLICY | KV reads | KV hits | KV writes | writes over budget | Cache API hits | LRU hits | texts inferred | inference tokens | model loads | CPU s | $ KV per M | $ CPU per M | $ total per M embeddings | Workers AI bge-small $ per M |',
);
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const mode of CACHE_POLICY_MODES) {
  const run = await runPolicy(mode);
  const c = run.counters;
  const cpuMs = run.inferenceTokens * cost.cpuMsPerToken + run.modelLoads * cost.modelLoadCpuMs;
  const perM = (usd: number) => ((usd / run.embeddings) * 1e6).toFixed(3);
  const total = costPerMillionEmbeddings(
    {
      embeddings: run.embeddings,
      kvReads: c.kvReads,
      kvWrites: c.kvWrites,
      inferenceTokens: run.inferenceTokens,
      modelLoads: run.modelLoads,
    },
    cost,
  );
  console.log(
    `| ${mode} | ${c.kvReads} | ${c.kvHits} | ${c.kvWrites} | ${c.kvWritesOverBudget} | ${c.cacheApiHits} | ${c.lruHits} | ${run.inferences} | ` +
      `${run.inferenceTokens} | ${run.modelLoads} | ${(cpuMs / 1000).toFixed(1)} | ` +
      `${perM(c.kvReads * kvReadCost(cost) + c.kvWrites * kvWriteCost(cost))} | ${perM(cpuCost(cost, cpuMs))} | ${total.toFixed(3)} | ${workersAi.toFixed(3)} |`,
  );
}
console.log('');
console.log(
  "Workers AI: every embedding priced on its full token count (this bundle's tokenizer) at $0.020 per million tokens, no cache. " +
    'KV and the Cache API are simulated (no eventual consistency, no Cache API eviction); isolates share nothing else.',
);
