#!/usr/bin/env node
/**
 * `npm start` (after `npm run build`): serves the default bundle with `wrangler dev` on localhost, port from PORT
 * (default 8787), with local KV persisted under .wrangler/state. Extra arguments go to wrangler, e.g.
 * `node scripts/start.mjs --persist-to /tmp/kv`. It serves wrangler.toml's main, what `npx wrangler deploy` uploads
 * (worker/src/index-plan.ts: the plan engine, no ONNX Runtime), except where that build lacks what is asked for:
 * BUNDLE=static-default serves the static bundle alone (worker/src/index-static.ts), and ENGINE=ort, passed as `--var
 * ENGINE:ort`, the full worker/src/index.ts (ONNX Runtime, model.onnx and the reranker fixture; too big to deploy).
 * Other ENGINE values are passed the same way to the default entry.
 *
 * How close to production: `wrangler dev` puts its dev proxy (a second workerd) in front of the worker and has
 * Miniflare POST a log line per request to wrangler's Node; its inspector costs nothing measurable and its CLI cannot
 * turn it off. `npm start -- --log-level warn` drops the per-request line (0.3-0.7 ms of CPU per request in `npm run
 * bench:latency`, docs/performance.md) but hides the worker's own log lines too, so it is not the default.
 *
 * Stopping: wrangler runs its own node child, which runs two workerd processes (and esbuild). All of them are put in one
 * process group of their own, and that group is ended (SIGTERM, then SIGKILL after a grace period) whenever this
 * process stops: on SIGINT/SIGTERM/SIGHUP, when wrangler exits by itself, and when this process' parent goes away
 * (`npm start` runs this under `sh -c`; when npm is signalled, npm passes the signal to that shell, which dies without
 * passing it on, and this process would otherwise live on with its parent gone). If this process is killed outright
 * (SIGKILL), a watchdog in a third process group notices its pipe from this process closing and ends wrangler's group.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
if (!existsSync(join(root, 'bundles/default/manifest.json'))) {
  console.error('bundles/default is missing: run `npm run build` first (or use `npm start`, which builds it).');
  process.exit(1);
}

const bundle = process.env.BUNDLE ?? 'default';
const compiledIn = ['default', 'static-default'];
if (!compiledIn.includes(bundle)) {
  console.error(`BUNDLE must be one of the compiled-in bundles (${compiledIn.join(', ')}), got "${bundle}"`);
  process.exit(1);
}
if (!existsSync(join(root, 'bundles', bundle, 'manifest.json'))) {
  console.error(`bundles/${bundle} is missing: run \`npm run build\` first.`);
  process.exit(1);
}

const engine = process.env.ENGINE;
const engines = ['auto', 'plan', 'ort'];
if (engine !== undefined && !engines.includes(engine)) {
  console.error(`ENGINE must be one of ${engines.join(', ')}, got "${engine}"`);
  process.exit(1);
}

// wrangler dev's script argument overrides wrangler.toml's main; the rules and bindings stay the config's.
const entry =
  bundle === 'static-default' ? 'worker/src/index-static.ts' : engine === 'ort' ? 'worker/src/index.ts' : undefined;

const port = process.env.PORT ?? '8787';
if (!/^\d+$/.test(port)) {
  console.error(`PORT must be a number, got "${port}"`);
  process.exit(1);
}
const extra = process.argv.slice(2);
const persist = extra.some((arg) => arg.startsWith('--persist-to'))
  ? []
  : ['--persist-to', join(root, '.wrangler/state')];
const wrangler = createRequire(import.meta.url).resolve('wrangler/bin/wrangler.js');
const args = [
  wrangler,
  'dev',
  ...(entry === undefined ? [] : [entry]),
  '--ip',
  '127.0.0.1',
  '--port',
  port,
  ...persist,
  '--show-interactive-dev-session=false',
  ...(engine === undefined ? [] : ['--var', `ENGINE:${engine}`]),
  ...extra,
];

/** How long wrangler gets to shut down (and its leftovers to go) after a signal before the group gets SIGKILL. */
const GRACE_MS = 3000;
/** Process groups (and so negative pids in process.kill) exist on POSIX only; on Windows only wrangler is signalled. */
const groups = process.platform !== 'win32';

console.log(
  `edge-embed: starting wrangler dev on http://127.0.0.1:${port} (bundle ${bundle}, ${entry ?? "wrangler.toml's main"})`,
);
const child = spawn(process.execPath, args, {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, WRANGLER_SEND_METRICS: 'false' },
  // A new process group led by wrangler (pgid = child.pid): workerd and the rest inherit it.
  detached: groups,
});
const group = child.pid;

