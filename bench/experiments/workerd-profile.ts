/**
 * Where a warm request's time goes inside workerd: a V8 CPU profile, taken through the plain workerd host's inspector
 * (bench/compare/workerd.ts), over `--requests` single short sentences (bench:compare's) to POST /v1/embeddings, cache
 * off. Prints self time by function and by the pipeline stage its source file belongs to, and writes the raw profile
 * (open it in Chrome DevTools) next to the report.
 *
 *   npx tsx bench/experiments/workerd-profile.ts [--bundle use|minilm] [--requests 300] [--warmup 100]
 *                                                [--out /tmp/workerd-profile] [--engine plan|ort] [--stage http|app]
 *
 * `--stage app` (USE Lite only: its entry has bench/static/isolate-bench.ts) sends the same requests to the worker's
 * fetch handler from inside the isolate, so the profile holds the worker's own code and no HTTP.
 *
 * With a client attached to workerd's inspector every console.log is also sent to that client, which costs ~2-3 ms per
 * call (the request log's line): that share is the profiler's, not production's. Sampling inflates the rest evenly;
 * the shares are the point, the absolute figures are not.
 * The stage of a function comes from the bundled file's source map (workerd reports the built file's lines).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { shortSentences } from '../compare/texts.js';
import { buildWorker, startWorker } from '../compare/workerd.js';

const root = join(import.meta.dirname, '../..');
const { values } = parseArgs({
  options: {
    bundle: { type: 'string', default: 'use' },
    requests: { type: 'string', default: '300' },
    warmup: { type: 'string', default: '100' },
    engine: { type: 'string', default: 'plan' },
    stage: { type: 'string', default: 'http' },
    out: { type: 'string', default: '/tmp/workerd-profile' },
  },
});
const config = join(root, `bench/compare/wrangler.${values.bundle === 'minilm' ? 'minilm' : 'default'}.toml`);
const REQUESTS = Number(values.requests);
const sentences = shortSentences(REQUESTS, 7);

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** A minimal CDP client: one call at a time is enough here. */
async function inspector(port: number) {
  const list = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as { webSocketDebuggerUrl: string }[];
  const socket = new WebSocket(list[0].webSocketDebuggerUrl.replace('localhost', '127.0.0.1'));
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  let next = 1;
  const pending = new Map<number, (result: unknown) => void>();
  socket.on('message', (data) => {
    const message = JSON.parse(String(data)) as { id?: number; result?: unknown; error?: unknown };
    if (message.id !== undefined)
      pending.get(message.id)?.(message.error ? Promise.reject(message.error) : message.result);
  });
  return {
    call: <T>(method: string, params: object = {}) =>
      new Promise<T>((resolve) => {
        const id = next++;
        pending.set(id, resolve as (result: unknown) => void);
        socket.send(JSON.stringify({ id, method, params }));
      }),
    close: () => socket.close(),
  };
}

async function post(url: string, input: string) {
  const response = await fetch(`${url}/v1/embeddings`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', connection: 'close' },
    body: JSON.stringify({ input }),
  });
  if (!response.ok) throw new Error(`HTTP ${response.status}: ${await response.text()}`);
  await response.arrayBuffer();
}

/** Source-map lookup: generated line/column (0-based) to the original source path. */
function sourceLookup(mapPath: string): (line: number, column: number) => string {
  const map = JSON.parse(readFileSync(mapPath, 'utf8')) as { sources: string[]; mappings: string };
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const lines: [number, number][][] = [];
  let source = 0;
  for (const line of map.mappings.split(';')) {
    const segments: [number, number][] = [];
    let column = 0;
    for (const segment of line.split(',')) {
      if (!segment) continue;
      const fields: number[] = [];
      let value = 0;
      let shift = 0;
      for (const char of segment) {
        const digit = chars.indexOf(char);
        value += (digit & 31) << shift;
        if (digit & 32) shift += 5;
        else {
          fields.push(value & 1 ? -(value >> 1) : value >> 1);
          value = 0;
          shift = 0;
        }
      }
      column += fields[0];
      if (fields.length > 1) {
        source += fields[1];
        segments.push([column, source]);
      }
    }
    lines.push(segments);
  }
  return (line, column) => {
    const segments = lines[line] ?? [];
    let found = segments[0]?.[1];
    for (const [start, index] of segments) if (start <= column) found = index;
    return found === undefined ? '?' : map.sources[found];
  };
}

