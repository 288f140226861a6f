/**
 * `npm run tenant -- add <name> [--bundle <dir>] [--max-inputs n ...]`: adds a tenant to wrangler.toml as a wrangler
 * environment `[env.<name>]` with its own worker name, its own KV namespaces (EMBED_CACHE for the cache, BUNDLE_STORE
 * for bundles), its limits as vars (the top-level [vars] with the flags applied) and TENANT_ID, which prefixes its cache
 * keys, and its `main`: an entry whose upload fits Workers' 10 MiB gzip limit. By default (and with `--engine auto` or
 * `plan`) that is worker/src/index-plan.ts: the compiled-in default bundle's encoder plan and static companion, without
 * ONNX Runtime and model.onnx (what auto runs anyway; the full worker/src/index.ts is about 22 MiB gzip). `--bundle
 * <dir>` serves that bundle from KV: it sets BUNDLE_HASH to the bundle's contentHash and prints the `edge-embed
 * upload-bundle` command that puts it there, and points `main` at worker/src/index-kv.ts (both engines, no model
 * compiled in), with `--engine plan` at worker/src/index-kv-plan.ts (no ONNX Runtime either), or, for a static bundle,
 * at worker/src/index-static.ts. `--static` alone serves the compiled-in bundles/static-default through index-static.ts.
 * `--engine ort` pins ONNX Runtime (the ENGINE var) and so needs `--bundle`: no entry with ONNX Runtime and the default
 * model compiled in fits. API keys stay a secret: `npx wrangler secret put API_KEYS --env <name>`. `npm run tenant --
 * list` prints the tenants. The file is appended to, so its comments survive.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { parse, stringify } from 'smol-toml';
import { PLAN_FILES, parseEncoderPlan } from '../bundle-format/encoder-plan.js';
import { isSha256Hex } from '../bundle-format/hash.js';
import { parseAnyBundleManifest } from '../bundle-format/manifest.js';
import { CONFIG_VARS, checkConfigVars, LIMIT_VARS } from '../worker/src/config.js';
import { bundlePlanProblem, ENGINE_CHOICES, type EngineChoice } from '../worker/src/embedding/engine-choice.js';

/** A worker limit (a field of worker/src/config.ts's LIMIT_VARS); `--max-inputs` sets maxInputs, i.e. MAX_INPUTS. */
type Limit = keyof typeof LIMIT_VARS;
const LIMITS = Object.keys(LIMIT_VARS) as Limit[];
/** The entry built without ONNX Runtime and the transformer, for tenants that serve a static bundle. */
const STATIC_ENTRY = 'worker/src/index-static.ts';
/**
 * Refuses, before anything is written, a bundle whose encoder plan the plan-only entries would answer with 503: a plan
 * that does not parse, or one that cannot stand in for model.onnx (a cross-encoder's plan without a token-type row
 * per type). The same rule as the worker's (worker/src/embedding/engine-choice.ts).
 */
async function checkPlanServes(dir: string, raw: unknown): Promise<void> {
  let reason: string | null;
  try {
    const manifest = parseAnyBundleManifest(raw);
    const weightBytes = manifest.files[PLAN_FILES.weights]?.bytes ?? 0;
    const plan = parseEncoderPlan(JSON.parse(await readFile(join(dir, PLAN_FILES.plan), 'utf8')), weightBytes);
    reason = bundlePlanProblem(manifest, plan);
  } catch (err) {
    reason = (err as Error).message;
  }
  if (reason !== null) throw new Error(`--engine plan cannot serve ${dir}: ${reason}`);
}

/**
 * The entries built without ONNX Runtime, for tenants served by the encoder plan engine: compiled-in plan (also the
 * default entry: wrangler.toml's top-level main), or KV's.
 */
