/**
 * The static-only tenant's upload (worker/src/index-static.ts, the example tenant "vandelay" in wrangler.toml), as
 * `wrangler deploy --dry-run` builds it: the static table and the worker's JavaScript, without ONNX Runtime's wasm, its
 * JavaScript or the transformer's model.onnx. The same checks on the default entry (tenant "acme") find all three, so
 * they can fail.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { needs } from '../support/requirements.js';

const root = join(import.meta.dirname, '../..');
const wrangler = createRequire(import.meta.url).resolve('wrangler/bin/wrangler.js');
const built = ['default/model.onnx', 'static-default/embeddings.bin'].every((file) =>
  existsSync(join(root, 'bundles', file)),
);

/** What `wrangler deploy --dry-run --env <tenant>` would upload: file names (hash prefix dropped) and the JS text. */
async function upload(outRoot: string, tenant: string): Promise<{ files: string[]; script: string }> {
  const outdir = join(outRoot, tenant);
  const result = spawnSync(process.execPath, [wrangler, 'deploy', '--dry-run', '--env', tenant, '--outdir', outdir], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false' },
  });
  if (result.status !== 0) throw new Error(`wrangler exited ${result.status}: ${result.stderr}`);
  const names = (await readdir(outdir)).filter((file) => !file.endsWith('.map') && file !== 'README.md');
  const scripts = names.filter((file) => file.endsWith('.js'));
  const script = (await Promise.all(scripts.map((file) => readFile(join(outdir, file), 'utf8')))).join('\n');
  return { files: names.map((file) => file.replace(/^[0-9a-f]{40}-/, '')), script };
}

/** esbuild marks each bundled module with a `// <path>` line. */
const bundlesOrt = (script: string) => /^\/\/ node_modules\/onnxruntime-web\//m.test(script);

describe.skipIf(needs(built, 'bundles/default and bundles/static-default (npm run build)'))(
  'the static-only tenant upload',
  () => {
    let outRoot: string | undefined;
    afterAll(() => (outRoot === undefined ? undefined : rm(outRoot, { recursive: true, force: true })));

    it('holds the static table and no ONNX Runtime or transformer; the default entry holds both', async () => {
      outRoot = await mkdtemp(join(tmpdir(), 'edge-embed-static-upload-'));
      const staticOnly = await upload(outRoot, 'vandelay');
      expect(staticOnly.files.sort()).toEqual(['embeddings.bin', 'index-static.js']);
      expect(bundlesOrt(staticOnly.script)).toBe(false);

      const transformer = await upload(outRoot, 'acme');
      expect(transformer.files).toEqual(expect.arrayContaining(['model.onnx', 'ort-wasm-simd-threaded.wasm']));
      expect(bundlesOrt(transformer.script)).toBe(true);
    });
  },
);
