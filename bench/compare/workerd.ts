/**
 * Starts the worker for the benchmark in its own process group, with a given config, vars and KV directory; measures
 * the time to the first /health answer and reads workerd's RSS. Three hosts:
 * - 'miniflare' (the default): wrangler's build of the config (`wrangler deploy --dry-run --outdir`, made once per
 *   config by {@link buildWorker}, not timed) served by Miniflare: one workerd process, but HTTP reaches the worker
 *   through Miniflare's entry worker.
 * - 'workerd': the same build served by the plain workerd binary from a generated capnp config (workerd-config.ts): one
 *   process, the socket straight to the worker, no KV (BENCH_CACHE = "off" only), and an inspector only with
 *   `inspector: true` (what wrangler dev always attaches).
 * - 'wrangler-dev': `wrangler dev`, which bundles at start and puts a second workerd (its dev proxy) in front.
 * Unlike test/worker-e2e/wrangler-dev.ts the KV directory is the caller's, so a second process can start on the first
 * one's cache (a cold isolate, warm KV).
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { freePort } from '../../test/worker-e2e/wrangler-dev.js';
import { writeWorkerdConfig } from './workerd-config.js';

const root = join(import.meta.dirname, '../..');
const require = createRequire(import.meta.url);

export type WorkerHost = 'miniflare' | 'workerd' | 'wrangler-dev';

export interface BenchWorker {
  url: string;
  /** Spawn to the first successful /health, ms. */
  readyMs: number;
  /** performance.now() at spawn. */
  spawnedAt: number;
  /** workerd's V8 inspector (host 'workerd' with `inspector: true`). */
  inspectorPort?: number;
  /** Resident set of the workerd process(es) of this worker, bytes. */
  rssBytes(): number;
  /**
   * CPU time of the host's processes so far, all threads, ms (Linux: /proc schedstat): workerd, and for Miniflare and
   * wrangler dev their Node processes too (wrangler's request log line, for one, is written by Node).
   */
  cpuMs(): number;
  /** What the worker process printed so far (for a failure's message). */
  output(): string;
  stop(): Promise<void>;
}

const builds = new Map<string, string>();

/** wrangler's deployable build of a config (what `wrangler deploy` would upload), in a temporary folder; cached per config for the process. */
export function buildWorker(config: string): string {
  const known = builds.get(config);
  if (known) return known;
  const outdir = mkdtempSync(join(tmpdir(), 'edge-embed-bench-build-'));
  // ~23 MB each (ORT's wasm and the bundle): removed when the benchmark process ends.
  process.once('exit', () => rmSync(outdir, { recursive: true, force: true }));
  execFileSync(
    process.execPath,
    [require.resolve('wrangler/bin/wrangler.js'), 'deploy', '--dry-run', '--config', config, '--outdir', outdir],
    {
      cwd: root,
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false' },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  builds.set(config, outdir);
  return outdir;
}

export async function startWorker(options: {
  config: string;
  vars?: Record<string, string>;
  persistTo: string;
  host?: WorkerHost;
  /** 'workerd' only: open workerd's V8 inspector on a free port (BenchWorker.inspectorPort). */
  inspector?: boolean;
  /** 'wrangler-dev' only: more arguments for `wrangler dev`. */
  wranglerArgs?: string[];
}): Promise<BenchWorker> {
  const port = await freePort();
  let command = process.execPath;
  let args: string[];
  let inspectorPort: number | undefined;
  if (options.host === 'workerd') {
    if (options.vars?.BENCH_CACHE !== 'off')
      throw new Error("the plain workerd host has no KV: pass BENCH_CACHE 'off'");
    const build = buildWorker(options.config);
    command = require('workerd').default as string;
    args = ['serve', writeWorkerdConfig(options.config, build, port, options.vars)];
    if (options.inspector) {
      inspectorPort = await freePort();
      args.push(`--inspector-addr=127.0.0.1:${inspectorPort}`);
    }
  } else if ((options.host ?? 'miniflare') === 'miniflare') {
    const build = buildWorker(options.config);
    args = [
      require.resolve('tsx/cli'),
      join(import.meta.dirname, 'miniflare-host.ts'),
      options.config,
      build,
      String(port),
      options.persistTo,
      JSON.stringify(options.vars ?? {}),
    ];
  } else {
    const wrangler = require.resolve('wrangler/bin/wrangler.js');
    args = [
      wrangler,
      'dev',
      '--ip',
      '127.0.0.1',
      '--port',
      String(port),
      '--persist-to',
      options.persistTo,
      '--show-interactive-dev-session=false',
      '--config',
      options.config,
    ];
    for (const [name, value] of Object.entries(options.vars ?? {})) args.push('--var', `${name}:${value}`);
    args.push(...(options.wranglerArgs ?? []));
  }
  const spawnedAt = performance.now();
  const child = spawn(command, args, {
    cwd: root,
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  let running = true;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      running = false;
      resolve();
    }),
  );
  const kill = (signal: NodeJS.Signals) => {
    try {
      if (running && child.pid !== undefined) process.kill(-child.pid, signal);
    } catch {
      // already gone
    }
  };
  const onExit = () => kill('SIGKILL');
  process.once('exit', onExit);
  const stop = async () => {
    kill('SIGTERM');
    const done = await Promise.race([
      exited.then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), 5000)),
    ]);
    if (!done) kill('SIGKILL');
    await exited;
    process.off('exit', onExit);
  };

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 180_000;
  for (;;) {
    if (!running || Date.now() > deadline) {
      await stop();
      throw new Error(`the worker (${options.host ?? 'miniflare'}) did not serve /health:\n${output}`);
    }
    const response = await fetch(`${url}/health`).catch(() => undefined);
    if (response?.ok) break;
    await response?.arrayBuffer();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const readyMs = performance.now() - spawnedAt;
  /** [rss KiB, pid, command] of each process of the group. */
  const processes = () =>
    execFileSync('ps', ['-o', 'rss=,pid=,comm=', '-g', String(child.pid)], { encoding: 'utf8' })
      .split('\n')
      .map((row) => row.trim().split(/\s+/))
      .filter(([, , comm]) => comm !== undefined)
      .map(([kb, pid, comm]) => ({ kb: Number(kb), pid: Number(pid), comm }));
  const rssBytes = () =>
    processes()
      .filter(({ comm }) => comm.startsWith('workerd'))
      .reduce((sum, { kb }) => sum + kb * 1024, 0);
  // schedstat's first field is a thread's time on a CPU in ns; V8's compiler and GC threads count too.
  const cpuMs = () =>
    processes().reduce((sum, { pid }) => {
      let ns = 0;
      try {
        for (const task of readdirSync(`/proc/${pid}/task`))
          ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        // a thread or the process ended between the listing and the read
      }
      return sum + ns / 1e6;
    }, 0);
  return { url, readyMs, spawnedAt, inspectorPort, rssBytes, cpuMs, output: () => output, stop };
}
