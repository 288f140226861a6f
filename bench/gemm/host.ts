/**
 * Builds the kernels (engine/build.ts) and wrangler's deployable build of a benchmark worker (bench/gemm/worker.ts by
 * default), then serves it with Miniflare: one workerd, the kernel modules and ORT's wasm given as CompiledWasm and
 * other non-JS modules as Data, as wrangler would upload them.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Miniflare } from 'miniflare';
import { buildEngine } from '../../engine/build.js';
import { buildWorker } from '../compare/workerd.js';

export interface GemmWorker {
  url: string;
  get(path: string): Promise<Response>;
  post(path: string, body: Uint8Array): Promise<Response>;
  dispose(): Promise<void>;
}

export async function startGemmWorker(config = join(import.meta.dirname, 'wrangler.toml')): Promise<GemmWorker> {
  await buildEngine();
  const build = buildWorker(config);
  const files = readdirSync(build);
  const miniflare = new Miniflare({
    modules: [
      { type: 'ESModule', path: join(build, 'worker.js') },
      ...files
        .filter((file) => file.endsWith('.wasm'))
        .map((file) => ({ type: 'CompiledWasm' as const, path: join(build, file) })),
      ...files
        .filter((file) => /\.(onnx|bin)$/.test(file))
        .map((file) => ({ type: 'Data' as const, path: join(build, file) })),
    ],
    modulesRoot: build,
    compatibilityDate: '2026-04-01',
    host: '127.0.0.1',
    port: 0,
  });
  const url = (await miniflare.ready).href.replace(/\/$/, '');
  const checked = async (response: Response) => {
    if (!response.ok) throw new Error(`bench worker: ${response.status} ${await response.text()}`);
    return response;
  };
  return {
    url,
    get: async (path) => checked(await fetch(`${url}${path}`)),
    post: async (path, body) => checked(await fetch(`${url}${path}`, { method: 'POST', body: body.slice() })),
    dispose: () => miniflare.dispose(),
  };
}
