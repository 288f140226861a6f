/**
 * One short sentence per request, warm isolate, cache off: p50/p95 of POST /v1/embeddings and of GET /health (the
 * transport alone) for each bundle on each host, in one run with interleaved rounds (issue 11's latency goal: a
 * production-like host, one workerd and no dev proxy).
 *
 *   npm run bench:latency -- [--rounds 3] [--requests 40] [--warmup 30] [--bundles use,minilm]
 *                            [--hosts workerd,workerd-inspector,miniflare,wrangler-dev] [--throughput-texts 256]
 *                            [--out bench/results/latency-latest]
 *
 * Bundles: `use` is bundles/default (USE Lite) through bench/compare/wrangler.default.toml, `minilm` the MiniLM-sized
 * fixture through bench/compare/wrangler.minilm.toml; both with BENCH_CACHE = "off" and the default engine (the plan).
 * Hosts (bench/compare/workerd.ts): `workerd` is wrangler's deployable build (`wrangler deploy --dry-run --outdir`)
 * served by the plain workerd binary, the socket straight to the worker; `workerd-inspector` the same with workerd's
 * V8 inspector open (no client attached), which is what `wrangler dev` does; `miniflare` the same build behind
 * Miniflare's entry worker (bench:compare's host); `wrangler-dev` what `npm start` runs, with its dev proxy (a second
 * workerd) in front.
 *
 * Every worker is started first and warmed (`--warmup` single sentences and one batch of 32, then one more pass over
 * all workers, untimed). Then each round visits every (bundle, host) in a rotated order and sends `--requests` GET
 * /health, then as many single sentences (bench:compare's, texts.ts), each on a new connection (as bench:compare does:
 * Miniflare drops a POST on a reused keep-alive connection), reading the workerd processes' CPU time around each block.
 * Reported: p50/p95 over all rounds, the spread of the rounds' p50s, each host's p50 over plain workerd's for the same
 * bundle, and the host's CPU ms per request (workerd, and Miniflare's or wrangler's Node).
 *
 * Second part, the fixed costs around the engine (issue 11: USE Lite's end-to-end gain over ORT was 1.05x against
 * 1.45x for the engine alone): USE Lite on plain workerd with ENGINE = plan and ENGINE = ort (a second worker), in
 * the same rounds, the latency part's sentences one per call and `--throughput-texts` of bench:compare's USE texts
 * (20-60 words) in calls of 32, three ways:
 * `pipeline` (tokenizer + engine in the isolate, bench/static/isolate-bench.ts), `app` (the worker's whole fetch handler
 * in the isolate, no HTTP) and `HTTP` (POST /v1/embeddings). 0 turns this part off.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { timedRequest } from './compare/http.js';
import { percentile } from './compare/percentile.js';
import { makeWorkload, shortSentences } from './compare/texts.js';
import { type BenchWorker, startWorker, type WorkerHost } from './compare/workerd.js';

const root = join(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    requests: { type: 'string', default: '40' },
    warmup: { type: 'string', default: '30' },
    bundles: { type: 'string', default: 'use,minilm' },
    hosts: { type: 'string', default: 'workerd,workerd-inspector,miniflare,wrangler-dev' },
    'throughput-texts': { type: 'string', default: '256' },
    out: { type: 'string', default: 'bench/results/latency-latest' },
  },
});
const ROUNDS = Number(values.rounds);
const REQUESTS = Number(values.requests);
const WARMUP = Number(values.warmup);
const THROUGHPUT_TEXTS = Number(values['throughput-texts']);

const BUNDLES = {
  use: { label: 'USE Lite (bundles/default)', config: 'bench/compare/wrangler.default.toml' },
  minilm: { label: 'MiniLM-sized (bundles/minilm-fixture)', config: 'bench/compare/wrangler.minilm.toml' },
} as const;
type BundleName = keyof typeof BUNDLES;

interface HostSpec {
  label: string;
  host: WorkerHost;
  inspector: boolean;
  /** More `wrangler dev` arguments. */
  args?: string[];
}
const HOSTS: Record<string, HostSpec> = {
  workerd: { label: 'plain workerd (production-like)', host: 'workerd', inspector: false },
  'workerd-inspector': { label: 'plain workerd, inspector open', host: 'workerd', inspector: true },
  miniflare: { label: 'Miniflare (bench:compare)', host: 'miniflare', inspector: false },
  'wrangler-dev': { label: 'wrangler dev (npm start)', host: 'wrangler-dev', inspector: false },
  'wrangler-dev-quiet': {
    label: 'wrangler dev --log-level warn',
    host: 'wrangler-dev',
    inspector: false,
    args: ['--log-level', 'warn'],
  },
} satisfies Record<string, HostSpec>;
type HostName = keyof typeof HOSTS;

