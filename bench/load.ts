/**
 * `npm run bench:load [-- --requests 10000 --concurrency 64 --time-limit-s 600]`: a load test on loopback against
 * `wrangler dev` (built default bundle). 64 clients send a seeded mix of requests (mostly repeated texts that hit the
 * cache, ~5% new texts that run inference and write KV) over /v1/embeddings, /embed, /v1/rank and /tokenize. It reads
 * /info's wasm_heap_bytes and the workerd process RSS after a warm-up (the first 10% of requests) and at the end.
 * Exits 1 on any error, on memory growth after warm-up above 10%, or when the time limit is hit.
 */
import { readdir, readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { mulberry32 } from '../model-packager/src/fixtures/random.js';
import { freePort, startWranglerDev } from '../test/worker-e2e/wrangler-dev.js';

const { values: args } = parseArgs({
  options: {
    requests: { type: 'string', default: '10000' },
    concurrency: { type: 'string', default: '64' },
    'time-limit-s': { type: 'string', default: '600' },
    seed: { type: 'string', default: '7' },
    /** `health`: GET /health only, to tell the dev server's own per-request memory from the API's. */
    mix: { type: 'string', default: 'api' },
  },
});
const TOTAL = Number(args.requests);
const CONCURRENCY = Number(args.concurrency);
const TIME_LIMIT_MS = Number(args['time-limit-s']) * 1000;
const WARM_UP = Math.floor(TOTAL / 10);
const MAX_GROWTH = 0.1;

const WORDS =
  'river stone quiet market lantern orbit meadow signal harbor copper garden window silver engine forest bridge winter paper'.split(
    ' ',
  );
const random = mulberry32(Number(args.seed));
const sentence = (n: number) => Array.from({ length: n }, () => WORDS[Math.floor(random() * WORDS.length)]).join(' ');
const POOL = Array.from({ length: 400 }, (_, i) => `pool ${i}: ${sentence(4 + (i % 24))}`);
let fresh = 0;

/** One request of the mix: [path, body]. */
function nextRequest(): [string, unknown] {
  if (args.mix === 'health') return ['/health', undefined];
  const r = random();
  const text = r < 0.05 ? `fresh ${fresh++}: ${sentence(6 + (fresh % 30))}` : POOL[Math.floor(random() * POOL.length)];
  const kind = random();
  if (kind < 0.5) return ['/v1/embeddings', { input: [text, POOL[Math.floor(random() * POOL.length)]], model: 'm' }];
  if (kind < 0.75) return ['/embed', { inputs: text }];
  if (kind < 0.9) return ['/v1/rank', { query: text, documents: POOL.slice(0, 8), top_k: 3 }];
  return ['/tokenize', { inputs: text }];
}

/** Processes below this one whose command is workerd (wrangler dev's runtime). */
async function workerdPids(): Promise<number[]> {
  const parents = new Map<number, number>();
  const names = new Map<number, string>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      const match = /^\d+ \((.*)\) \S+ (\d+)/.exec(stat);
      if (match) {
        parents.set(Number(entry), Number(match[2]));
        names.set(Number(entry), match[1]);
      }
    } catch {
      // gone
    }
  }
  const descends = (pid: number) => {
    for (let p = parents.get(pid); p !== undefined && p > 1; p = parents.get(p)) if (p === process.pid) return true;
    return false;
  };
  return [...names].filter(([pid, name]) => name === 'workerd' && descends(pid)).map(([pid]) => pid);
}

async function rssBytes(pids: number[]): Promise<number> {
  let total = 0;
  for (const pid of pids) {
    const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
    total += Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
  }
  return total;
}

/**
 * The worker isolate's V8 heap through wrangler dev's inspector (Chrome DevTools protocol): garbage-collects, then
 * reads Runtime.getHeapUsage. This plus the WASM heap is the memory Cloudflare's 128 MB isolate limit counts.
 */
async function isolateHeap(inspectorPort: number): Promise<() => Promise<number>> {
  const targets = (await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json()) as Array<{
    webSocketDebuggerUrl: string;
  }>;
  const url =
    targets.find((target) => target.webSocketDebuggerUrl.includes('edge-embed'))?.webSocketDebuggerUrl ??
    targets[0].webSocketDebuggerUrl;
  // Node 20 has no global WebSocket; `ws` comes with miniflare (wrangler dev's own dependency).
  const wsModule = 'ws';
  const Socket =
    (globalThis as { WebSocket?: typeof WebSocket }).WebSocket ??
    ((await import(wsModule)) as { default: typeof WebSocket }).default;
  const socket = new Socket(url);
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = reject;
  });
  let id = 0;
  const pending = new Map<number, (result: unknown) => void>();
  socket.onmessage = (event: MessageEvent) => {
    const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown };
    if (message.id !== undefined) pending.get(message.id)?.(message.result);
  };
  const send = (method: string) =>
    new Promise<unknown>((resolve, reject) => {
      pending.set(++id, resolve);
      socket.send(JSON.stringify({ id, method }));
      setTimeout(() => reject(new Error(`inspector: no answer to ${method}`)), 30_000).unref();
    });
  // workerd runs these in order but does not answer them: fire and forget, before each heap reading.
  const post = (method: string) => socket.send(JSON.stringify({ id: ++id, method }));
  post('HeapProfiler.enable');
  return async () => {
    post('HeapProfiler.collectGarbage');
    return ((await send('Runtime.getHeapUsage')) as { usedSize: number }).usedSize;
  };
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

