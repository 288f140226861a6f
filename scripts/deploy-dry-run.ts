/**
 * `npm run deploy:dry-run [-- [--config <wrangler.toml>] <tenant>...]`: first checks every var of every environment
 * with the worker's own schema (exits 1 naming each bad var and its environment), then runs `wrangler deploy --dry-run
 * --env <tenant> --outdir <tmp>` for each tenant (default: all) and prints each one's upload size as wrangler reports
 * it and the files it would upload. Exits 1 if any build fails or a tenant lacks its own EMBED_CACHE binding or
 * TENANT_ID. Nothing is deployed.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parse } from 'smol-toml';
import { checkWranglerVars, describeVarProblems, listTenants, type WranglerConfig } from './tenant.js';

const root = join(import.meta.dirname, '..');
const wrangler = createRequire(import.meta.url).resolve('wrangler/bin/wrangler.js');
const args = parseArgs({ allowPositionals: true, options: { config: { type: 'string' } } });
const configPath = resolve(args.values.config ?? join(root, 'wrangler.toml'));
const tenants = args.positionals.length > 0 ? args.positionals : await listTenants(configPath);
if (tenants.length === 0) {
  console.error('no tenants in wrangler.toml: add one with `npm run tenant -- add <name>`');
  process.exit(1);
}
// Every environment's vars, with the worker's schema, before building anything: a bad var would fail every request.
const problems = checkWranglerVars(parse(await readFile(configPath, 'utf8')) as WranglerConfig);
if (problems.length > 0) {
  console.error(`refusing to deploy: the worker would refuse these vars\n${describeVarProblems(configPath, problems)}`);
  process.exit(1);
}

const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
const outRoot = await mkdtemp(join(tmpdir(), 'edge-embed-dry-run-'));
let failed = false;
try {
  for (const tenant of tenants) {
    const outdir = join(outRoot, tenant);
    const args = [wrangler, 'deploy', '--dry-run', '--config', configPath, '--env', tenant, '--outdir', outdir];
    const result = spawnSync(process.execPath, args, {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false' },
    });
    const output = `${result.stdout}\n${result.stderr}`;
    const upload = /Total Upload: ([\d.]+ KiB) \/ gzip: ([\d.]+ KiB)/.exec(output);
    const problems: string[] = [];
    if (result.status !== 0 || upload === null) problems.push(`wrangler exited ${result.status}`);
    if (!/env\.EMBED_CACHE\s/.test(output)) problems.push('no EMBED_CACHE binding');
    if (!new RegExp(`env\\.TENANT_ID \\("${tenant}"\\)`).test(output)) problems.push(`TENANT_ID is not "${tenant}"`);
    if (problems.length > 0) {
      failed = true;
      console.error(`${tenant}: FAILED (${problems.join('; ')})\n${output.trim().split('\n').slice(-15).join('\n')}`);
      continue;
    }
    const files = await readdir(outdir).catch(() => [] as string[]);
    const sizes = await Promise.all(
      files
        .filter((file) => !file.endsWith('.map') && file !== 'README.md')
        .map(async (file) => ({ file, bytes: (await stat(join(outdir, file))).size })),
    );
    console.log(`${tenant}: total upload ${upload![1]} (gzip ${upload![2]})`);
    for (const { file, bytes } of sizes.sort((a, b) => b.bytes - a.bytes))
      console.log(`  ${file.replace(/^[0-9a-f]{40}-/, '')}: ${kib(bytes)}`);
  }
} finally {
  await rm(outRoot, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
