/**
 * `npm run bench:static`: issue 12's goals for the static tier, each measured in this run against a peer measured in
 * the same run. Workers are wrangler builds (`wrangler deploy --dry-run --outdir`) served by Miniflare, one workerd, as
 * bench:compare serves them: the static bundle alone through bench/static/wrangler.static.toml (static-entry.ts, no
 * ONNX Runtime) and the transformer through bench/compare/wrangler.default.toml (the default bundle with the static
 * one compiled in beside it, for /v1/rank's rerank_top_k; ENGINE=auto, so the plan engine, as production serves it).
 * Requests are sequential, from one Node client, over HTTP.
 *
 * 1. Upload: `wrangler deploy --dry-run` of the production static-only entry (worker/src/index-static.ts, what
 *    `tenant add --static` deploys) and of the default entry (wrangler.toml's main); wrangler's Total Upload and gzip,
 *    and the modules each ships.
 * 2. Throughput: POST /v1/embeddings with 32 new short sentences (6-10 words) per request, cache off, static vs
 *    transformer, alternating over rounds, once per --encoding (JSON floats, then base64); /info must say kind static
 *    and no ORT heap for the static worker.
 *    Then what bounds the static batch, in the same run: GET /health (the HTTP floor), and the same 32 sentences
 *    again on a static worker with its LRU on (every text a hit: no tokenization, no table lookup), each with JSON
 *    floats and base64.
 * 2c. In-isolate throughput, the computation without HTTP: 32 new short sentences per batch, cache off, run inside
 *    each worker's own isolate by bench/static/isolate-bench.ts (`POST /__bench/isolate`, benchmark entries only):
 *    tokenization alone; tokenize -> engine (the pipeline), the transformer on ONNX Runtime and then on the plan engine
 *    (what ENGINE=auto runs in production); and the whole app as served, ENGINE=auto (each batch a POST /v1/embeddings
 *    to the worker's own fetch handler, JSON floats and base64). Static vs transformer alternate over many short rounds (the
 *    machine's load moves both alike). Timed from outside: the request's time minus the same request's with
 *    `dry: true`, divided by its batches.
 * 3. Latency: one new short sentence per POST /v1/embeddings on the warm static worker (cache off), p50 against
 *    GET /health's p50, requests interleaved.
 * 4. Ranking cost: POST /v1/rank with 200 new short sentences as documents, cache off (KV, LRU and Cache API), transformer only vs
 *    `rerank_top_k: 20` (static over all 200, the transformer over 20), alternating.
 * 5. Ranking quality, when the STS file exists: the STS-dev retrieval set of `edge-embed eval --retrieval-from-sts`
 *    (queries: first sentences of pairs with gold >= 4; documents: every distinct second sentence) through /v1/rank
 *    of the transformer worker (cache on, MAX_INPUTS raised to fit all documents), with and without
 *    `rerank_top_k: 20`; recall@10 of the two-stage ranking over the transformer's.
 *
 *   npm run bench:static -- [--sts ../shared/data/stsbenchmark/sts-dev.csv] [--rounds 3] [--batches 8]
 *                           [--singles 300] [--rank-queries 8] [--top-k 20] [--parts upload,throughput,isolate,latency,rank,recall]
 *                           [--encoding float,base64] [--isolate-rounds 12] [--isolate-batches 40]
 *                           [--isolate-transformer-batches 3]
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { retrievalFromSts } from '../model-packager/src/eval/retrieval.js';
import { readStsFile } from '../model-packager/src/eval/sts.js';
import { shortSentences } from './compare/texts.js';
import { type BenchWorker, startWorker } from './compare/workerd.js';

const root = join(import.meta.dirname, '..');
const staticConfig = join(root, 'bench/static/wrangler.static.toml');
const transformerConfig = join(root, 'bench/compare/wrangler.default.toml');
const defaultSts = join(root, '../shared/data/stsbenchmark/sts-dev.csv');

const { values } = parseArgs({
  options: {
    sts: { type: 'string' },
    rounds: { type: 'string', default: '3' },
    batches: { type: 'string', default: '8' },
    singles: { type: 'string', default: '300' },
    'rank-queries': { type: 'string', default: '8' },
    'top-k': { type: 'string', default: '20' },
    encoding: { type: 'string', default: 'float,base64' },
    'isolate-rounds': { type: 'string', default: '12' },
    'isolate-batches': { type: 'string', default: '40' },
    'isolate-transformer-batches': { type: 'string', default: '3' },
    parts: { type: 'string', default: 'upload,throughput,isolate,latency,rank,recall' },
  },
});
const rounds = Number(values.rounds);
const transformerBatches = Number(values.batches);
const singles = Number(values.singles);
const rankQueries = Number(values['rank-queries']);
const topK = Number(values['top-k']);
const isolateRounds = Number(values['isolate-rounds']);
const isolateStaticBatches = Number(values['isolate-batches']);
const isolateTransformerBatches = Number(values['isolate-transformer-batches']);
// BENCH_CACHE = "off" drops KV and the in-isolate LRU, but the default CACHE_POLICY (cost) still reads and writes the
// Cache API tier for every text, which in Miniflare is a round trip to Node per text; CACHE_POLICY = "off" drops it too.
const CACHE_OFF = { BENCH_CACHE: 'off', CACHE_POLICY: 'off' };
const encodings = values.encoding.split(',').map((name) => (name === 'base64' ? 'base64' : 'float'));
const parts = new Set(values.parts.split(','));
const BATCH = 32;
const RANK_DOCUMENTS = 200;

const quantile = (samples: number[], q: number) => {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
};
const kib = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;

// 1. Upload sizes.
function dryRun(config: string, extra: string[]): { total: number; gzip: number; modules: string[] } {
  const outdir = mkdtempSync(join(tmpdir(), 'edge-embed-bench-static-'));
  try {
    const wrangler = createRequire(import.meta.url).resolve('wrangler/bin/wrangler.js');
    const output = execFileSync(
      process.execPath,
      [wrangler, 'deploy', '--dry-run', '--config', config, '--outdir', outdir, ...extra],
      { cwd: root, env: { ...process.env, WRANGLER_SEND_METRICS: 'false' }, encoding: 'utf8' },
    );
    const match = /Total Upload: ([\d.]+) KiB \/ gzip: ([\d.]+) KiB/.exec(output);
    if (!match) throw new Error(`no "Total Upload" line in wrangler's output:\n${output}`);
    const modules = readdirSync(outdir)
      .filter((file) => !file.endsWith('.map') && file !== 'README.md')
      .map((file) => `${file.replace(/^[0-9a-f]{40}-/, '')} ${kib(statSync(join(outdir, file)).size)}`);
    return { total: Number(match[1]) * 1024, gzip: Number(match[2]) * 1024, modules };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

if (parts.has('upload')) {
  const productionConfig = join(root, 'wrangler.toml');
  const staticUpload = dryRun(productionConfig, ['worker/src/index-static.ts', '--env=']);
  const defaultUpload = dryRun(productionConfig, ['--env=']);
  console.log('## upload (wrangler deploy --dry-run)');
  console.log(
    `static-only entry (worker/src/index-static.ts): ${(staticUpload.total / 1e6).toFixed(2)} MB, gzip ${(staticUpload.gzip / 2 ** 20).toFixed(2)} MiB; modules: ${staticUpload.modules.join(', ')}`,
  );
  console.log(
    `  goals: bundle <= 4 MB: ${staticUpload.total <= 4e6 ? 'met' : 'missed'}; upload <= 3 MiB gzip: ${staticUpload.gzip <= 3 * 2 ** 20 ? 'met' : 'missed'}`,
  );
  console.log(
    `default entry (wrangler.toml's main): ${(defaultUpload.total / 1e6).toFixed(2)} MB, gzip ${(defaultUpload.gzip / 2 ** 20).toFixed(2)} MiB; modules: ${defaultUpload.modules.join(', ')}`,
  );
}

// Requests.
async function post(url: string, path: string, body: unknown): Promise<{ ms: number; json: unknown }> {
  const started = performance.now();
  const response = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  const ms = performance.now() - started;
  if (response.status !== 200) throw new Error(`${path}: status ${response.status}: ${text.slice(0, 500)}`);
  return { ms, json: JSON.parse(text) };
}

async function health(url: string): Promise<number> {
  const started = performance.now();
  const response = await fetch(`${url}/health`);
  await response.arrayBuffer();
  if (!response.ok) throw new Error(`/health: status ${response.status}`);
  return performance.now() - started;
}

async function info(url: string): Promise<{ kind: string; wasm_heap_bytes: number | null; loaded: boolean }> {
  return (await (await fetch(`${url}/info`)).json()) as {
    kind: string;
    wasm_heap_bytes: number | null;
    loaded: boolean;
  };
}

let seed = 100;
const batch = () => shortSentences(BATCH, seed++);

const persistDirs: string[] = [];
const persist = () => {
  const dir = mkdtempSync(join(tmpdir(), 'edge-embed-bench-static-kv-'));
  persistDirs.push(dir);
  return dir;
};
const workers: BenchWorker[] = [];
try {
  if (['throughput', 'isolate', 'latency', 'rank'].some((part) => parts.has(part))) await servingParts();
  if (parts.has('recall')) await recallPart();
} finally {
  for (const worker of workers) await worker.stop();
  for (const dir of persistDirs) rmSync(dir, { recursive: true, force: true });
}

async function servingParts(): Promise<void> {
  const staticWorker = await startWorker({ config: staticConfig, vars: CACHE_OFF, persistTo: persist() });
  workers.push(staticWorker);
  const transformer = await startWorker({
    config: transformerConfig,
    vars: CACHE_OFF,
    persistTo: persist(),
  });
  workers.push(transformer);

  if (parts.has('throughput')) {
    for (const encoding of encodings) await throughputPart(staticWorker, transformer, encoding);
    // The LRU on (BENCH_CACHE on; a static bundle under CACHE_POLICY=cost uses the LRU only).
    const cachedStatic = await startWorker({ config: staticConfig, vars: {}, persistTo: persist() });
    workers.push(cachedStatic);
    await staticBreakdown(staticWorker, cachedStatic);
  }
  if (parts.has('isolate')) await isolatePart(staticWorker, transformer);
  if (parts.has('latency')) await latencyPart(staticWorker);
  if (parts.has('rank')) await rankPart(transformer);
  for (const worker of workers.splice(0)) await worker.stop();
}

// 2. Throughput, batches of 32. Static batches take a small fraction of a transformer batch, so each round gives
// the static worker ten times as many batches.
async function throughputPart(
  staticWorker: BenchWorker,
  transformer: BenchWorker,
  encoding: 'float' | 'base64',
): Promise<void> {
  for (let i = 0; i < 3; i++) {
    await post(staticWorker.url, '/v1/embeddings', { input: batch(), encoding_format: encoding });
    await post(transformer.url, '/v1/embeddings', { input: batch(), encoding_format: encoding });
  }
  const time = { static: 0, transformer: 0 };
  const texts = { static: 0, transformer: 0 };
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < 10 * transformerBatches; i++) {
      time.static += (await post(staticWorker.url, '/v1/embeddings', { input: batch(), encoding_format: encoding })).ms;
      texts.static += BATCH;
    }
    for (let i = 0; i < transformerBatches; i++) {
      time.transformer += (
        await post(transformer.url, '/v1/embeddings', { input: batch(), encoding_format: encoding })
      ).ms;
      texts.transformer += BATCH;
    }
  }
  const staticInfo = await info(staticWorker.url);
  const transformerInfo = await info(transformer.url);
  const staticRate = (texts.static / time.static) * 1000;
  const transformerRate = (texts.transformer / time.transformer) * 1000;
  console.log(
    `\n## throughput, batches of 32 short sentences, encoding_format ${encoding}, cache off (Miniflare, one workerd each)`,
  );
  console.log(
    `static      ${staticRate.toFixed(0).padStart(7)} texts/s  (${texts.static} texts, ${(time.static / (texts.static / BATCH)).toFixed(2)} ms per batch)  /info kind ${staticInfo.kind}, wasm_heap_bytes ${staticInfo.wasm_heap_bytes}`,
  );
  console.log(
    `transformer ${transformerRate.toFixed(0).padStart(7)} texts/s  (${texts.transformer} texts, ${(time.transformer / (texts.transformer / BATCH)).toFixed(2)} ms per batch)  /info kind ${transformerInfo.kind}, wasm_heap_bytes ${transformerInfo.wasm_heap_bytes}`,
  );
  const speedup = staticRate / transformerRate;
  console.log(`static / transformer: ${speedup.toFixed(1)}x  (goal >= 100x: ${speedup >= 100 ? 'met' : 'missed'})`);
  if (staticInfo.kind !== 'static' || (staticInfo.wasm_heap_bytes ?? 0) !== 0)
    throw new Error(`the static worker reports kind ${staticInfo.kind}, wasm_heap_bytes ${staticInfo.wasm_heap_bytes}`);
}

/** Mean ms of `requests` calls of `run`, after 3 unmeasured ones. */
async function meanMs(requests: number, run: () => Promise<number>): Promise<number> {
  for (let i = 0; i < 3; i++) await run();
  let total = 0;
  for (let i = 0; i < requests; i++) total += await run();
  return total / requests;
}

