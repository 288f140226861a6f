/**
 * Config checked before it can fail: `npm run tenant -- add` and `npm run deploy:dry-run` refuse every var the worker
 * would refuse (worker/src/config.ts's CONFIG_VARS, the same schema), naming the var and its environment. The bad
 * values are derived from the table, so a var added to it is covered here without editing this file.
 */
import { spawnSync } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'smol-toml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { addTenant, checkWranglerVars, type WranglerConfig } from '../../scripts/tenant.js';
import { CONFIG_VARS, checkConfigVars } from '../../worker/src/config.js';

const root = join(import.meta.dirname, '../..');

/** Values one of which each var's schema refuses. */
const CANDIDATES = ['not-a-number', '-1', '0', 'Bad:Id', 'ftp://x/y'];

/** Each var (but the API_KEYS secret, where any string is a key list) with a value the worker refuses. */
const BAD_VALUES: Array<[string, string]> = Object.values(CONFIG_VARS)
  .filter((entry) => entry.env !== 'API_KEYS')
  .map((entry) => {
    const bad = CANDIDATES.find((value) => checkConfigVars({ [entry.env]: value }).length > 0);
    if (bad === undefined) throw new Error(`no candidate bad value for ${entry.env}: add one to CANDIDATES`);
    return [entry.env, bad];
  });

function runScript(script: string, args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', join(root, 'scripts', script), ...args], {
    cwd: root,
    encoding: 'utf8',
  });
}

