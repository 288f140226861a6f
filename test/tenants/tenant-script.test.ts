/**
 * `npm run tenant -- add`: the wrangler.toml it writes (parsed back), its refusals, and the example tenants the repo
 * ships: each its own worker name, EMBED_CACHE and BUNDLE_STORE bindings and TENANT_ID.
 */
import { execFileSync } from 'node:child_process';
import { copyFile, cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'smol-toml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type BundleManifest, computeContentHash } from '../../bundle-format/manifest.js';
import { addTenant, listTenants } from '../../scripts/tenant.js';

const root = join(import.meta.dirname, '../..');

interface Tenant {
  name: string;
  kv_namespaces: Array<{ binding: string; id?: string }>;
  vars: Record<string, string>;
}
interface Wrangler {
  vars: Record<string, string>;
  env: Record<string, Tenant>;
}

describe('npm run tenant -- add', () => {
  let dir: string;
  let config: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edge-embed-tenant-'));
    config = join(dir, 'wrangler.toml');
    await copyFile(join(root, 'wrangler.toml'), config);
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  /** A copy of a bundle in the test's folder without its encoder plan: the files gone, the manifest rehashed. */
  async function planlessCopy(bundle: string): Promise<string> {
    const copy = join(dir, 'planless-bundle');
    await cp(bundle, copy, { recursive: true });
    await rm(join(copy, 'plan.json'));
    await rm(join(copy, 'plan.bin'));
    const manifest = JSON.parse(await readFile(join(copy, 'manifest.json'), 'utf8')) as BundleManifest;
    delete manifest.files['plan.json'];
    delete manifest.files['plan.bin'];
    manifest.contentHash = await computeContentHash(manifest);
    await writeFile(join(copy, 'manifest.json'), JSON.stringify(manifest, null, 2));
    return copy;
  }

  /** A copy of a cross-encoder whose plan's token-type table is cut to its first row (the query's). */
  async function cutPlanCopy(bundle: string): Promise<string> {
    const copy = join(dir, 'cut-plan-bundle');
    await cp(bundle, copy, { recursive: true });
    const plan = JSON.parse(await readFile(join(copy, 'plan.json'), 'utf8'));
    plan.embeddings.tokenType.shape = [1, plan.embeddings.tokenType.shape[1]];
    await writeFile(join(copy, 'plan.json'), JSON.stringify(plan));
    return copy;
  }

  it('adds an environment with its own worker, namespaces, limits, TENANT_ID, and keeps the file and its comments', async () => {
    const before = await readFile(config, 'utf8');
    execFileSync(
      process.execPath,
      [
        '--import',
        'tsx',
        join(root, 'scripts/tenant.ts'),
        '--config',
        config,
        'add',
        'initech',
        '--max-inputs',
        '16',
        '--kv-id',
        'abc123',
        '--var',
        'KV_TIMEOUT_MS=250',
      ],
      {
        cwd: root,
        stdio: 'pipe',
      },
    );
    const after = await readFile(config, 'utf8');
    expect(after.startsWith(before.trimEnd())).toBe(true);
    const parsed = parse(after) as unknown as Wrangler;
    const tenant = parsed.env.initech;
    expect(tenant.name).toBe('edge-embed-initech');
    expect(tenant.kv_namespaces).toEqual([{ binding: 'EMBED_CACHE', id: 'abc123' }, { binding: 'BUNDLE_STORE' }]);
    expect(tenant.vars).toMatchObject({ ...parsed.vars, MAX_INPUTS: '16', KV_TIMEOUT_MS: '250', TENANT_ID: 'initech' });
    expect(tenant.vars.BUNDLE_HASH).toBeUndefined();
    // The entry that fits Workers' upload limit: the compiled-in plan without ONNX Runtime (tests in deploy-size.test.ts).
    expect((tenant as { main?: string }).main).toBe('worker/src/index-plan.ts');
    expect(await listTenants(config)).toContain('initech');
  });

  it('serves --bundle from KV: BUNDLE_HASH is the bundle contentHash and the upload command is given', async () => {
    const manifest = JSON.parse(await readFile(join(root, 'bundles/minilm-fixture/manifest.json'), 'utf8')) as {
      contentHash: string;
    };
    const result = await addTenant('hooli', { config, bundle: join(root, 'bundles/minilm-fixture') });
    const tenant = (parse(await readFile(config, 'utf8')) as unknown as Wrangler).env.hooli as Tenant & {
      main?: string;
    };
    expect(tenant.vars.BUNDLE_HASH).toBe(manifest.contentHash);
    expect(tenant.main).toBe('worker/src/index-kv.ts');
    expect(result.uploadCommand).toMatch(/upload-bundle .*minilm-fixture --binding BUNDLE_STORE --env hooli --remote$/);
  });

  it('serves a static bundle with the entry built without ONNX Runtime: --static, or --bundle of a static bundle', async () => {
    await addTenant('compiled', { config, static: true });
    await addTenant('stored', { config, bundle: join(root, 'bundles/static-default') });
    const manifest = JSON.parse(await readFile(join(root, 'bundles/static-default/manifest.json'), 'utf8')) as {
      contentHash: string;
    };
    const { env } = parse(await readFile(config, 'utf8')) as unknown as {
      env: Record<string, Tenant & { main?: string }>;
    };
    expect(env.compiled.main).toBe('worker/src/index-static.ts');
    expect(env.compiled.vars.BUNDLE_HASH).toBeUndefined();
    expect(env.stored.main).toBe('worker/src/index-static.ts');
    expect(env.stored.vars.BUNDLE_HASH).toBe(manifest.contentHash);
    const before = await readFile(config, 'utf8');
    await expect(
      addTenant('mixed', { config, static: true, bundle: join(root, 'bundles/minilm-fixture') }),
    ).rejects.toThrow(/--static needs a static bundle/);
    expect(await readFile(config, 'utf8')).toBe(before);
  });

  it('pins an engine with --engine: ort sets ENGINE with a KV bundle; plan and auto build from the entry without ONNX Runtime', async () => {
    await addTenant('pinned', { config, engine: 'ort', bundle: join(root, 'bundles/minilm-fixture') });
    await addTenant('planned', { config, engine: 'plan' });
    await addTenant('automatic', { config, engine: 'auto' });
    await addTenant('planned-kv', { config, engine: 'plan', bundle: join(root, 'bundles/minilm-fixture') });
    await addTenant('planned-reranker', { config, engine: 'plan', bundle: join(root, 'bundles/reranker-fixture') });
    const { env } = parse(await readFile(config, 'utf8')) as unknown as {
      env: Record<string, Tenant & { main?: string }>;
    };
    expect([env.pinned.vars.ENGINE, env.pinned.main]).toEqual(['ort', 'worker/src/index-kv.ts']);
    expect([env.planned.vars.ENGINE, env.planned.main]).toEqual(['plan', 'worker/src/index-plan.ts']);
    expect([env.automatic.vars.ENGINE, env.automatic.main]).toEqual(['auto', 'worker/src/index-plan.ts']);
    expect([env['planned-kv'].vars.ENGINE, env['planned-kv'].main]).toEqual(['plan', 'worker/src/index-kv-plan.ts']);
    const before = await readFile(config, 'utf8');
    const planless = await planlessCopy(join(root, 'bundles/reranker-fixture'));
    await expect(addTenant('reranker', { config, engine: 'plan', bundle: planless })).rejects.toThrow(
      /--engine plan needs a bundle with an encoder plan; .* has no plan.json and plan.bin/,
    );
    const oneTypeRow = await cutPlanCopy(join(root, 'bundles/reranker-fixture'));
    await expect(addTenant('reranker', { config, engine: 'plan', bundle: oneTypeRow })).rejects.toThrow(
      /--engine plan cannot serve .*: the cross-encoder feeds its documents token type 1, and its encoder plan has 1 token-type row/,
    );
    await expect(addTenant('table', { config, engine: 'ort', static: true })).rejects.toThrow(/--engine is for/);
    await expect(addTenant('bad', { config, vars: { ENGINE: 'onnx' } })).rejects.toThrow(
      /\[env.bad.vars\] ENGINE: must be auto, plan or ort/,
    );
    expect(await readFile(config, 'utf8')).toBe(before);
  });

  it('refuses a bad name, an existing tenant and a folder that is not a bundle, leaving the file unchanged', async () => {
    await addTenant('umbrella', { config });
    const before = await readFile(config, 'utf8');
    await expect(addTenant('Bad:Name', { config })).rejects.toThrow(/lowercase/);
    await expect(addTenant('umbrella', { config })).rejects.toThrow(/already exists/);
    await expect(addTenant('other', { config, bundle: dir })).rejects.toThrow(/not a bundle/);
    expect(await readFile(config, 'utf8')).toBe(before);
  });
});

describe('the example tenants in wrangler.toml', () => {
  it('each have their own worker name, EMBED_CACHE and BUNDLE_STORE bindings and TENANT_ID', async () => {
    const parsed = parse(await readFile(join(root, 'wrangler.toml'), 'utf8')) as unknown as Wrangler;
    const names = Object.keys(parsed.env);
    expect(names.length).toBeGreaterThanOrEqual(2);
    for (const name of names) {
      const tenant = parsed.env[name];
      expect(tenant.vars.TENANT_ID).toBe(name);
      expect(tenant.kv_namespaces.map((ns) => ns.binding).sort()).toEqual(['BUNDLE_STORE', 'EMBED_CACHE']);
    }
    expect(new Set(names.map((name) => parsed.env[name].name)).size).toBe(names.length);
    // Ids, once set, are never shared between tenants.
    const ids = names.flatMap((name) =>
      parsed.env[name].kv_namespaces.filter((ns) => ns.binding === 'EMBED_CACHE' && ns.id).map((ns) => ns.id),
    );
    expect(new Set(ids).size).toBe(ids.length);
  });
});
