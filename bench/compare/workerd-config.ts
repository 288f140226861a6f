/**
 * A capnp config for the plain `workerd` binary (the one wrangler and Miniflare pin) serving a wrangler build of the
 * worker (`wrangler deploy --dry-run --outdir`): the production-like host of bench/latency.ts. One workerd process, one
 * socket straight to the worker: no Miniflare entry worker, no dev proxy, no inspector unless asked for.
 *
 * Vars become text bindings. KV namespaces are left unbound: the benchmark runs with BENCH_CACHE = "off", where
 * cache-switch.ts hides EMBED_CACHE anyway, and workerd has no KV implementation of its own (Miniflare supplies one
 * as extra workers, which is the layer this host exists to leave out).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readWranglerBuild } from './wrangler-build.js';

/** A capnp text literal (capnp's escapes are C's, which JSON's are a subset of for these strings). */
const text = (value: string) => JSON.stringify(value);

/**
 * Writes `<buildDir>/workerd-<port>.capnp` (module paths are relative to it) and returns its path.
 * @example writeWorkerdConfig('bench/compare/wrangler.default.toml', buildDir, 8799, { BENCH_CACHE: 'off' })
 */
export function writeWorkerdConfig(
  configPath: string,
  buildDir: string,
  port: number,
  vars: Record<string, string> = {},
): string {
  const build = readWranglerBuild(configPath, buildDir);
  const { config } = build;
  const modules = build.modules.map(({ kind, file }) => `(name = ${text(file)}, ${kind} = embed ${text(file)})`);
  const bindings = Object.entries({ ...config.vars, ...vars }).map(
    ([name, value]) => `(name = ${text(name)}, text = ${text(value)})`,
  );
  const flags = (config.compatibility_flags ?? []).map(text);
  const capnp = `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "main", worker = .worker)],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "main")],
);
const worker :Workerd.Worker = (
  modules = [${modules.join(', ')}],
  compatibilityDate = ${text(config.compatibility_date)},
  compatibilityFlags = [${flags.join(', ')}],
  bindings = [${bindings.join(', ')}],
);
`;
  const path = join(buildDir, `workerd-${port}.capnp`);
  writeFileSync(path, capnp);
  return path;
}
