/**
 * `npm run deploy:dry-run [-- [--config <wrangler.toml>] [--top-level] [<tenant>...]]`: first checks every var of every
 * environment with the worker's own schema (exits 1 naming each bad var and its environment), then runs `wrangler
 * deploy --dry-run --outdir <tmp>` for each target and prints its upload size as wrangler reports it and the files it
 * would upload. The targets: the top level (what `npx wrangler deploy` without --env uploads, `--env=""` to wrangler)
 * and every tenant by default; named tenants only when some are given, plus the top level with `--top-level`.
 *
 * Exits 1 if any build fails, a target's gzip upload is over Workers' 10 MiB limit (paid plan; one line naming the
 * target, its size and the fix), its ENGINE=ort meets an entry built without ONNX Runtime, or a tenant lacks its own
 * EMBED_CACHE binding or TENANT_ID. A target over the free plan's 3 MiB is only reported. Nothing is deployed.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parse } from 'smol-toml';
import {
  checkWranglerVars,
  describeVarProblems,
  FREE_UPLOAD_LIMIT,
  PLAN_ENTRY,
  PLAN_ONLY_ENTRIES,
  UPLOAD_LIMIT,
  type WranglerConfig,
} from './tenant.js';

const root = join(import.meta.dirname, '..');
const wrangler = createRequire(import.meta.url).resolve('wrangler/bin/wrangler.js');
let args: ReturnType<typeof parseOptions>;
try {
  args = parseOptions();
} catch (error) {
  console.error(`deploy:dry-run: ${(error as Error).message}`);
  process.exit(2);
}
const configPath = resolve(args.values.config ?? join(root, 'wrangler.toml'));
const config = parse(await readFile(configPath, 'utf8')) as WranglerConfig & { main?: string };
const tenantsInFile = Object.keys(config.env ?? {});
const unknown = args.positionals.filter((name) => !tenantsInFile.includes(name));
if (unknown.length > 0) {
  console.error(
    `no tenant ${unknown.map((name) => `"${name}"`).join(', ')} in ${configPath} (tenants: ${tenantsInFile.join(', ') || 'none'}); ` +
      'the top level (no --env) is --top-level',
  );
  process.exit(1);
}

/** One thing to build: the top level (`tenant` undefined) or a tenant's environment. */
interface Target {
  tenant?: string;
  label: string;
  main: string | undefined;
  vars: Record<string, unknown>;
}
const topLevel: Target = { label: 'top level (npx wrangler deploy)', main: config.main, vars: config.vars ?? {} };
const tenantTarget = (tenant: string): Target => {
  const env = config.env?.[tenant] as (WranglerConfig & { main?: string }) | undefined;
  // An environment without its own `main` inherits the top level's; vars are not inherited.
  return { tenant, label: tenant, main: env?.main ?? config.main, vars: env?.vars ?? {} };
};
const targets: Target[] =
  args.positionals.length > 0
    ? [...(args.values['top-level'] ? [topLevel] : []), ...args.positionals.map(tenantTarget)]
    : [topLevel, ...tenantsInFile.map(tenantTarget)];

// Every environment's vars, with the worker's schema, before building anything: a bad var would fail every request.
const problems = checkWranglerVars(config);
if (problems.length > 0) {
  console.error(`refusing to deploy: the worker would refuse these vars\n${describeVarProblems(configPath, problems)}`);
  process.exit(1);
}