const inspectorPort = await freePort();
const dev = await startWranglerDev({ args: ['--inspector-port', String(inspectorPort)] });
try {
  const jsHeap = await isolateHeap(inspectorPort);
  const pids = await workerdPids();
  if (pids.length === 0) throw new Error('no workerd process found under this process');
  const memory = async () => {
    const info = (await (await fetch(`${dev.url}/info`)).json()) as { wasm_heap_bytes: number | null };
    return { wasm: info.wasm_heap_bytes ?? 0, js: await jsHeap(), rss: await rssBytes(pids) };
  };
  const statuses: Record<string, number> = {};
  const latencies: number[] = [];
  const errors: string[] = [];
  const samples: Array<{ after: number; wasm: number; js: number; rss: number }> = [];
  let issued = 0;
  let done = 0;
  let warm: { wasm: number; js: number; rss: number } | undefined;
  let sampling = Promise.resolve();
  const started = performance.now();
  const deadline = started + TIME_LIMIT_MS;

  async function client(): Promise<void> {
    while (issued < TOTAL && performance.now() < deadline) {
      issued++;
      const [path, body] = nextRequest();
      const t0 = performance.now();
      try {
        const response = await fetch(
          `${dev.url}${path}`,
          body === undefined
            ? {}
            : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) },
        );
        const text = await response.text();
        statuses[response.status] = (statuses[response.status] ?? 0) + 1;
        if (response.status !== 200) errors.push(`${path}: ${response.status} ${text.slice(0, 200)}`);
      } catch (error) {
        statuses.network = (statuses.network ?? 0) + 1;
        errors.push(`${path}: ${String(error)}`);
      }
      latencies.push(performance.now() - t0);
      done++;
      if (done === WARM_UP || done % 1000 === 0 || done === TOTAL) {
        const after = done;
        sampling = sampling.then(async () => {
          const sample = { after, ...(await memory()) };
          samples.push(sample);
          if (after === WARM_UP) warm = sample;
        });
      }
    }
  }

  await Promise.all(Array.from({ length: CONCURRENCY }, client));
  await sampling;
  const seconds = (performance.now() - started) / 1000;
  const end = await memory();
  latencies.sort((a, b) => a - b);
  const growth = (key: 'wasm' | 'js' | 'rss') => (warm && warm[key] > 0 ? (end[key] - warm[key]) / warm[key] : 0);
  const timedOut = done < TOTAL;

  console.log(
    `load: ${done} requests, ${CONCURRENCY} concurrent clients, ${seconds.toFixed(1)} s (${(done / seconds).toFixed(0)} req/s), ${fresh} new texts`,
  );
  console.log(
    `  statuses: ${JSON.stringify(statuses)}; errors: ${errors.length}${errors.length ? ` (first: ${errors[0]})` : ''}`,
  );
  console.log(
    `  latency ms: p50 ${percentile(latencies, 50).toFixed(1)}, p95 ${percentile(latencies, 95).toFixed(1)}, p99 ${percentile(latencies, 99).toFixed(1)}, max ${latencies[latencies.length - 1].toFixed(1)}`,
  );
  const pct = (key: 'wasm' | 'js' | 'rss') => `${growth(key) >= 0 ? '+' : ''}${(growth(key) * 100).toFixed(1)}%`;
  console.log(
    `  isolate memory after warm-up (${WARM_UP} requests): wasm heap ${mib(warm?.wasm ?? 0)}, JS heap after GC ${mib(warm?.js ?? 0)}; workerd RSS ${mib(warm?.rss ?? 0)}`,
  );
  console.log(
    `  isolate memory at the end: wasm heap ${mib(end.wasm)} (${pct('wasm')}), JS heap after GC ${mib(end.js)} (${pct('js')}); workerd RSS ${mib(end.rss)} (${pct('rss')})`,
  );
  console.log(
    `  samples (requests: wasm / JS / RSS): ${samples
      .sort((a, b) => a.after - b.after)
      .map((s) => `${s.after}: ${mib(s.wasm)} / ${mib(s.js)} / ${mib(s.rss)}`)
      .join(', ')}`,
  );
  const isolateGrowth = warm ? (end.wasm + end.js - warm.wasm - warm.js) / (warm.wasm + warm.js) : 0;
  console.log(`  isolate memory (wasm + JS) growth after warm-up: ${(isolateGrowth * 100).toFixed(1)}%`);
  const failed = errors.length > 0 || timedOut || isolateGrowth > MAX_GROWTH;
  console.log(
    failed
      ? `FAIL${timedOut ? ` (time limit ${TIME_LIMIT_MS / 1000} s reached)` : ''}`
      : 'PASS: 0 errors, memory growth after warm-up within 10%',
  );
  if (errors.length > 0) {
    const logged = dev
      .output()
      .split('\n')
      .filter((line) => /"level":"error"/.test(line));
    console.log(`  worker error logs (${logged.length}): ${logged.slice(0, 3).join('\n    ')}`);
  }
  process.exitCode = failed ? 1 : 0;
} finally {
  await dev.stop();
}