/** A source path to the stage it belongs to (first match wins). */
const STAGES: [RegExp, string][] = [
  [/engine\/|plan-engine|plan-kernels/, 'plan engine (JS side + WASM)'],
  [/@huggingface\/tokenizers|tokenizer|word-cache|unigram/i, 'tokenizer'],
  [/node_modules\/zod|wire\/|parse\.ts/, 'request parsing and validation'],
  [/node_modules\/hono/, 'Hono'],
  [/middleware\//, 'middleware'],
  [/cache\/|cache-lookup|cache-policy/, 'cache'],
  [/config\.ts/, 'config'],
  [/embedding\//, 'embedding service'],
  [/onnxruntime|ort-/, 'ORT'],
];

const worker = await startWorker({
  config,
  vars: { BENCH_CACHE: 'off', ENGINE: values.engine },
  persistTo: '/tmp',
  host: 'workerd',
  inspector: true,
});
try {
  for (let i = 0; i < Number(values.warmup); i++) await post(worker.url, `warm-up ${i} ${sentences[i % REQUESTS]}`);
  const cdp = await inspector(worker.inspectorPort as number);
  await cdp.call('Profiler.enable');
  await cdp.call('Profiler.setSamplingInterval', { interval: 50 });
  await cdp.call('Profiler.start');
  const started = performance.now();
  if (values.stage === 'app') {
    const response = await fetch(`${worker.url}/__bench/isolate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ stage: 'app', batches: sentences.map((text) => [text]) }),
    });
    if (!response.ok) throw new Error(`/__bench/isolate: HTTP ${response.status}`);
    await response.arrayBuffer();
  } else for (const text of sentences) await post(worker.url, text);
  const wallMs = performance.now() - started;
  const { profile } = await cdp.call<{ profile: Profile }>('Profiler.stop');
  cdp.close();
  writeFileSync(`${values.out}.cpuprofile`, JSON.stringify(profile));

  const build = buildWorker(config);
  const mainFile = `${values.bundle === 'minilm' ? 'minilm' : 'default'}-entry.js`;
  const lookup = sourceLookup(join(build, `${mainFile}.map`));
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  for (const [i, id] of profile.samples.entries()) selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  const byFunction = new Map<string, number>();
  const byStage = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)?.callFrame;
    if (!frame) continue;
    const source = frame.url.endsWith(mainFile)
      ? lookup(frame.lineNumber, frame.columnNumber)
      : frame.url || '(native)';
    const name = `${frame.functionName || '(anonymous)'} ${source.replace(/^(\.\.\/)+/, '')}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + us);
    const stage = frame.url.endsWith(mainFile)
      ? (STAGES.find(([pattern]) => pattern.test(source))?.[1] ?? 'other worker code')
      : frame.functionName.startsWith('(')
        ? frame.functionName
        : `outside the bundle (${frame.url.includes('wasm') ? 'WASM' : 'runtime'})`;
    byStage.set(stage, (byStage.get(stage) ?? 0) + us);
  }
  const perRequest = (us: number) => (us / 1000 / REQUESTS).toFixed(3);
  const lines = [
    `${values.bundle} (${values.engine}), ${REQUESTS} single-sentence requests (${values.stage}), ${(wallMs / REQUESTS).toFixed(2)} ms each`,
    '',
    'ms per request by stage (self time):',
    ...[...byStage].sort((a, b) => b[1] - a[1]).map(([stage, us]) => `  ${perRequest(us).padStart(7)}  ${stage}`),
    '',
    'top functions (self ms per request):',
    ...[...byFunction]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 40)
      .map(([name, us]) => `  ${perRequest(us).padStart(7)}  ${name}`),
  ];
  console.log(lines.join('\n'));
  writeFileSync(`${values.out}.txt`, `${lines.join('\n')}\n`);
} finally {
  await worker.stop();
}
