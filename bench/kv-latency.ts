/**
 * `npm run bench:kv-latency`: the worker's latency when KV answers like production does for new keys (50-300 ms per
 * read, BENCH_KV_LATENCY = "cold", seeded), against the same worker with no KV, in one run. The default bundle in one
 * workerd (Miniflare, as bench:compare serves it), warm isolate: after 40 untimed requests, N one-sentence requests,
 * each text new, timed from Node over HTTP. Configurations alternate over two rounds. Then the cached path: a request
 * of 32 cached texts (base64) against GET /health on the no-KV worker.
 *
 *   npm run bench:kv-latency -- [--texts 60]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { shortSentences } from './compare/texts.js';
import { type BenchWorker, startWorker } from './compare/workerd.js';

const root = join(import.meta.dirname, '..');
const { values } = parseArgs({ options: { texts: { type: 'string', default: '60' } } });
const count = Number(values.texts);

/** Each configuration: its vars; `always` reads KV for every miss, so it shows the KV wait the hedge cuts. */
const configurations: Record<string, Record<string, string>> = {
  'no KV': { BENCH_CACHE: 'off' },
  'cold KV, always, no hedge': { BENCH_KV_LATENCY: 'cold', CACHE_POLICY: 'always', HEDGE_AFTER_MS: '100000' },
  'cold KV, always, hedge 10 ms': { BENCH_KV_LATENCY: 'cold', CACHE_POLICY: 'always', HEDGE_AFTER_MS: '10' },
  'cold KV, always, hedge 0 ms': { BENCH_KV_LATENCY: 'cold', CACHE_POLICY: 'always', HEDGE_AFTER_MS: '0' },
  'cold KV, cost (default)': { BENCH_KV_LATENCY: 'cold' },
};
const samples = new Map<string, number[]>(Object.keys(configurations).map((name) => [name, []]));

async function timed(url: string, init?: RequestInit): Promise<number> {
  const started = performance.now();
  const response = await fetch(url, init);
  if (response.status !== 200) throw new Error(`${url}: status ${response.status}: ${await response.text()}`);
  await response.arrayBuffer();
  return performance.now() - started;
}

const post = (worker: BenchWorker, input: string | string[], format = 'float') =>
  timed(`${worker.url}/v1/embeddings`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ input, encoding_format: format, model: 'any' }),
  });

async function withWorker<T>(vars: Record<string, string>, use: (worker: BenchWorker) => Promise<T>): Promise<T> {
  const persistTo = mkdtempSync(join(tmpdir(), 'edge-embed-kv-latency-'));
  const worker = await startWorker({ config: join(root, 'bench/compare/wrangler.default.toml'), vars, persistTo });
  try {
    return await use(worker);
  } finally {
    await worker.stop();
    rmSync(persistTo, { recursive: true, force: true });
  }
}

const quantile = (list: number[], q: number) => {
  const sorted = [...list].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
};

for (let round = 0; round < 2; round++) {
  for (const [name, vars] of Object.entries(configurations)) {
    await withWorker(vars, async (worker) => {
      for (const text of shortSentences(40, 3000 + round)) await post(worker, `warm-up ${name} ${text}`);
      for (const text of shortSentences(count, 4000 + round))
        samples.get(name)?.push(await post(worker, `${name} ${text}`));
    });
  }
}
const baseline = quantile(samples.get('no KV') ?? [], 0.5);
console.log(`new short text, warm isolate, ${2 * count} requests per configuration (Miniflare, one workerd)`);
console.log('configuration                    p50 ms  p90 ms  p50 / no KV');
for (const [name, list] of samples) {
  const p50 = quantile(list, 0.5);
  console.log(
    `${name.padEnd(32)} ${p50.toFixed(2).padStart(6)}  ${quantile(list, 0.9).toFixed(2).padStart(6)}  ${(p50 / baseline).toFixed(2)}`,
  );
}

// The cached path: 32 texts, all in the LRU after one untimed request, base64, against GET /health.
await withWorker({}, async (worker) => {
  const texts = shortSentences(32, 5000);
  await post(worker, texts, 'base64');
  const cached: number[] = [];
  const health: number[] = [];
  for (let i = 0; i < 100; i++) {
    cached.push(await post(worker, texts, 'base64'));
    health.push(await timed(`${worker.url}/health`));
  }
  const ratio = quantile(cached, 0.5) / quantile(health, 0.5);
  console.log(
    `32 cached texts (base64) p50 ${quantile(cached, 0.5).toFixed(2)} ms, GET /health p50 ${quantile(health, 0.5).toFixed(2)} ms: ${ratio.toFixed(2)}x`,
  );
});
