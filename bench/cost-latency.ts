/**
 * `npm run bench:cost-latency`: what the cache policy adds to the latency of a new short text. The worker serving the
 * default bundle in one workerd (Miniflare, as bench:compare serves it) under each CACHE_POLICY, warm isolate: after
 * 40 untimed requests, N one-sentence requests, each text new, timed from Node over HTTP. Policies alternate over two
 * rounds so machine drift falls on all of them; p50 and p90 per policy and the p50 ratio against `off`.
 *
 *   npm run bench:cost-latency -- [--texts 100]
 *
 * Miniflare's KV and Cache API answer in about a millisecond; production KV reads of a new key are slower (see
 * docs/caching.md), so `always` looks better here than it would be.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { shortSentences } from './compare/texts.js';
import { startWorker } from './compare/workerd.js';

const root = join(import.meta.dirname, '..');
const { values } = parseArgs({ options: { texts: { type: 'string', default: '100' } } });
const count = Number(values.texts);
const policies = ['off', 'cost', 'always'] as const;
const samples = new Map<string, number[]>(policies.map((policy) => [policy, []]));

async function run(policy: string, round: number): Promise<void> {
  const persistTo = mkdtempSync(join(tmpdir(), 'edge-embed-cost-latency-'));
  const worker = await startWorker({
    config: join(root, 'bench/compare/wrangler.default.toml'),
    vars: { CACHE_POLICY: policy },
    persistTo,
  });
  try {
    const post = async (input: string) => {
      const started = performance.now();
      const response = await fetch(`${worker.url}/v1/embeddings`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ input }),
      });
      if (response.status !== 200) throw new Error(`${policy}: status ${response.status}: ${await response.text()}`);
      await response.arrayBuffer();
      return performance.now() - started;
    };
    // Seeds differ per round and policy, so every timed text is new to its worker and to KV.
    for (const text of shortSentences(40, 1000 + round)) await post(`warm-up ${policy} ${text}`);
    for (const text of shortSentences(count, 2000 + round)) samples.get(policy)?.push(await post(`${policy} ${text}`));
  } finally {
    await worker.stop();
    rmSync(persistTo, { recursive: true, force: true });
  }
}

const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
};

for (let round = 0; round < 2; round++) for (const policy of policies) await run(policy, round);
const offP50 = quantile(samples.get('off') ?? [], 0.5);
console.log(`new short text, warm isolate, ${2 * count} requests per policy (Miniflare, one workerd)`);
console.log('policy  p50 ms  p90 ms  p50 / off');
for (const policy of policies) {
  const values = samples.get(policy) ?? [];
  const p50 = quantile(values, 0.5);
  console.log(
    `${policy.padEnd(7)} ${p50.toFixed(2).padStart(6)}  ${quantile(values, 0.9).toFixed(2).padStart(6)}  ${(p50 / offP50).toFixed(2)}`,
  );
}
