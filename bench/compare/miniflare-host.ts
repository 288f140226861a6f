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
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Miniflare } from 'miniflare';
import { parse } from 'smol-toml';

interface WranglerConfig {
  main: string;
  compatibility_date: string;
  compatibility_flags?: string[];
  vars?: Record<string, string>;
  kv_namespaces?: { binding: string }[];
}

const [configPath, buildDir, port, persistTo, varsJson = '{}'] = process.argv.slice(2);
if (!configPath || !buildDir || !port || !persistTo) {
  console.error('usage: miniflare-host.ts <wrangler.toml> <build dir> <port> <persist dir> [vars JSON]');
  process.exit(2);
}
const config = parse(readFileSync(configPath, 'utf8')) as unknown as WranglerConfig;
const mainFile = config.main.replace(/\.ts$/, '.js');
const files = readdirSync(buildDir);
if (!files.includes(mainFile))
  throw new Error(`${buildDir} has no ${mainFile}: build it with wrangler deploy --dry-run --outdir`);

// The same module types wrangler gives them: the ORT wasm precompiled (CompiledWasm rule), *.onnx and *.bin (a static
// bundle's table) as ArrayBuffer (Data).
const modules = [
  { type: 'ESModule' as const, path: join(buildDir, mainFile) },
  ...files
    .filter((file) => file.endsWith('.wasm'))
    .map((file) => ({ type: 'CompiledWasm' as const, path: join(buildDir, file) })),
  ...files
    .filter((file) => file.endsWith('.onnx') || file.endsWith('.bin'))
    .map((file) => ({ type: 'Data' as const, path: join(buildDir, file) })),
];

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