function names<T extends string>(list: string, known: Record<T, unknown>): T[] {
  return list.split(',').map((name) => {
    if (!(name in known)) throw new Error(`unknown name "${name}" (known: ${Object.keys(known).join(', ')})`);
    return name as T;
  });
}
const bundles = names<BundleName>(values.bundles, BUNDLES);
const hosts = names<HostName>(values.hosts, HOSTS);

// Each worker and build registers an exit handler (bench/compare/workerd.ts): ten workers are expected, not a leak.
process.setMaxListeners(32);
const log = (message: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${message}`);
const f1 = (value: number) => value.toFixed(1);
const f2 = (value: number) => value.toFixed(2);

/** One request on a new connection (timedRequest); ms until the whole body is read, or an error unless 200. */
async function timed(url: string, path: string, body?: string): Promise<number> {
  const { ms, status, body: text } = await timedRequest(url, path, body);
  if (status !== 200) throw new Error(`HTTP ${status} from ${url}${path}: ${text}`);
  return ms;
}
const embed = (url: string, input: string | string[]) => timed(url, '/v1/embeddings', JSON.stringify({ input }));

interface Cell {
  bundle: BundleName;
  host: HostName;
  worker: BenchWorker;
  health: number[][];
  sentence: number[][];
  /** host CPU (all threads) summed over the rounds' /health and sentence blocks. */
  healthCpuMs: number;
  sentenceCpuMs: number;
}

/** Texts per second of wall time and per second of workerd CPU, one entry per round. */
interface Rate {
  wall: number[];
  cpu: number[];
}
const STAGES = ['pipeline', 'app', 'HTTP'] as const;
type Stage = (typeof STAGES)[number];
interface EngineRates {
  engine: 'plan' | 'ort';
  worker: BenchWorker;
  /** By workload, then stage. */
  rates: Record<string, Record<Stage, Rate>>;
}

const sentences = shortSentences(REQUESTS, 7);
const useTexts = makeWorkload(THROUGHPUT_TEXTS, 3, 0, [20, 60]).texts;
/** The second part's calls: the latency part's sentences one per call (fixed costs show most), and USE texts in 32s. */
const WORKLOADS: Record<string, string[][]> = {
  'one sentence per call': sentences.map((text) => [text]),
  'calls of 32': Array.from({ length: Math.ceil(useTexts.length / 32) }, (_, i) => useTexts.slice(i * 32, i * 32 + 32)),
};

/** One pass of a workload's calls through one stage: texts per wall second and per workerd CPU second. */
async function rate(worker: BenchWorker, stage: Stage, batches: string[][]): Promise<[number, number]> {
  const texts = batches.flat().length;
  const cpu = worker.cpuMs();
  const started = performance.now();
  if (stage === 'HTTP') for (const batch of batches) await embed(worker.url, batch);
  else await timed(worker.url, '/__bench/isolate', JSON.stringify({ stage, batches }));
  return [texts / ((performance.now() - started) / 1000), texts / ((worker.cpuMs() - cpu) / 1000)];
}
const warmBatch = makeWorkload(32, 99).texts.map((text) => text.split(' ').slice(0, 60).join(' '));
const scratch = mkdtempSync(join(tmpdir(), 'edge-embed-latency-'));
const cells: Cell[] = [];
const engines: EngineRates[] = [];
const loadBefore = loadavg();
log(`load average ${loadBefore.map(f2).join(' ')} on ${cpus().length} cores`);
try {
  for (const bundle of bundles) {
    for (const host of hosts) {
      log(`start ${bundle} on ${host}`);
      const worker = await startWorker({
        config: join(root, BUNDLES[bundle].config),
        vars: { BENCH_CACHE: 'off' },
        persistTo: join(scratch, `${bundle}-${host}`),
        host: HOSTS[host].host,
        inspector: HOSTS[host].inspector,
        wranglerArgs: HOSTS[host].args,
      });
      cells.push({ bundle, host, worker, health: [], sentence: [], healthCpuMs: 0, sentenceCpuMs: 0 });
      for (let i = 0; i < WARMUP; i++) await embed(worker.url, `warm-up ${i} ${sentences[i % sentences.length]}`);
      await embed(worker.url, warmBatch);
    }
  }
  if (THROUGHPUT_TEXTS > 0) {
    for (const engine of ['plan', 'ort'] as const) {
      log(`start USE Lite on plain workerd, ENGINE=${engine}`);
      const worker = await startWorker({
        config: join(root, BUNDLES.use.config),
        vars: { BENCH_CACHE: 'off', ENGINE: engine },
        persistTo: join(scratch, `use-${engine}`),
        host: 'workerd',
      });
      const empty = () => ({
        pipeline: { wall: [], cpu: [] },
        app: { wall: [], cpu: [] },
        HTTP: { wall: [], cpu: [] },
      });
      engines.push({
        engine,
        worker,
        rates: Object.fromEntries(Object.keys(WORKLOADS).map((name) => [name, empty()])),
      });
      for (const batches of Object.values(WORKLOADS)) for (const stage of STAGES) await rate(worker, stage, batches);
    }
  }
  // One untimed pass over every worker first: the last-started workers' background compilation (V8 tiering up the
  // wasm modules on its worker threads) would otherwise take CPU from the first cells of round 1.
  for (const cell of cells) for (const text of sentences) await embed(cell.worker.url, text);
  for (let round = 0; round < ROUNDS; round++) {
    const order = cells.map((_, i) => cells[(i + round * 3) % cells.length]);
    for (const cell of order) {
      const health: number[] = [];
      const sentence: number[] = [];
      let cpu = cell.worker.cpuMs();
      for (let i = 0; i < REQUESTS; i++) health.push(await timed(cell.worker.url, '/health'));
      cell.healthCpuMs += cell.worker.cpuMs() - cpu;
      cpu = cell.worker.cpuMs();
      for (const text of sentences) sentence.push(await embed(cell.worker.url, text));
      cell.sentenceCpuMs += cell.worker.cpuMs() - cpu;
      cell.health.push(health);
      cell.sentence.push(sentence);
      log(
        `round ${round + 1} ${cell.bundle} ${cell.host}: /health p50 ${f2(percentile(health, 50))} ms, sentence p50 ${f2(percentile(sentence, 50))} ms`,
      );
    }
    for (const [workload, batches] of Object.entries(WORKLOADS)) {
      for (const stage of STAGES) {
        for (const run of round % 2 === 0 ? engines : [...engines].reverse()) {
          const [wall, cpu] = await rate(run.worker, stage, batches);
          run.rates[workload][stage].wall.push(wall);
          run.rates[workload][stage].cpu.push(cpu);
          log(
            `round ${round + 1} USE Lite ${run.engine}, ${workload}, ${stage}: ${f1(wall)} texts/s, ${f1(cpu)} per CPU second`,
          );
        }
      }
    }
  }
} finally {
  await Promise.all([...cells, ...engines].map((run) => run.worker.stop()));
  rmSync(scratch, { recursive: true, force: true });
}
const loadAfter = loadavg();

interface Row {
  bundle: BundleName;
  host: HostName;
  healthP50: number;
  healthP95: number;
  sentenceP50: number;
  sentenceP95: number;
  roundP50s: number[];
  /** host CPU per request, ms (all threads, so background compilation and GC count). */
  healthCpuMs: number;
  sentenceCpuMs: number;
  /** sentence p50 over plain workerd's for the same bundle (when plain workerd ran). */
  ratio: number | null;
}
const rows: Row[] = cells.map((cell) => {
  const health = cell.health.flat();
  const sentence = cell.sentence.flat();
  return {
    bundle: cell.bundle,
    host: cell.host,
    healthP50: percentile(health, 50),
    healthP95: percentile(health, 95),
    sentenceP50: percentile(sentence, 50),
    sentenceP95: percentile(sentence, 95),
    roundP50s: cell.sentence.map((round) => percentile(round, 50)),
    healthCpuMs: cell.healthCpuMs / health.length,
    sentenceCpuMs: cell.sentenceCpuMs / sentence.length,
    ratio: null,
  };
});
for (const row of rows) {
  const peer = rows.find((other) => other.bundle === row.bundle && other.host === 'workerd');
  row.ratio = peer ? row.sentenceP50 / peer.sentenceP50 : null;
}

const command = `npm run bench:latency -- --rounds ${ROUNDS} --requests ${REQUESTS} --warmup ${WARMUP} --bundles ${bundles.join(',')} --hosts ${hosts.join(',')}`;
const md = [
  '# One short sentence: latency by host',
  '',
  `\`${command}\`, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${cpus().length} cores (${cpus()[0]?.model.trim()}), Node ${process.version}; ` +
    `load average ${loadBefore.map(f2).join(' ')} before, ${loadAfter.map(f2).join(' ')} after.`,
  '',
  `Warm isolate (${WARMUP} sentences and a batch of 32 first), cache off (BENCH_CACHE = "off"), plan engine. ${ROUNDS} interleaved rounds of ` +
    `${REQUESTS} GET /health then ${REQUESTS} POST /v1/embeddings with one 6-10-word sentence per worker, after one untimed pass over all workers; ` +
    'each request on a new connection, timed by the client (node:http) to the last byte. "round p50s" is the spread of the per-round p50s; the ratio ' +
    "is the sentence p50 over plain workerd's. CPU is the host's processes' (workerd, and Miniflare's or wrangler's Node; all threads, /proc " +
    'schedstat) over the same requests: less ' +
    'sensitive than wall time to other jobs on the machine.',
  '',
  '| bundle | host | /health p50 ms | /health p95 ms | sentence p50 ms | sentence p95 ms | round p50s ms | sentence − /health p50 ms | p50 / plain workerd | host CPU ms per /health | per sentence |',
  '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ...rows.map(
    (row) =>
      `| ${BUNDLES[row.bundle].label} | ${HOSTS[row.host].label} | ${f2(row.healthP50)} | ${f2(row.healthP95)} | ${f2(row.sentenceP50)} | ` +
      `${f2(row.sentenceP95)} | ${row.roundP50s.map(f1).join(' / ')} | ${f2(row.sentenceP50 - row.healthP50)} | ${row.ratio === null ? '-' : `${f2(row.ratio)}x`} | ${f2(row.healthCpuMs)} | ${f2(row.sentenceCpuMs)} |`,
  ),
  '',
];
const median = (values: number[]) => percentile(values, 50);
const plan = engines.find((run) => run.engine === 'plan');
const ort = engines.find((run) => run.engine === 'ort');
if (plan && ort) {
  md.push(
    '## Fixed costs around the engine: USE Lite, plan vs ORT',
    '',
    `The latency part's ${sentences.length} sentences one per call, and ${useTexts.length} of bench:compare's USE texts (20-60 words) in calls ` +
      'of 32; plain workerd, cache off, one worker per engine, interleaved in the same rounds. `pipeline` is the tokenizer and the engine ' +
      "inside the isolate, `app` the worker's whole fetch handler inside the isolate (middleware, config, validation, tokenizer, engine, " +
      'JSON), `HTTP` POST /v1/embeddings from this process. Median of the rounds (spread in brackets): texts per second of wall time, and ' +
      'workerd CPU ms per call (`app` − `pipeline` is the fixed cost of the worker around the engine).',
    '',
    '| calls | stage | plan texts/s | ORT texts/s | plan / ORT | plan CPU ms per call | ORT CPU ms per call | plan / ORT (CPU) |',
    '|---|---|---:|---:|---:|---:|---:|---:|',
    ...Object.entries(WORKLOADS).flatMap(([workload, batches]) =>
      STAGES.map((stage) => {
        const perCall = batches.flat().length / batches.length;
        const ms = (rates: number[]) => rates.map((rate) => (1000 * perCall) / rate);
        const spread = (values: number[]) =>
          `${f2(median(values))} (${f2(Math.min(...values))}-${f2(Math.max(...values))})`;
        const p = plan.rates[workload][stage];
        const o = ort.rates[workload][stage];
        return (
          `| ${workload} | ${stage} | ${spread(p.wall)} | ${spread(o.wall)} | ${f2(median(p.wall) / median(o.wall))}x | ` +
          `${spread(ms(p.cpu))} | ${spread(ms(o.cpu))} | ${f2(median(p.cpu) / median(o.cpu))}x |`
        );
      }),
    ),
    '',
  );
}
console.log(`\n${md.join('\n')}`);
const out = resolve(root, values.out);
mkdirSync(join(out, '..'), { recursive: true });
writeFileSync(`${out}.md`, md.join('\n'));
writeFileSync(
  `${out}.json`,
  // Times to 0.01 ms and one sample list per line: the raw samples stay readable in a diff.
  `${JSON.stringify(
    {
      command,
      date: new Date().toISOString(),
      loadBefore,
      loadAfter,
      rows,
      samples: cells.map(({ bundle, host, health, sentence }) => ({ bundle, host, health, sentence })),
      throughput: engines.map(({ engine, rates }) => ({ engine, rates })),
    },
    (_, value) => (typeof value === 'number' ? Math.round(value * 100) / 100 : value),
    1,
  ).replace(/\[\s+([\d.,\s-]+?)\s+\]/g, (_, list: string) => `[${list.replace(/\s+/g, '')}]`)}\n`,
);
log(`wrote ${values.out}.md and .json`);