export const PLAN_ENTRY = 'worker/src/index-plan.ts';
const KV_PLAN_ENTRY = 'worker/src/index-kv-plan.ts';
/** The entries that answer ENGINE=ort with 503: they run plans (and static tables) only. */
export const PLAN_ONLY_ENTRIES: readonly string[] = [PLAN_ENTRY, KV_PLAN_ENTRY];
/** Cloudflare's limit on a Worker's gzip upload on the paid plan (`npm run deploy:dry-run` refuses more), and on free. */
export const UPLOAD_LIMIT = 10 * 2 ** 20;
export const FREE_UPLOAD_LIMIT = 3 * 2 ** 20;

export interface AddTenantOptions {
  /** Path of wrangler.toml. */
  config: string;
  bundle?: string;
  /** Serve a static bundle with the entry built without ONNX Runtime (worker/src/index-static.ts). */
  static?: boolean;
  /**
   * Sets ENGINE: `ort` pins ONNX Runtime (with `bundle` only), `plan` the encoder plan engine, `auto` the default; the
   * latter two keep the entry built without ONNX Runtime (worker/src/index-plan.ts, or index-kv-plan.ts for `plan`).
   */
  engine?: EngineChoice;
  kvId?: string;
  bundleStoreId?: string;
  /** namespace_id of a RATE_LIMITER binding ([[env.<name>.ratelimits]]) set to the tenant's rate limit vars. */
  rateLimitNamespace?: string;
  limits?: Partial<Record<Limit, number>>;
  vars?: Record<string, string>;
}

/** Workers' Rate Limiting binding as wrangler.toml declares it. */
interface RateLimitBinding {
  name?: string;
  namespace_id?: string;
  simple?: { limit?: number; period?: number };
}

export interface WranglerConfig {
  name?: string;
  vars?: Record<string, unknown>;
  ratelimits?: RateLimitBinding[];
  env?: Record<string, unknown>;
}

/** A var of one environment of wrangler.toml that the worker would refuse. */
export interface VarProblem {
  /** `[vars]` for the top level, `[env.<name>.vars]` for a tenant. */
  environment: string;
  variable: string;
  message: string;
}

/**
 * Checks every var of every environment with the worker's own schema (worker/src/config.ts), and that each tenant's
 * TENANT_ID is its name, so a deploy never ships a config that fails every request.
 * @example checkWranglerVars(parse(text)) // [{ environment: '[env.acme.vars]', variable: 'MAX_INPUTS', message: ... }]
 */
export function checkWranglerVars(config: WranglerConfig): VarProblem[] {
  const problems: VarProblem[] = checkEnvironment('[vars]', config);
  for (const [name, value] of Object.entries(config.env ?? {})) {
    const environment = `[env.${name}.vars]`;
    const tenant = value as WranglerConfig;
    problems.push(...checkEnvironment(environment, tenant));
    if (
      tenant.vars?.TENANT_ID !== name &&
      !problems.some((p) => p.environment === environment && p.variable === 'TENANT_ID')
    )
      problems.push({ environment, variable: 'TENANT_ID', message: `must be the tenant's name, "${name}"` });
  }
  return problems;
}

/** One environment's vars, and its RATE_LIMITER binding against RATE_LIMIT_REQUESTS / RATE_LIMIT_PERIOD_SECONDS. */
function checkEnvironment(environment: string, config: WranglerConfig): VarProblem[] {
  const vars = config.vars ?? {};
  const problems: VarProblem[] = checkConfigVars(vars).map((problem) => ({ environment, ...problem }));
  const binding = config.ratelimits?.find((entry) => entry.name === 'RATE_LIMITER');
  if (problems.length > 0 || binding === undefined) return problems;
  const { limit: limits, period } = rateLimitOf(vars);
  // With the binding bound, it decides: vars that say otherwise would make /info and the 429 message wrong.
  if (limits > 0 && binding.simple?.limit !== limits)
    problems.push({
      environment,
      variable: 'RATE_LIMIT_REQUESTS',
      message: `is ${limits} but the RATE_LIMITER binding's simple.limit is ${binding.simple?.limit}; make them equal`,
    });
  if (limits > 0 && binding.simple?.period !== period)
    problems.push({
      environment,
      variable: 'RATE_LIMIT_PERIOD_SECONDS',
      message: `is ${period} but the RATE_LIMITER binding's simple.period is ${binding.simple?.period}; make them equal`,
    });
  return problems;
}

