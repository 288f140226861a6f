/**
 * Starts the worker with `npm start`'s launcher (scripts/start.mjs -> `wrangler dev`) on a free port with a throwaway
 * KV directory, waits until /health answers, and stops the whole process group (node, wrangler, workerd) afterwards.
 * Used by the end-to-end tests and the benchmark. Requests to it go through devFetch, which resends only what
 * wrangler's proxy itself dropped.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(import.meta.dirname, '../..');

export interface WranglerDev {
  url: string;
  /** Everything wrangler printed so far (for failure messages). */
  output(): string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/**
 * The start of the text wrangler dev's own proxy answers (status 503, text/plain, Retry-After: 0) when the worker
 * behind it restarted while a request other than GET/HEAD was in flight: the request never reached the worker, and
 * wrangler resends GETs itself but not POSTs (workers-sdk#14641; wrangler-dist/ProxyWorker.js).
 */
export const WRANGLER_PROXY_RESTART = 'Your worker restarted mid-request';
/** How many times devFetch sends one request at most. */
export const DEV_FETCH_ATTEMPTS = 3;

let proxyRetries = 0;
/** Requests devFetch has resent in this process (for a test or benchmark to report). */
export const devFetchRetries = () => proxyRetries;

/** True only for wrangler's proxy answer above: a 503 that is not JSON and starts with its text. The worker's own errors are JSON. */
export async function isWranglerProxyRestart(response: Response): Promise<boolean> {
  if (response.status !== 503 || response.headers.get('content-type')?.includes('json')) return false;
  return (await response.clone().text()).startsWith(WRANGLER_PROXY_RESTART);
}

/**
 * fetch() for requests that go through `wrangler dev`: sends the request again (at most DEV_FETCH_ATTEMPTS times in
 * all) only when wrangler's proxy answered it itself with the non-JSON 503 above; every other answer, the worker's
 * JSON 503 and 500 included, is returned as it came, on the first attempt. The one helper the end-to-end tests use.
 *
 * @example const response = await devFetch(`${dev.url}/v1/embeddings`, { method: 'POST', body: JSON.stringify({ input: 'hi' }) });
 */
export async function devFetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
  // A body is read once per send: keep the bytes so every attempt sends the same ones.
  const body = init?.body instanceof ReadableStream ? await new Response(init.body).arrayBuffer() : init?.body;
  const template = input instanceof Request ? input.clone() : undefined;
  for (let attempt = 1; ; attempt++) {
    const request = template ? template.clone() : input;
    const response = await fetch(request, init === undefined ? undefined : { ...init, body });
    if (attempt >= DEV_FETCH_ATTEMPTS || !(await isWranglerProxyRestart(response))) return response;
    await response.body?.cancel();
    proxyRetries++;
  }
}

/**
 * @example const dev = await startWranglerDev(); await devFetch(`${dev.url}/health`); await dev.stop();
 */
export async function startWranglerDev(
  options: {
    timeoutMs?: number;
    env?: Record<string, string>;
    args?: string[] /** Local KV folder to use and keep (default: a throwaway one). */;
    persistTo?: string;
  } = {},
): Promise<WranglerDev> {
  const port = await freePort();
  const persistDir = options.persistTo ?? (await mkdtemp(join(tmpdir(), 'edge-embed-kv-')));
  let output = '';
  const child: ChildProcess = spawn(
    process.execPath,
    [join(root, 'scripts/start.mjs'), '--persist-to', persistDir, ...(options.args ?? [])],
    {
      cwd: root,
      env: { ...process.env, PORT: String(port), WRANGLER_SEND_METRICS: 'false', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so stop() can end node, wrangler and workerd together.
      detached: true,
    },
  );
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let running = true;
  // If this process ends without stop() (a killed test run), take the detached group down with it.
  const killGroup = () => {
    if (running && child.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };
  process.once('exit', killGroup);
  void exited.then(() => {
    running = false;
    process.off('exit', killGroup);
  });

  const stop = async () => {
    if (running && child.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        // already gone
      }
      const killed = await Promise.race([
        exited.then(() => true),
        new Promise<boolean>((r) => setTimeout(() => r(false), 5000)),
      ]);
      if (!killed) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
        await exited;
      }
    }
    if (options.persistTo === undefined) await rm(persistDir, { recursive: true, force: true });
  };

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.timeoutMs ?? 180_000);
  while (true) {
    if (!running) {
      await stop();
      throw new Error(`wrangler dev exited before serving:\n${output}`);
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`wrangler dev did not answer /health within ${options.timeoutMs ?? 180_000} ms:\n${output}`);
    }
    const response = await fetch(`${url}/health`).catch(() => undefined); // undefined: not listening yet
    if (response?.ok) break;
    // A JSON answer comes from the worker itself (wrangler's own answers are text): up, but its bundle is broken.
    if (response?.headers.get('content-type')?.includes('application/json')) {
      const body = await response.text();
      await stop();
      throw new Error(`the worker is up but unhealthy: ${response.status} ${body}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return { url, output: () => output, stop };
}