// 2b. What a static batch of 32 spends: HTTP (/health), then per encoding the batch with every text an LRU hit
// (request parsing, hashing, the LRU, encoding the response, the client's parsing) and with new texts (plus
// tokenization and the table lookup), interleaved over rounds.
async function staticBreakdown(uncached: BenchWorker, cached: BenchWorker): Promise<void> {
  const repeated = shortSentences(BATCH, 4242);
  const n = 10 * transformerBatches;
  const sum = new Map<string, number>();
  const add = (label: string, ms: number) => sum.set(label, (sum.get(label) ?? 0) + ms / rounds);
  for (let round = 0; round < rounds; round++) {
    add('GET /health', await meanMs(n, () => health(uncached.url)));
    for (const format of ['float', 'base64'] as const) {
      const hits = async () =>
        (await post(cached.url, '/v1/embeddings', { input: repeated, encoding_format: format })).ms;
      const fresh = async () =>
        (await post(uncached.url, '/v1/embeddings', { input: batch(), encoding_format: format })).ms;
      add(`batch of 32, every text an LRU hit, ${format}`, await meanMs(n, hits));
      add(`batch of 32, new texts, cache off, ${format}`, await meanMs(n, fresh));
    }
  }
  console.log(
    `\n## what a static batch of 32 spends (mean ms per request, ${rounds} rounds of ${n} each, interleaved)`,
  );
  for (const [label, ms] of sum) console.log(`${label.padEnd(46)} ${ms.toFixed(2).padStart(7)} ms`);
}

