/**
 * `npm start`'s launcher (scripts/start.mjs) leaves no wrangler or workerd behind, however it is stopped: a SIGTERM for
 * it, its parent shell dying (what happens when npm is signalled or killed), and a SIGKILL for it (its watchdog then
 * ends wrangler's process group). Each case starts the real `wrangler dev` on a free port, waits for /health, records
 * the process tree (wrangler, its node child, workerd, esbuild, the watchdog) from /proc, stops it, and checks that
 * none of those processes and no member of wrangler's process group is left.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { needs } from '../support/requirements.js';
import { freePort } from '../worker-e2e/wrangler-dev.js';

const root = join(import.meta.dirname, '../..');
const built = existsSync(join(root, 'bundles/default/manifest.json'));
const linux = process.platform === 'linux';

interface Proc {
  pid: number;
  ppid: number;
  pgrp: number;
  state: string;
  cmd: string;
}

/** Every process on the machine, from /proc (zombies included, with state Z). */
function processes(): Proc[] {
  const list: Proc[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses, so split after the last ')'.
      const [state, ppid, pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
      list.push({ pid: Number(entry), ppid: Number(ppid), pgrp: Number(pgrp), state, cmd });
    } catch {
      // exited while we looked
    }
  }
  return list;
}

function descendants(rootPid: number): Proc[] {
  const all = processes();
  const found: Proc[] = [];
  const parents = new Set([rootPid]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const proc of all) {
      if (parents.has(proc.ppid) && !parents.has(proc.pid)) {
        parents.add(proc.pid);
        found.push(proc);
        grew = true;
      }
    }
  }
  return found;
}

/** Live (non-zombie) processes among `pids` or in process group `group`. */
function leftovers(pids: Set<number>, group: number): Proc[] {
  return processes().filter((proc) => proc.state !== 'Z' && (pids.has(proc.pid) || proc.pgrp === group));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Started {
  /** The process that was spawned: start.mjs itself, or the shell running it. */
  spawned: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** start.mjs's pid. */
  launcher: number;
  /** Everything below the spawned process seen while it served, by pid. */
  tree: Map<number, Proc>;
  /** wrangler's process group (the pid of wrangler's node process). */
  group: number;
  output(): string;
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Starts `node scripts/start.mjs` (directly or under `sh -c`) on a free port and waits until /health answers. */
async function start(options: { underShell: boolean }): Promise<Started> {
  const port = await freePort();
  const persist = await mkdtemp(join(tmpdir(), 'edge-embed-start-'));
  const script = join(root, 'scripts/start.mjs');
  const env = { ...process.env, PORT: String(port), WRANGLER_SEND_METRICS: 'false' };
  // Under a shell that does not exec start.mjs (the trailing command keeps it), like `sh -c 'npm run build && ...'`.
  const [command, args] = options.underShell
    ? ['sh', ['-c', `"${process.execPath}" "${script}" --persist-to "${persist}"; echo launcher exited`]]
    : [process.execPath, [script, '--persist-to', persist]];
  const spawned = spawn(command, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  spawned.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  spawned.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    spawned.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const tree = new Map<number, Proc>();
  cleanups.push(async () => {
    // Whatever a failed case left: every recorded process, and the groups they lead (wrangler's, the watchdog's), get
    // SIGKILL. Never a group not led by one of them: start.mjs shares this test process' group.
    for (const proc of tree.values()) {
      for (const target of proc.pgrp === proc.pid ? [proc.pid, -proc.pid] : [proc.pid]) {
        try {
          process.kill(target, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }
    spawned.kill('SIGKILL');
    await rm(persist, { recursive: true, force: true });
  });

  const record = () => {
    for (const proc of descendants(spawned.pid as number)) tree.set(proc.pid, proc);
  };
  const deadline = Date.now() + 90_000;
  while (true) {
    if (spawned.exitCode !== null || spawned.signalCode !== null) throw new Error(`start.mjs exited early:\n${output}`);
    if (Date.now() > deadline) throw new Error(`no answer from /health within 90 s:\n${output}`);
    record();
    const response = await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined);
    if (response?.ok) break;
    await sleep(300);
  }
  // Both workerd processes (wrangler's dev proxy and the worker) are up by now; record for a moment more anyway.
  for (let i = 0; i < 5; i++) {
    await sleep(200);
    record();
  }

  const procs = [...tree.values()];
  const launcher = options.underShell ? procs.find((proc) => proc.cmd.includes('scripts/start.mjs'))?.pid : spawned.pid;
  const wrangler = procs.find((proc) => proc.cmd.includes('wrangler/bin/wrangler.js'));
  if (launcher === undefined || wrangler === undefined)
    throw new Error(`no start.mjs or wrangler process found:\n${output}`);
  expect(procs.some((proc) => proc.cmd.includes('workerd serve'))).toBe(true);
  // wrangler leads its own process group, so one signal reaches everything under it.
  expect(wrangler.pgrp).toBe(wrangler.pid);
  return { spawned, exited, launcher, tree, group: wrangler.pgrp, output: () => output };
}

/** Waits until nothing of the recorded tree or wrangler's group is left (or the deadline passes); returns what is. */
async function waitForNothingLeft(started: Started, ms: number): Promise<Proc[]> {
  const pids = new Set(started.tree.keys());
  const deadline = Date.now() + ms;
  let left = leftovers(pids, started.group);
  while (left.length > 0 && Date.now() < deadline) {
    await sleep(100);
    left = leftovers(pids, started.group);
  }
  return left;
}

const describeStart = describe.skipIf(!linux || needs(built, 'bundles/default (npm run build)'));

describeStart('npm start (scripts/start.mjs) stops wrangler and workerd', () => {
  it('on SIGTERM: ends them, then exits by SIGTERM', async () => {
    const started = await start({ underShell: false });
    process.kill(started.launcher, 'SIGTERM');
    const { signal } = await started.exited;
    expect(signal).toBe('SIGTERM');
    // Wrangler's group is empty by the time start.mjs exits; the watchdog exits right after (its pipe closes).
    expect(leftovers(new Set(), started.group)).toEqual([]);
    expect(await waitForNothingLeft(started, 2000)).toEqual([]);
    expect(started.output()).toContain('got SIGTERM, stopping wrangler dev');
  });

  it('when its parent goes away (npm or the npm script shell killed): ends them within a few seconds', async () => {
    const started = await start({ underShell: true });
    started.spawned.kill('SIGKILL'); // the shell only; start.mjs is reparented
    await started.exited;
    expect(await waitForNothingLeft(started, 10_000)).toEqual([]);
    expect(started.output()).not.toContain('launcher exited'); // the shell really died before start.mjs
    expect(started.output()).toContain('parent process exited, stopping wrangler dev');
  });

  it('when it is killed outright (SIGKILL): its watchdog ends them', async () => {
    const started = await start({ underShell: false });
    process.kill(started.launcher, 'SIGKILL');
    expect((await started.exited).signal).toBe('SIGKILL');
    expect(await waitForNothingLeft(started, 10_000)).toEqual([]);
  });
});