/** One line per problem, naming the file, the environment and the var. */
export function describeVarProblems(file: string, problems: readonly VarProblem[]): string {
  return problems
    .map((problem) => `${file}: ${problem.environment} ${problem.variable}: ${problem.message}`)
    .join('\n');
}

/** The tenants (environments) of a wrangler.toml. */
export async function listTenants(config: string): Promise<string[]> {
  const parsed = parse(await readFile(config, 'utf8')) as WranglerConfig;
  return Object.keys(parsed.env ?? {});
}

/**
 * Appends `[env.<name>]` to wrangler.toml; refuses a bad name, an existing tenant, a folder that is not a bundle, or
 * a var (of this tenant or any other environment) that the worker would refuse.
 * @example await addTenant('acme', { config: 'wrangler.toml', limits: { maxInputs: 64 } })
 */
export async function addTenant(
  name: string,
  options: AddTenantOptions,
): Promise<{ block: string; uploadCommand?: string }> {
  if (!CONFIG_VARS.tenantId.schema.safeParse(name).success)
    throw new Error(
      `tenant name "${name}" must be lowercase letters, digits, - and _ (at most 63, starting with a letter or digit)`,
    );
  const text = await readFile(options.config, 'utf8');
  const parsed = parse(text) as WranglerConfig;
  if (parsed.env?.[name] !== undefined) throw new Error(`tenant "${name}" already exists in ${options.config}`);

  const vars: Record<string, string> = {};
  for (const [key, value] of Object.entries(parsed.vars ?? {})) vars[key] = String(value);
  for (const limit of LIMITS) {
    const value = options.limits?.[limit];
    if (value !== undefined) vars[LIMIT_VARS[limit].env] = String(value);
  }
  Object.assign(vars, options.vars);
  vars.TENANT_ID = name;
  if (options.engine !== undefined) {
    if (options.static === true) throw new Error('--engine is for transformer bundles; --static serves a static table');
    vars.ENGINE = options.engine;
  }

  // ONNX Runtime is only in the full worker (about 22 MiB gzip with the default model: no tenant gets it) and the KV one.
  // --var ENGINE=ort, or one inherited from [vars], counts as --engine ort.
  if (vars.ENGINE?.trim() === 'ort' && options.bundle === undefined && options.static !== true)
    throw new Error(
      `ENGINE=ort (--engine ort, --var or [vars]) needs --bundle: ONNX Runtime with the default model compiled in (worker/src/index.ts) is about 22 MiB gzip, over Workers' ${UPLOAD_LIMIT / 2 ** 20} MiB upload limit. ` +
        'Serve the bundle from KV instead (--bundle bundles/default --engine ort: worker/src/index-kv.ts, about 3.7 MiB), or drop ENGINE (auto: the plan engine)',
    );

  let uploadCommand: string | undefined;
  // Without --bundle: the compiled-in default bundle's plan, which auto would run anyway (index.ts is too big to deploy).
  let main = options.static === true ? STATIC_ENTRY : PLAN_ENTRY;
  if (options.bundle !== undefined) {
    const manifestPath = join(options.bundle, 'manifest.json');
    let manifest: { contentHash?: unknown; kind?: unknown; files?: Record<string, unknown> };
    try {
      manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as typeof manifest;
    } catch {
      throw new Error(`${options.bundle} is not a bundle: ${manifestPath} is missing or not JSON`);
    }
    if (!isSha256Hex(manifest.contentHash)) throw new Error(`${manifestPath} has no contentHash`);
    if (options.static === true && manifest.kind !== 'static')
      throw new Error(`--static needs a static bundle (edge-embed distill); ${options.bundle} is a transformer`);
    if (options.engine !== undefined && manifest.kind === 'static')
      throw new Error(`--engine is for transformer bundles; ${options.bundle} is static (it runs its table)`);
    if (
      options.engine === 'plan' &&
      (manifest.files?.['plan.json'] === undefined || manifest.files['plan.bin'] === undefined)
    )
      throw new Error(
        `--engine plan needs a bundle with an encoder plan; ${options.bundle} has no plan.json and plan.bin`,
      );
    if (options.engine === 'plan') await checkPlanServes(options.bundle, manifest);
    vars.BUNDLE_HASH = manifest.contentHash;
    // A KV-served tenant ships without the compiled-in default model; a static one without ONNX Runtime as well.
    main = manifest.kind === 'static' ? STATIC_ENTRY : 'worker/src/index-kv.ts';
    const dir = relative(process.cwd(), resolve(options.bundle)) || '.';
    uploadCommand = `node bin/edge-embed.mjs upload-bundle ${dir} --binding BUNDLE_STORE --env ${name} --remote`;
  }
  // A KV bundle pinned to the plan engine: the KV entry without ONNX Runtime's wasm.
  if (options.engine === 'plan' && options.bundle !== undefined) main = KV_PLAN_ENTRY;

  // The whole file as it would be, every environment's vars checked: a bad --var, or an earlier tenant's bad var.
  const problems = checkWranglerVars({ ...parsed, env: { ...parsed.env, [name]: { vars } } });
  if (problems.length > 0)
    throw new Error(`refusing to add "${name}":\n${describeVarProblems(options.config, problems)}`);
  // Bindings are not inherited: a tenant counts with Workers Rate Limiting only through a binding of its own.
  const ratelimits = rateLimiterFor(vars, options.rateLimitNamespace);

  const namespace = (binding: string, id: string | undefined) => (id === undefined ? { binding } : { binding, id });
  const env = {
    env: {
      [name]: {
        name: `${parsed.name ?? 'edge-embed'}-${name}`,
        main,
        kv_namespaces: [namespace('EMBED_CACHE', options.kvId), namespace('BUNDLE_STORE', options.bundleStoreId)],
        ...(ratelimits === undefined ? {} : { ratelimits }),
        vars,
      },
    },
  };
  const comment = [
    `# Tenant "${name}" (npm run tenant -- add). Deploy: npx wrangler deploy --env ${name}`,
    `# API keys (secret): npx wrangler secret put API_KEYS --env ${name}`,
    ...(options.kvId === undefined
      ? [
          `# KV ids: npx wrangler kv namespace create EMBED_CACHE --env ${name} (and BUNDLE_STORE), then add id = "..." below`,
        ]
      : []),
  ];
  const block = `\n${comment.join('\n')}\n${stringify(env)}\n`;
  await writeFile(options.config, text.replace(/\n*$/, '\n') + block);
  return { block, uploadCommand };
}

