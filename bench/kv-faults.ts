/**
 * `npm run bench:kv-faults`: the worker under load while KV misbehaves. The default bundle in one workerd (Miniflare),
 * CACHE_POLICY=always (every miss reads and writes KV, the most KV traffic) and BENCH_KV_LATENCY=flaky: reads take
 * 50-300 ms for new keys, 10% fail, 10% never answer (KV_TIMEOUT_MS=200 turns them into misses), 20% of writes fail.
 * 64 clients send N requests (a pool of repeated texts and ~10% new ones) over /v1/embeddings and /embed. Then a probe
 * set is embedded by this worker and by a clean one (no KV, no LRU) and the vectors are compared.
 *
 *   npm run bench:kv-faults -- [--requests 2000] [--concurrency 64]
 *
 * Prints failed requests (status != 200) and the largest difference between the two workers' probe vectors; exits 1
 * if any request failed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { mulberry32 } from '../model-packager/src/fixtures/random.js';
import { shortSentences } from './compare/texts.js';
import { type BenchWorker, startWorker } from './compare/workerd.js';

const root = join(import.meta.dirname, '..');
const { values } = parseArgs({
  options: { requests: { type: 'string', default: '2000' }, concurrency: { type: 'string', default: '64' } },
});
const total = Number(values.requests);
const concurrency = Number(values.concurrency);
const config = join(root, 'bench/compare/wrangler.default.toml');
const pool = shortSentences(200, 61);
const probes = shortSentences(32, 62);
const random = mulberry32(63);

async function withWorker<T>(vars: Record<string, string>, use: (worker: BenchWorker) => Promise<T>): Promise<T> {
  const persistTo = mkdtempSync(join(tmpdir(), 'edge-embed-kv-faults-'));
  const worker = await startWorker({ config, vars, persistTo });
  try {
    return await use(worker);
  } finally {
    await worker.stop();
    rmSync(persistTo, { recursive: true, force: true });
  }
}

async function embed(worker: BenchWorker, texts: string[]): Promise<{ status: number; vectors: number[][] }> {
  const response = await fetch(`${worker.url}/embed`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ inputs: texts }),
  });
  return { status: response.status, vectors: response.status === 200 ? ((await response.json()) as number[][]) : [] };
}

const statuses = new Map<number, number>();
let maxDifference = 0;
await withWorker({ CACHE_POLICY: 'always', BENCH_KV_LATENCY: 'flaky', KV_TIMEOUT_MS: '200' }, async (worker) => {
  let sent = 0;
  let fresh = 0;
  const client = async () => {
    while (sent < total) {
      sent++;
      const text =
        random() < 0.1 ? `fresh ${fresh++} ${pool[fresh % pool.length]}` : pool[Math.floor(random() * pool.length)];
      const status = await (random() < 0.5
        ? embed(worker, [text]).then((result) => result.status)
        : fetch(`${worker.url}/v1/embeddings`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ input: [text, pool[0]], model: 'any' }),
          }).then(async (response) => {
            await response.arrayBuffer();
            return response.status;
          }));
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, client));
  const flaky = await embed(worker, probes);
  const clean = await withWorker({ BENCH_CACHE: 'off' }, (cleanWorker) => embed(cleanWorker, probes));
  if (flaky.status !== 200 || clean.status !== 200) throw new Error(`probe statuses ${flaky.status} / ${clean.status}`);
  flaky.vectors.forEach((vector, i) => {
    for (let d = 0; d < vector.length; d++)
      maxDifference = Math.max(maxDifference, Math.abs(vector[d] - clean.vectors[i][d]));
  });
});
const failed = [...statuses].filter(([status]) => status !== 200).reduce((sum, [, n]) => sum + n, 0);
console.log(
  `${total} requests, ${concurrency} clients, flaky KV (10% read errors, 10% hanging reads, 20% write errors)`,
);
console.log(`statuses: ${JSON.stringify(Object.fromEntries(statuses))}; failed: ${failed}`);
console.log(`probe vectors (32 texts) vs a clean worker: max |difference| ${maxDifference.toExponential(2)}`);
process.exitCode = failed === 0 ? 0 : 1;