// 2c. In-isolate throughput: the batches run inside the worker's isolate (bench/static/isolate-bench.ts), timed from
// outside as the request's time minus the same request with `dry: true` (the body sent and parsed, nothing run).
async function isolateMs(worker: BenchWorker, body: Record<string, unknown>): Promise<number> {
  const run = await post(worker.url, '/__bench/isolate', body);
  const dry = await post(worker.url, '/__bench/isolate', { ...body, dry: true });
  return run.ms - dry.ms;
}

async function isolatePart(staticWorker: BenchWorker, transformer: BenchWorker): Promise<void> {
  const stages = [
    { label: 'tokenize alone', body: { stage: 'tokenize', engine: 'ort' }, goal: false },
    { label: 'pipeline, transformer on ORT', body: { stage: 'pipeline', engine: 'ort' }, goal: true },
    { label: 'pipeline, transformer on plan', body: { stage: 'pipeline', engine: 'plan' }, goal: true },
    { label: 'app, JSON floats', body: { stage: 'app', encoding_format: 'float' }, goal: true },
    { label: 'app, base64', body: { stage: 'app', encoding_format: 'base64' }, goal: true },
  ];
  const workersByKind = [
    { kind: 'static', worker: staticWorker, batches: isolateStaticBatches },
    { kind: 'transformer', worker: transformer, batches: isolateTransformerBatches },
  ];
  // Per stage and kind, ms per batch in each round.
  const ms = new Map<string, number[]>();
  // Warm-up: V8 optimises the tokenizer's and ORT's hot code only after it has run for a while.
  for (const stage of stages) {
    for (const { worker, batches } of workersByKind) {
      await isolateMs(worker, { ...stage.body, batches: Array.from({ length: 2 * batches }, batch) });
    }
  }
  for (let round = 0; round < isolateRounds; round++) {
    for (const stage of stages) {
      for (const { kind, worker, batches } of workersByKind) {
        const taken = await isolateMs(worker, { ...stage.body, batches: Array.from({ length: batches }, batch) });
        const key = `${stage.label}/${kind}`;
        ms.set(key, [...(ms.get(key) ?? []), taken / batches]);
      }
    }
  }
  console.log(
    `\n## in-isolate throughput, batches of 32 new short sentences, cache off: inside one workerd per bundle, no network (${isolateRounds} short rounds, static ${isolateStaticBatches} batches and transformer ${isolateTransformerBatches} per round, alternating; ratio of the means, then of each side's fastest round)`,
  );
  const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
  for (const stage of stages) {
    const staticRounds = ms.get(`${stage.label}/static`) as number[];
    const transformerRounds = ms.get(`${stage.label}/transformer`) as number[];
    const [staticMs, transformerMs] = [mean(staticRounds), mean(transformerRounds)];
    const speedup = transformerMs / staticMs;
    const fastest = Math.min(...transformerRounds) / Math.min(...staticRounds);
    const verdict = stage.goal
      ? `${speedup.toFixed(1)}x (fastest rounds ${fastest.toFixed(1)}x)  (goal >= 100x: ${speedup >= 100 ? 'met' : 'missed'})`
      : '(no goal)';
    console.log(
      `${stage.label.padEnd(30)} static ${staticMs.toFixed(2).padStart(6)} ms per batch (${((BATCH / staticMs) * 1000).toFixed(0)} texts/s), transformer ${transformerMs.toFixed(1).padStart(6)} ms (${((BATCH / transformerMs) * 1000).toFixed(0)} texts/s): ${verdict}`,
    );
  }
}