/** RATE_LIMIT_REQUESTS and RATE_LIMIT_PERIOD_SECONDS of checked vars, defaults for blank ones. */
function rateLimitOf(vars: Record<string, unknown>): { limit: number; period: number } {
  const set = (value: unknown) => (value === undefined || String(value).trim() === '' ? undefined : value);
  return {
    limit: LIMIT_VARS.rateLimitRequests.schema.parse(set(vars.RATE_LIMIT_REQUESTS)),
    period: LIMIT_VARS.rateLimitPeriodSeconds.schema.parse(set(vars.RATE_LIMIT_PERIOD_SECONDS)),
  };
}

/** The tenant's RATE_LIMITER binding, its limit and period those of the vars; refuses a namespace with limiting off. */
function rateLimiterFor(vars: Record<string, string>, namespaceId: string | undefined): RateLimitBinding[] | undefined {
  if (namespaceId === undefined) return undefined;
  if (!/^\d+$/.test(namespaceId)) throw new Error(`--rate-limit-namespace must be an integer id, got "${namespaceId}"`);
  const { limit, period } = rateLimitOf(vars);
  if (limit === 0) throw new Error('--rate-limit-namespace needs a rate limit: set --rate-limit-requests <n>');
  return [{ name: 'RATE_LIMITER', namespace_id: namespaceId, simple: { limit, period } }];
}