/** Sends `signal` to wrangler's whole group; false once no process of the group is left. */
function signalGroup(signal) {
  if (group === undefined) return false;
  try {
    if (groups) process.kill(-group, signal);
    else if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    else return false;
    return true;
  } catch (error) {
    return error.code === 'EPERM'; // ESRCH: the group is empty
  }
}

const groupAlive = () => signalGroup(0);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const wranglerExited = new Promise((resolve) => {
  child.once('exit', (code, signal) => resolve({ code, signal }));
  child.once('error', (error) => {
    console.error(`edge-embed: could not start wrangler: ${error.message}`);
    resolve({ code: 1, signal: null });
  });
});

// Watchdog: a separate process (own group, so a signal or SIGKILL for this process' group does not reach it) that reads
// a pipe from this process. The pipe closes when this process exits in any way; the watchdog then ends wrangler's group.
// After a normal stop the group is already empty and the watchdog just exits.
const watchdogSource = `// edge-embed start.mjs watchdog for wrangler's process group
const group = Number(process.argv[1]);
const alive = () => { try { process.kill(-group, 0); return true; } catch (e) { return e.code === 'EPERM'; } };
const kill = (signal) => { try { process.kill(-group, signal); } catch {} };
process.stdin.resume();
process.stdin.on('close', () => {
  if (!alive()) process.exit(0);
  kill('SIGTERM');
  const started = Date.now();
  setInterval(() => {
    if (!alive()) process.exit(0);
    if (Date.now() - started > ${GRACE_MS}) { kill('SIGKILL'); process.exit(0); }
  }, 100);
});
`;
if (groups && group !== undefined) {
  const watchdog = spawn(process.execPath, ['-e', watchdogSource, String(group)], {
    stdio: ['pipe', 'ignore', 'ignore'],
    detached: true,
  });
  watchdog.on('error', () => {}); // best effort: the signal handlers below still stop wrangler
  watchdog.unref();
  // Neither end of the pipe may keep this process alive; it closes when this process exits.
  watchdog.stdin.on('error', () => {});
  watchdog.stdin.unref();
}

let stopping = false;

/**
 * Ends wrangler's group (first `signal`, then SIGKILL for what is left after the grace period), then ends this process:
 * by the same signal when it got one (so npm, a shell or `timeout` see how it ended), else with exit code 1.
 */
async function stop(signal, reason, raise) {
  stopping = true;
  console.error(`edge-embed: ${reason}, stopping wrangler dev`);
  signalGroup(signal);
  const exited = await Promise.race([wranglerExited.then(() => true), sleep(GRACE_MS).then(() => false)]);
  if (!exited) signalGroup('SIGKILL');
  await reapGroup();
  if (!raise) process.exit(1);
  for (const name of SIGNALS) process.removeAllListeners(name);
  process.kill(process.pid, signal);
  setTimeout(() => process.exit(1), 1000).unref(); // in case the signal is ignored
}

/** Once wrangler itself has exited: ends whatever is left of its group (e.g. a workerd it had no time to stop). */
async function reapGroup() {
  if (!groupAlive()) return;
  signalGroup('SIGTERM');
  const deadline = Date.now() + GRACE_MS;
  while (groupAlive() && Date.now() < deadline) await sleep(100);
  if (groupAlive()) signalGroup('SIGKILL');
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'];
for (const signal of SIGNALS) {
  process.on(signal, () => {
    // A second Ctrl-C while stopping: no more waiting.
    if (stopping) signalGroup('SIGKILL');
    else void stop(signal, `got ${signal}`, true);
  });
}

// `npm start` runs this under `sh -c`: when npm or that shell dies (npm passes SIGINT/SIGTERM on to the shell only,
// and a SIGHUP or SIGKILL for npm reaches neither), this process is reparented. Treat that like SIGTERM.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent && !stopping) void stop('SIGTERM', 'parent process exited', false);
}, 250).unref();

// Last resort if this process exits some other way (an uncaught error): the group gets SIGTERM, the watchdog the rest.
process.on('exit', () => {
  if (groupAlive()) signalGroup('SIGTERM');
});

wranglerExited.then(async ({ code, signal }) => {
  if (stopping) return;
  await reapGroup();
  process.exit(code ?? (signal ? 1 : 0));
});