// 3. One short sentence, warm, against /health.
async function latencyPart(staticWorker: BenchWorker): Promise<void> {
  const embedMs: number[] = [];
  const healthMs: number[] = [];
  const sentences = shortSentences(singles, 9000);
  for (const sentence of shortSentences(50, 8000)) await post(staticWorker.url, '/v1/embeddings', { input: sentence });
  for (const sentence of sentences) {
    embedMs.push((await post(staticWorker.url, '/v1/embeddings', { input: sentence })).ms);
    healthMs.push(await health(staticWorker.url));
  }
  const embedP50 = quantile(embedMs, 0.5);
  const healthP50 = quantile(healthMs, 0.5);
  console.log(
    `\n## one short sentence, static worker, warm, cache off, ${singles} requests interleaved with GET /health`,
  );
  console.log(
    `POST /v1/embeddings p50 ${embedP50.toFixed(2)} ms, p90 ${quantile(embedMs, 0.9).toFixed(2)} ms; GET /health p50 ${healthP50.toFixed(2)} ms; ` +
      `difference ${(embedP50 - healthP50).toFixed(2)} ms  (goal p50 <= 2 ms: ${embedP50 <= 2 ? 'met' : 'missed'})`,
  );
}

// 4. Ranking cost, 200 documents per query.
async function rankPart(transformer: BenchWorker): Promise<void> {
  const rankMs = { transformer: [] as number[], twoStage: [] as number[] };
  await post(transformer.url, '/v1/rank', {
    query: 'warm up',
    documents: shortSentences(40, 7000),
    rerank_top_k: topK,
  });
  for (let q = 0; q < rankQueries; q++) {
    for (const mode of ['transformer', 'twoStage'] as const) {
      const [query, ...documents] = shortSentences(RANK_DOCUMENTS + 1, 20000 + 2 * q + (mode === 'twoStage' ? 1 : 0));
      const body = mode === 'twoStage' ? { query, documents, rerank_top_k: topK } : { query, documents };
      rankMs[mode].push((await post(transformer.url, '/v1/rank', body)).ms);
    }
  }
  const rankRate = (samples: number[]) => (samples.length / samples.reduce((sum, ms) => sum + ms, 0)) * 1000;
  const rankSpeedup = rankRate(rankMs.twoStage) / rankRate(rankMs.transformer);
  console.log(`\n## /v1/rank, ${RANK_DOCUMENTS} new short documents per query, cache off, ${rankQueries} queries each`);
  console.log(
    `transformer only  ${rankRate(rankMs.transformer).toFixed(2)} queries/s (p50 ${quantile(rankMs.transformer, 0.5).toFixed(0)} ms)`,
  );
  console.log(
    `rerank_top_k ${topK}   ${rankRate(rankMs.twoStage).toFixed(2)} queries/s (p50 ${quantile(rankMs.twoStage, 0.5).toFixed(0)} ms)`,
  );
  console.log(
    `two-stage / transformer only: ${rankSpeedup.toFixed(1)}x  (goal >= 5x: ${rankSpeedup >= 5 ? 'met' : 'missed'})`,
  );
}