describe('config checks before a deploy', () => {
  let dir: string;
  let config: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edge-embed-config-check-'));
    config = join(dir, 'wrangler.toml');
    await copyFile(join(root, 'wrangler.toml'), config);
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it("finds the repository's own wrangler.toml valid", async () => {
    expect(checkWranglerVars(parse(await readFile(join(root, 'wrangler.toml'), 'utf8')) as WranglerConfig)).toEqual([]);
  });

  it('covers every var of the table but the API_KEYS secret', () => {
    expect(BAD_VALUES.length).toBe(Object.keys(CONFIG_VARS).length - 1);
    expect(BAD_VALUES.map(([name]) => name)).toEqual(
      expect.arrayContaining(['TENANT_ID', 'BUNDLE_HASH', 'MAX_INPUTS']),
    );
  });

  it('tenant add refuses each bad var, naming it and the environment, and leaves the file unchanged', async () => {
    const before = await readFile(config, 'utf8');
    for (const [name, value] of BAD_VALUES) {
      if (name === 'TENANT_ID') continue; // tenant add sets it to the tenant's name: an existing tenant's is checked below
      await expect(addTenant('initech', { config, vars: { [name]: value } })).rejects.toThrow(
        new RegExp(`\\[env\\.initech\\.vars\\] ${name}: `),
      );
    }
    expect(await readFile(config, 'utf8')).toBe(before);
  });

  it('tenant add (the CLI) refuses when another environment already holds a bad var, naming it and that environment', async () => {
    const parsed = parse(await readFile(config, 'utf8')) as unknown as {
      vars: Record<string, string>;
      env: Record<string, { vars: Record<string, string> }>;
    };
    parsed.env.acme.vars.TENANT_ID = 'Bad:Id';
    parsed.vars.BUNDLE_HASH = 'abc';
    await writeFile(config, stringify(parsed));
    const result = runScript('tenant.ts', ['--config', config, 'add', 'initech', '--var', 'AUTO_TRUNCATE=yes']);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('[env.acme.vars] TENANT_ID: ');
    expect(result.stderr).toContain('[vars] BUNDLE_HASH: ');
    expect(result.stderr).toContain('[env.initech.vars] AUTO_TRUNCATE: ');
    expect(parse(await readFile(config, 'utf8'))).not.toHaveProperty('env.initech');
  });

  it('deploy:dry-run refuses every bad var before building anything, naming each var and its environment', async () => {
    const parsed = parse(await readFile(config, 'utf8')) as unknown as {
      vars: Record<string, string>;
      env: Record<string, { vars: Record<string, string> }>;
    };
    const environments = ['[vars]', ...Object.keys(parsed.env).map((name) => `[env.${name}.vars]`)];
    const varsOf = (environment: string) =>
      environment === '[vars]' ? parsed.vars : parsed.env[environment.slice(5, -6)].vars;
    // Spread the bad vars over the environments: each must be named with the environment it is in.
    const placed = BAD_VALUES.map(([name, value], i) => {
      const environment = environments[i % environments.length];
      varsOf(environment)[name] = value;
      return { name, environment };
    });
    await writeFile(config, stringify(parsed));
    const result = runScript('deploy-dry-run.ts', ['--config', config]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('refusing to deploy');
    for (const { name, environment } of placed) expect(result.stderr).toContain(`${environment} ${name}: `);
    // Refused before wrangler ran: it prints its banner and "Total Upload" when it builds.
    expect(result.stdout).not.toMatch(/Total Upload|wrangler/);
  });

  it('deploy:dry-run refuses a tenant whose TENANT_ID is not its name', async () => {
    const parsed = parse(await readFile(config, 'utf8')) as unknown as {
      env: Record<string, { vars: Record<string, string> }>;
    };
    parsed.env.acme.vars.TENANT_ID = 'globex';
    await writeFile(config, stringify(parsed));
    const result = runScript('deploy-dry-run.ts', ['--config', config]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`[env.acme.vars] TENANT_ID: must be the tenant's name, "acme"`);
  });
});

describe('the RATE_LIMITER binding against the rate limit vars', () => {
  const withBinding = (vars: Record<string, string>, simple = { limit: 60, period: 60 }): WranglerConfig => ({
    vars,
    ratelimits: [{ name: 'RATE_LIMITER', simple }],
  });

  it('accepts a binding that matches the vars, or rate limiting off', () => {
    expect(checkWranglerVars(withBinding({ RATE_LIMIT_REQUESTS: '60', RATE_LIMIT_PERIOD_SECONDS: '60' }))).toEqual([]);
    expect(checkWranglerVars(withBinding({}))).toEqual([]);
  });

  it('refuses a limit or period that differs from the binding, naming the var', () => {
    const problems = checkWranglerVars(withBinding({ RATE_LIMIT_REQUESTS: '100', RATE_LIMIT_PERIOD_SECONDS: '10' }));
    expect(problems.map((problem) => `${problem.environment} ${problem.variable}`)).toEqual([
      '[vars] RATE_LIMIT_REQUESTS',
      '[vars] RATE_LIMIT_PERIOD_SECONDS',
    ]);
    expect(problems[0].message).toContain('simple.limit is 60');
  });
});

describe('tenant add --rate-limit-namespace', () => {
  let dir: string;
  let config: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edge-embed-ratelimit-'));
    config = join(dir, 'wrangler.toml');
    await copyFile(join(root, 'wrangler.toml'), config);
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('gives the tenant its own RATE_LIMITER binding with the limit and period of its vars, which the checks accept', async () => {
    const result = runScript('tenant.ts', [
      '--config',
      config,
      'add',
      'initech',
      '--rate-limit-requests',
      '100',
      '--rate-limit-period-seconds',
      '10',
      '--rate-limit-namespace',
      '2001',
    ]);
    expect(result.status, result.stderr).toBe(0);
    const parsed = parse(await readFile(config, 'utf8')) as unknown as WranglerConfig & {
      env: Record<string, WranglerConfig>;
    };
    expect(parsed.env.initech.ratelimits).toEqual([
      { name: 'RATE_LIMITER', namespace_id: '2001', simple: { limit: 100, period: 10 } },
    ]);
    expect(parsed.env.initech.vars).toMatchObject({ RATE_LIMIT_REQUESTS: '100', RATE_LIMIT_PERIOD_SECONDS: '10' });
    expect(checkWranglerVars(parsed)).toEqual([]);
  });

  it('refuses a namespace without a rate limit, and a namespace id that is not an integer', async () => {
    const before = await readFile(config, 'utf8');
    await expect(addTenant('initech', { config, rateLimitNamespace: '2001' })).rejects.toThrow(/--rate-limit-requests/);
    await expect(
      addTenant('initech', { config, rateLimitNamespace: 'abc', limits: { rateLimitRequests: 5 } }),
    ).rejects.toThrow(/integer/);
    expect(await readFile(config, 'utf8')).toBe(before);
  });
});
