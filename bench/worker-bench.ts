/**
 * `npm run bench`: requests/s and p50/p95 latency of the worker running in workerd (`wrangler dev`, started here on a
 * free port, or an already running worker given with --url), for single short inputs, batches of 32 mixed-length
 * inputs and cache hits, plus the model's cold load and ORT's WASM heap after load (from /info). Prints numbers only.
 *
 *   npm run bench -- [--url http://127.0.0.1:8787] [--requests 60] [--batches 8] [--api-key KEY]
 */
import { parseArgs } from 'node:util';
import { startWranglerDev, type WranglerDev } from '../test/worker-e2e/wrangler-dev.js';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    requests: { type: 'string', default: '60' },
    batches: { type: 'string', default: '8' },
    'api-key': { type: 'string' },
  },
});
const requests = Number(values.requests);
const batches = Number(values.batches);
const headers: Record<string, string> = { 'content-type': 'application/json' };
if (values['api-key']) headers.authorization = `Bearer ${values['api-key']}`;

const WORDS = 'the river stone quiet market lantern orbit meadow signal harbor copper garden winter engine story'.split(
  ' ',
);
/** A unique text per (run, index) so the cache never answers unless we want it to. */
const runTag = Date.now().toString(36);
function text(kind: string, i: number, words: number): string {
  return `${kind} ${runTag} ${i} ${Array.from({ length: words }, (_, j) => WORDS[(i * 3 + j) % WORDS.length]).join(' ')}`;
}

/** wrangler dev's proxy sometimes drops a POST after an idle keep-alive connection (workers-sdk#14641); not the worker. */
const PROXY_DROPPED = 'Your worker restarted mid-request';
let proxyRetries = 0;

async function post(url: string, body: unknown): Promise<{ ms: number; hits: number; misses: number }> {
  for (let attempt = 1; ; attempt++) {
    const started = performance.now();
    const response = await fetch(`${url}/v1/embeddings`, { method: 'POST', headers, body: JSON.stringify(body) });
    const text = new TextDecoder().decode(await response.arrayBuffer());
    const ms = performance.now() - started;
    if (response.status === 503 && text.startsWith(PROXY_DROPPED) && attempt < 3) {
      proxyRetries++;
      continue;
    }
    if (!response.ok) throw new Error(`HTTP ${response.status} from ${url}: ${text}`);
    return {
      ms,
      hits: Number(response.headers.get('x-cache-hits')),
      misses: Number(response.headers.get('x-cache-misses')),
    };
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

interface Row {
  scenario: string;
  requests: number;
  inputsPerRequest: number;
  'req/s': string;
  'inputs/s': string;
  'p50 ms': string;
  'p95 ms': string;
  'cache hits/misses': string;
}

async function scenario(name: string, url: string, bodies: unknown[], inputsPerRequest: number): Promise<Row> {
  const times: number[] = [];
  let hits = 0;
  let misses = 0;
  const started = performance.now();
  for (const body of bodies) {
    const result = await post(url, body);
    times.push(result.ms);
    hits += result.hits;
    misses += result.misses;
  }
  const seconds = (performance.now() - started) / 1000;
  times.sort((a, b) => a - b);
  return {
    scenario: name,
    requests: bodies.length,
    inputsPerRequest,
    'req/s': (bodies.length / seconds).toFixed(1),
    'inputs/s': ((bodies.length * inputsPerRequest) / seconds).toFixed(1),
    'p50 ms': percentile(times, 50).toFixed(1),
    'p95 ms': percentile(times, 95).toFixed(1),
    'cache hits/misses': `${hits}/${misses}`,
  };
}

async function info(url: string): Promise<{
  loaded: boolean;
  model_id: string;
  dimensions: number;
  max_input_length: number;
  wasm_heap_bytes: number | null;
  counters: Record<string, number>;
}> {
  const response = await fetch(`${url}/info`, { headers });
  if (!response.ok) throw new Error(`GET /info: HTTP ${response.status}`);
  return response.json() as never;
}

let dev: WranglerDev | undefined;
try {
  let url = values.url;
  if (url === undefined) {
    process.stdout.write('starting wrangler dev (workerd) ... ');
    const started = performance.now();
    dev = await startWranglerDev();
    url = dev.url;
    console.log(`ready in ${((performance.now() - started) / 1000).toFixed(1)} s at ${url}`);
  }
  const before = await info(url);
  console.log(
    `model ${before.model_id}: ${before.dimensions} dimensions, max ${before.max_input_length} tokens, loaded: ${before.loaded}`,
  );

  const cold = await post(url, { input: text('cold', 0, 8) });
  console.log(
    `first inference request (${before.loaded ? 'model already loaded' : 'includes the model load'}): ${cold.ms.toFixed(0)} ms`,
  );
  const loadedHeap = (await info(url)).wasm_heap_bytes;

  const maxWords = Math.max(4, Math.floor(before.max_input_length / 2) - 6);
  const singles = Array.from({ length: requests }, (_, i) => ({ input: text('single', i, 6 + (i % 5)) }));
  const batchBodies = Array.from({ length: batches }, (_, b) => ({
    // 2 words up to about half the model's max tokens (a word is 1-2 tokens), so nothing needs truncation.
    input: Array.from({ length: 32 }, (_, i) => text(`batch${b}`, i, 2 + ((i * 13) % maxWords))),
  }));
  const rows = [
    await scenario('single short input (miss)', url, singles, 1),
    await scenario('batch of 32 mixed lengths (miss)', url, batchBodies, 32),
    await scenario('single short input (cache hit)', url, singles, 1),
    await scenario('batch of 32 (cache hit)', url, batchBodies, 32),
  ];
  console.table(rows);

  const after = await info(url);
  const mib = (bytes: number | null) => (bytes === null ? 'n/a' : `${(bytes / 1024 / 1024).toFixed(1)} MiB`);
  // WASM memory only grows: the second number is the peak the batches needed (the isolate limit is 128 MiB).
  console.log(
    `ORT WASM heap: ${mib(loadedHeap)} after load and one inference, ${mib(after.wasm_heap_bytes)} after all scenarios`,
  );
  console.log(`worker counters: ${JSON.stringify(after.counters)}`);
  if (proxyRetries > 0)
    console.log(`requests resent after wrangler dev's proxy dropped them (workers-sdk#14641): ${proxyRetries}`);
} finally {
  await dev?.stop();
}
