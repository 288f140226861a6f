/**
 * Serves a wrangler build of the worker (`wrangler deploy --dry-run --outdir`, the files wrangler would upload) with
 * Miniflare: one workerd process, the worker behind Miniflare's entry worker, KV persisted to a folder. Unlike
 * `wrangler dev` there is no second workerd running wrangler's dev proxy in front (live reload, inspector), a hop
 * production does not have. Run by bench/compare/workerd.ts in its own process group:
 *
 *   tsx bench/compare/miniflare-host.ts <wrangler.toml> <build dir> <port> <persist dir> [vars JSON]
 *
 * Prints "ready <url>" once Miniflare answers, then serves until it is killed.
 */
import { join } from 'node:path';
import { Miniflare } from 'miniflare';
import { readWranglerBuild } from './wrangler-build.js';

const [configPath, buildDir, port, persistTo, varsJson = '{}'] = process.argv.slice(2);
if (!configPath || !buildDir || !port || !persistTo) {
  console.error('usage: miniflare-host.ts <wrangler.toml> <build dir> <port> <persist dir> [vars JSON]');
  process.exit(2);
}
const build = readWranglerBuild(configPath, buildDir);
const { config } = build;
const MODULE_TYPES = { esModule: 'ESModule', wasm: 'CompiledWasm', data: 'Data' } as const;
const modules = build.modules.map(({ kind, file }) => ({ type: MODULE_TYPES[kind], path: join(buildDir, file) }));

const miniflare = new Miniflare({
  modules,
  modulesRoot: buildDir,
  compatibilityDate: config.compatibility_date,
  compatibilityFlags: config.compatibility_flags,
  bindings: { ...config.vars, ...(JSON.parse(varsJson) as Record<string, string>) },
  kvNamespaces: (config.kv_namespaces ?? []).map((namespace) => namespace.binding),
  kvPersist: join(persistTo, 'kv'),
  host: '127.0.0.1',
  port: Number(port),
});
const url = await miniflare.ready;
console.log(`ready ${url.href}`);
const stop = () => void miniflare.dispose().finally(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
