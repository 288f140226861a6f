#!/usr/bin/env node
/**
 * `npm start` (after `npm run build`): serves the default bundle with `wrangler dev` on localhost, port from PORT
 * (default 8787), with local KV persisted under .wrangler/state. Extra arguments go to wrangler, e.g.
 * `node scripts/start.mjs --persist-to /tmp/kv`. Stops wrangler (and workerd) when this process is stopped.
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

const port = process.env.PORT ?? '8787';
if (!/^\d+$/.test(port)) {
  console.error(`PORT must be a number, got "${port}"`);
  process.exit(1);
}
const extra = process.argv.slice(2);
const persist = extra.some((arg) => arg.startsWith('--persist-to')) ? [] : ['--persist-to', join(root, '.wrangler/state')];
const wrangler = createRequire(import.meta.url).resolve('wrangler/bin/wrangler.js');
const args = [wrangler, 'dev', '--ip', '127.0.0.1', '--port', port, ...persist, '--show-interactive-dev-session=false', ...extra];

console.log(`edge-embed: starting wrangler dev on http://127.0.0.1:${port}`);
const child = spawn(process.execPath, args, {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, WRANGLER_SEND_METRICS: 'false' },
});
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