// 5. Ranking quality on STS-dev.
async function recallPart(): Promise<void> {
  const stsPath = values.sts === undefined ? (existsSync(defaultSts) ? defaultSts : undefined) : resolve(values.sts);
  if (stsPath === undefined) {
    console.log(`\n## recall@10: skipped, no STS file (${defaultSts} does not exist; pass --sts <file>)`);
  } else {
    const set = retrievalFromSts(await readStsFile(stsPath));
    const ids = [...set.documents.keys()];
    const documents = ids.map((id) => set.documents.get(id) as string);
    const ranker = await startWorker({
      config: transformerConfig,
      vars: { MAX_INPUTS: String(documents.length) },
      persistTo: persist(),
    });
    workers.push(ranker);
    const recall = { transformer: 0, twoStage: 0 };
    for (const query of set.queries) {
      const relevant = new Set(query.relevant.map((id) => ids.indexOf(id)));
      for (const mode of ['transformer', 'twoStage'] as const) {
        const body = { query: query.text, documents, top_k: 10, ...(mode === 'twoStage' && { rerank_top_k: topK }) };
        const { json } = await post(ranker.url, '/v1/rank', body);
        const top = (json as { results: { index: number }[] }).results.map((result) => result.index);
        recall[mode] += top.filter((index) => relevant.has(index)).length / relevant.size;
      }
    }
    const n = set.queries.length;
    const ratio = recall.twoStage / recall.transformer;
    console.log(`\n## recall@10 on ${stsPath}: ${n} queries, ${documents.length} documents, through /v1/rank`);
    console.log(`transformer only ${(recall.transformer / n).toFixed(4)}`);
    console.log(`rerank_top_k ${topK}  ${(recall.twoStage / n).toFixed(4)}`);
    console.log(
      `two-stage / transformer only: ${ratio.toFixed(4)}  (goal >= 0.97: ${ratio >= 0.97 ? 'met' : 'missed'})`,
    );
  }
}