/** Parses a limit flag with the worker's own schema, so the script writes no value the worker would refuse. */
function limitValue(limit: Limit): (value: string) => number {
  return (value) => {
    const result = LIMIT_VARS[limit].schema.safeParse(value);
    if (!result.success) throw new InvalidArgumentError(`${result.error.issues[0].message}.`);
    return result.data;
  };
}

function keyValue(value: string, previous: Record<string, string>): Record<string, string> {
  const match = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(value);
  if (match === null) throw new InvalidArgumentError('expected NAME=value with an upper-case NAME.');
  return { ...previous, [match[1]]: match[2] };
}

async function main(argv: string[]): Promise<void> {
  const program = new Command()
    .name('npm run tenant --')
    .description('Manage the tenants (wrangler environments) in wrangler.toml');
  program.option('--config <path>', 'wrangler config to edit', 'wrangler.toml');
  const add = program
    .command('add <name>')
    .description('add a tenant: its own worker, KV namespaces, limits and (optionally) a bundle served from KV')
    .option('--bundle <dir>', "serve this bundle from the tenant's BUNDLE_STORE (sets BUNDLE_HASH)")
    .option(
      '--static',
      'serve a static bundle without ONNX Runtime (worker/src/index-static.ts): bundles/static-default, or --bundle',
    )
    .addOption(
      new Option(
        '--engine <engine>',
        'sets ENGINE: ort pins ONNX Runtime (needs --bundle: worker/src/index-kv.ts); plan or auto serve with the encoder plan engine from a build without ONNX Runtime (worker/src/index-plan.ts; with --bundle, plan: index-kv-plan.ts)',
      ).choices(ENGINE_CHOICES),
    )
    .option('--kv-id <id>', "id of the tenant's EMBED_CACHE namespace")
    .option('--bundle-store-id <id>', "id of the tenant's BUNDLE_STORE namespace")
    .option(
      '--rate-limit-namespace <id>',
      'count the rate limit with Workers Rate Limiting: a RATE_LIMITER binding with this namespace_id (else per isolate)',
    )
    .option('--var <NAME=value>', 'any other var (repeatable)', keyValue, {});
  for (const limit of LIMITS) {
    const dashed = limit.replace(/[A-Z]/g, (char) => `-${char.toLowerCase()}`);
    add.option(`--${dashed} <n>`, `sets ${LIMIT_VARS[limit].env}: ${LIMIT_VARS[limit].description}`, limitValue(limit));
  }
  add.action(async (name: string, opts: Record<string, unknown>) => {
    const config = program.opts<{ config: string }>().config;
    const limits = Object.fromEntries(
      LIMITS.filter((limit) => opts[limit] !== undefined).map((limit) => [limit, opts[limit] as number]),
    );
    const result = await addTenant(name, {
      config,
      bundle: opts.bundle as string | undefined,
      static: opts.static as boolean | undefined,
      engine: opts.engine as EngineChoice | undefined,
      kvId: opts.kvId as string | undefined,
      bundleStoreId: opts.bundleStoreId as string | undefined,
      rateLimitNamespace: opts.rateLimitNamespace as string | undefined,
      limits,
      vars: opts.var as Record<string, string>,
    });
    console.log(`added tenant "${name}" to ${config}:${result.block}`);
    console.log(`next: npx wrangler secret put API_KEYS --env ${name}`);
    if (result.uploadCommand !== undefined) console.log(`      ${result.uploadCommand}`);
    console.log(`      npx wrangler deploy --env ${name}`);
  });
  program
    .command('list')
    .description('print the tenants')
    .action(async () => {
      for (const name of await listTenants(program.opts<{ config: string }>().config)) console.log(name);
    });
  await program.parseAsync(argv);
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  main(process.argv).catch((error: unknown) => {
    console.error(`tenant: ${(error as Error).message}`);
    process.exitCode = 1;
  });
}
