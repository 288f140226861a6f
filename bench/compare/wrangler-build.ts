/**
 * A wrangler build of the worker (`wrangler deploy --dry-run --outdir`, the files wrangler would upload) read for a
 * host to serve: its wrangler.toml and its modules with the types wrangler gives them, the entry as an ES module, the
 * wasm precompiled (the CompiledWasm rule), *.onnx and *.bin (a static bundle's table, the plan's weights) as data.
 * Shared by the Miniflare host (miniflare-host.ts) and the plain workerd host (workerd-config.ts).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { parse } from 'smol-toml';

export interface WranglerConfig {
  main: string;
  compatibility_date: string;
  compatibility_flags?: string[];
  vars?: Record<string, string>;
  kv_namespaces?: { binding: string }[];
}

export interface BuildModule {
  kind: 'esModule' | 'wasm' | 'data';
  /** The file name inside the build folder. */
  file: string;
}

/** @example const { config, modules } = readWranglerBuild('bench/compare/wrangler.default.toml', buildDir) */
export function readWranglerBuild(
  configPath: string,
  buildDir: string,
): { config: WranglerConfig; modules: BuildModule[] } {
  const config = parse(readFileSync(configPath, 'utf8')) as unknown as WranglerConfig;
  const mainFile = config.main.replace(/\.ts$/, '.js');
  const files = readdirSync(buildDir);
  if (!files.includes(mainFile))
    throw new Error(`${buildDir} has no ${mainFile}: build it with wrangler deploy --dry-run --outdir`);
  return {
    config,
    modules: [
      { kind: 'esModule', file: mainFile },
      ...files.filter((file) => file.endsWith('.wasm')).map((file) => ({ kind: 'wasm' as const, file })),
      ...files
        .filter((file) => file.endsWith('.onnx') || file.endsWith('.bin'))
        .map((file) => ({ kind: 'data' as const, file })),
    ],
  };
}
