/**
 * Workers' upload limit (10 MiB gzip on the paid plan, 3 MiB on free), checked before Cloudflare would refuse a deploy:
 * `npm run deploy:dry-run` builds the top level (what `npx wrangler deploy` uploads) and each tenant with the real
 * wrangler, refuses any target over 10 MiB in one line naming it, its size, the limit and the fix, and reports those
 * over 3 MiB; `npm run tenant -- add` writes only entries that fit. The configs are copies of wrangler.toml written
 * beside it (so `main` resolves as there), with the full worker/src/index.ts (about 22 MiB gzip) where a refusal is
 * wanted. Nothing goes over the network: `--dry-run` only builds.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse, stringify } from 'smol-toml';
import { afterEach, describe, expect, it } from 'vitest';
import { addTenant } from '../../scripts/tenant.js';
import { needs } from '../support/requirements.js';

const root = join(import.meta.dirname, '../..');
const built = ['default/model.onnx', 'default/plan.bin', 'static-default/embeddings.bin'].every((file) =>
  existsSync(join(root, 'bundles', file)),
);
const FULL = 'worker/src/index.ts';
const PLAN = 'worker/src/index-plan.ts';

interface Config {
  main: string;
  vars: Record<string, string>;
  env: Record<string, { main?: string; vars: Record<string, string> }>;
}

let written: string[] = [];
afterEach(async () => {
  await Promise.all(written.map((file) => rm(file, { force: true })));
  written = [];
});

/** wrangler.toml with `change` applied, written beside it; returns its path. */
async function configWith(change: (config: Config) => void): Promise<string> {
  const config = parse(await readFile(join(root, 'wrangler.toml'), 'utf8')) as unknown as Config;
  change(config);
  const path = join(root, `.deploy-size-test-${process.pid}-${written.length}.toml`);
  written.push(path);
  await writeFile(path, stringify(config));
  return path;
}

function run(script: string, args: string[]) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'scripts', script), ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false' },
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Each target's line of deploy:dry-run: `<label>: main <entry>, ... gzip <n> KiB (...)`, by label. */
function gzipKibByTarget(stdout: string): Map<string, number> {
  const lines = stdout.split('\n').filter((line) => /^\S.*: main \S+, total upload/.test(line));
  return new Map(
    lines.map((line) => [line.slice(0, line.indexOf(': main')), Number(/gzip ([\d.]+) KiB/.exec(line)![1])]),
  );
}

const TOP = 'top level (npx wrangler deploy)';

describe.skipIf(needs(built, 'bundles/default and bundles/static-default (npm run build)'))(
  'the upload limit in deploy:dry-run',
  () => {
    it("passes the repository's wrangler.toml: the top level and every tenant under 10 MiB gzip", async () => {
      const tenants = Object.keys(
        (parse(await readFile(join(root, 'wrangler.toml'), 'utf8')) as unknown as Config).env,
      );
      const result = run('deploy-dry-run.ts', []);
      expect(result.status, result.stderr).toBe(0);
      const sizes = gzipKibByTarget(result.stdout);
      expect([...sizes.keys()]).toEqual([TOP, ...tenants]);
      for (const [target, kib] of sizes) expect(kib, target).toBeLessThan(10 * 1024);
      expect(result.stdout).toContain(`${TOP}: main ${PLAN},`);
    });

    it('refuses the full worker at the top level and in a tenant, one line each with size, limit and fix; reports the free plan', async () => {
      const config = await configWith((c) => {
        c.main = FULL;
        c.env.acme.main = FULL;
      });
      const result = run('deploy-dry-run.ts', ['--config', config]);
      expect(result.status).toBe(1);
      const refusal = (label: string) =>
        new RegExp(
          `^${label.replace(/[()]/g, '\\$&')}: REFUSED: gzip upload [\\d.]+ KiB \\(2\\d\\.\\d\\d MiB\\) is over Workers' 10 MiB limit \\(main ${FULL}\\).* Fix: .*main = "${PLAN}".*--bundle <dir>`,
          'm',
        );
      expect(result.stderr).toMatch(refusal(TOP));
      expect(result.stderr).toMatch(refusal('acme'));
      // The others still build and pass, each said to fit the free plan's 3 MiB or not.
      expect(result.stdout).toMatch(/^globex: main worker\/src\/index-kv\.ts, .*; over the free plan's 3 MiB/m);
      expect(result.stdout).toMatch(/^vandelay: main worker\/src\/index-static\.ts, .*; within the free plan's 3 MiB/m);
      expect([...gzipKibByTarget(result.stdout).keys()]).toEqual(['globex', 'vandelay']);
    });

    it('builds the tenants named, the top level with --top-level; refuses an unknown name and ENGINE=ort on the plan entry', async () => {
      const named = run('deploy-dry-run.ts', ['--top-level', 'vandelay']);
      expect(named.status, named.stderr).toBe(0);
      expect([...gzipKibByTarget(named.stdout).keys()]).toEqual([TOP, 'vandelay']);

      const unknown = run('deploy-dry-run.ts', ['vandelay', 'nope']);
      expect(unknown.status).toBe(1);
      expect(unknown.stderr).toContain('no tenant "nope" in');
      expect(unknown.stdout).not.toContain('total upload');

      const config = await configWith((c) => {
        c.env.acme.vars.ENGINE = 'ort';
      });
      const ort = run('deploy-dry-run.ts', ['--config', config, 'acme']);
      expect(ort.status).toBe(1);
      expect(ort.stderr).toContain(
        `acme: REFUSED: [env.acme.vars] ENGINE is "ort" but main ${PLAN} is built without ONNX Runtime`,
      );
    });
  },
);

describe.skipIf(needs(built, 'bundles/default and bundles/static-default (npm run build)'))(
  'the upload limit in tenant add',
  () => {
    it('gives a tenant added with default options an entry that deploy:dry-run passes', async () => {
      const config = await configWith(() => undefined);
      await addTenant('initech', { config });
      const result = run('deploy-dry-run.ts', ['--config', config, 'initech']);
      expect(result.status, result.stderr).toBe(0);
      expect(gzipKibByTarget(result.stdout).get('initech')).toBeLessThan(10 * 1024);
      expect(result.stdout).toContain(`initech: main ${PLAN},`);
    });

    it('refuses ONNX Runtime without --bundle (the CLI, --engine ort or --var ENGINE=ort), saying why and what fits', async () => {
      const config = await configWith(() => undefined);
      const before = await readFile(config, 'utf8');
      for (const flags of [
        ['--engine', 'ort'],
        ['--var', 'ENGINE=ort'],
      ]) {
        const result = run('tenant.ts', ['--config', config, 'add', 'initech', ...flags]);
        expect(result.status).toBe(1);
        expect(result.stderr).toMatch(
          /^tenant: ENGINE=ort \(--engine ort, --var or \[vars\]\) needs --bundle: .*worker\/src\/index\.ts.* over Workers' 10 MiB upload limit\. .*--bundle bundles\/default --engine ort/,
        );
      }
      expect(await readFile(config, 'utf8')).toBe(before);
    });
  },
);