const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
const mib = (kibs: number) => `${(kibs / 1024).toFixed(2)} MiB`;
const outRoot = await mkdtemp(join(tmpdir(), 'edge-embed-dry-run-'));
let failed = false;
try {
  for (const target of targets) {
    const { tenant, label } = target;
    const outdir = join(outRoot, tenant ?? '.top-level');
    const env = tenant === undefined ? '--env=' : `--env=${tenant}`;
    const args = [wrangler, 'deploy', '--dry-run', '--config', configPath, env, '--outdir', outdir];
    const result = spawnSync(process.execPath, args, {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false' },
    });
    const output = `${result.stdout}\n${result.stderr}`;
    const upload = /Total Upload: ([\d.]+) KiB \/ gzip: ([\d.]+) KiB/.exec(output);
    const problems: string[] = [];
    if (result.status !== 0 || upload === null) problems.push(`wrangler exited ${result.status}`);
    if (!/env\.EMBED_CACHE\s/.test(output)) problems.push('no EMBED_CACHE binding');
    if (tenant !== undefined && !new RegExp(`env\\.TENANT_ID \\("${tenant}"\\)`).test(output))
      problems.push(`TENANT_ID is not "${tenant}"`);
    if (problems.length > 0) {
      failed = true;
      console.error(`${label}: FAILED (${problems.join('; ')})\n${output.trim().split('\n').slice(-15).join('\n')}`);
      continue;
    }
    const gzipKib = Number(upload![2]);
    const refusal = sizeRefusal(target, gzipKib) ?? engineRefusal(target);
    if (refusal !== undefined) {
      failed = true;
      console.error(`${label}: REFUSED: ${refusal}`);
      continue;
    }
    const free =
      gzipKib > FREE_UPLOAD_LIMIT / 1024
        ? `over the free plan's ${FREE_UPLOAD_LIMIT / 2 ** 20} MiB (info: deploys on Workers Paid only)`
        : `within the free plan's ${FREE_UPLOAD_LIMIT / 2 ** 20} MiB`;
    console.log(
      `${label}: main ${target.main}, total upload ${upload![1]} KiB, gzip ${upload![2]} KiB (${mib(gzipKib)}): ` +
        `under the ${UPLOAD_LIMIT / 2 ** 20} MiB limit; ${free}`,
    );
    const files = await readdir(outdir).catch(() => [] as string[]);
    const sizes = await Promise.all(
      files
        .filter((file) => !file.endsWith('.map') && file !== 'README.md')
        .map(async (file) => ({ file, bytes: (await stat(join(outdir, file))).size })),
    );
    for (const { file, bytes } of sizes.sort((a, b) => b.bytes - a.bytes))
      console.log(`  ${file.replace(/^[0-9a-f]{40}-/, '')}: ${kib(bytes)}`);
  }
} finally {
  await rm(outRoot, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);

function parseOptions() {
  return parseArgs({
    allowPositionals: true,
    options: { config: { type: 'string' }, 'top-level': { type: 'boolean' } },
  });
}

/**
 * Why Cloudflare would refuse the upload (its gzip size over the paid plan's limit), with the fix for where the size
 * comes from: a model compiled in (serve it from KV) and, for the full entry, ONNX Runtime beside the plan.
 */
function sizeRefusal({ tenant, main }: Target, gzipKib: number): string | undefined {
  if (gzipKib * 1024 <= UPLOAD_LIMIT) return undefined;
  const name = tenant ?? '<name>';
  const where = tenant === undefined ? "wrangler.toml's top-level main" : `[env.${tenant}] main`;
  const fixes = [
    ...(main === PLAN_ENTRY
      ? []
      : [
          `the plan engine without ONNX Runtime (${where} = "${PLAN_ENTRY}", what \`npm run tenant -- add\` writes by default)`,
        ]),
    `the bundle served from KV (\`npm run tenant -- add ${name} --bundle <dir> [--engine plan]\`: worker/src/index-kv.ts or index-kv-plan.ts compile in no model)`,
  ];
  return (
    `gzip upload ${gzipKib.toFixed(1)} KiB (${mib(gzipKib)}) is over Workers' ${UPLOAD_LIMIT / 2 ** 20} MiB limit ` +
    `(main ${main}); Cloudflare would refuse it. Fix: ${fixes.join(', or ')}`
  );
}

/** ENGINE=ort on an entry built without ONNX Runtime: every transformer request would be a 503. */
function engineRefusal({ tenant, main, vars }: Target): string | undefined {
  if (String(vars.ENGINE ?? '').trim() !== 'ort' || main === undefined || !PLAN_ONLY_ENTRIES.includes(main))
    return undefined;
  const where = tenant === undefined ? '[vars]' : `[env.${tenant}.vars]`;
  return (
    `${where} ENGINE is "ort" but main ${main} is built without ONNX Runtime, so every request would be a 503; ` +
    'drop ENGINE (auto: the plan), or serve the bundle from KV with worker/src/index-kv.ts (`npm run tenant -- add <name> --bundle <dir> --engine ort`)'
  );
}
