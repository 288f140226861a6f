/**
 * The uploads of the entries built for the encoder plan engine without ONNX Runtime (`npm run tenant -- add <name>
 * --engine plan`), as `wrangler deploy --dry-run` builds them: worker/src/index-plan.ts holds the default bundle's
 * plan.bin, the static companion's table and the plan's kernels, and neither ORT's wasm, its JavaScript nor
 * model.onnx; worker/src/index-kv-plan.ts holds only its JavaScript and the kernels. The default entry, built the same
 * way, holds ORT and model.onnx, so the checks can fail.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bundlesOrt, dryRunUpload } from '../support/dry-run-upload.js';
import { needs } from '../support/requirements.js';

const root = join(import.meta.dirname, '../..');
const built = ['default/plan.bin', 'static-default/embeddings.bin'].every((file) =>
  existsSync(join(root, 'bundles', file)),
);

/** What `wrangler deploy --dry-run` would upload for this entry: file names (hash prefix dropped) and the JS text. */
async function upload(outRoot: string, main: string): Promise<{ files: string[]; script: string }> {
  // The config sits in the repository root, so `main` and the rules resolve as in wrangler.toml.
  const config = join(root, `.plan-upload-test-${process.pid}-${main.replace(/\W/g, '_')}.toml`);
  await writeFile(
    config,
    `name = "edge-embed-plan-upload-test"\nmain = "${main}"\ncompatibility_date = "2026-04-01"\n` +
      'rules = [{ type = "Data", globs = ["**/*.onnx"], fallthrough = true }]\n',
  );
  try {
    return await dryRunUpload(join(outRoot, main.replace(/\W/g, '_')), ['--config', config]);
  } finally {
    await rm(config, { force: true });
  }
}

describe.skipIf(needs(built, 'bundles/default with its plan and bundles/static-default (npm run build)'))(
  'the plan-engine tenant uploads',
  () => {
    let outRoot: string | undefined;
    afterAll(() => (outRoot === undefined ? undefined : rm(outRoot, { recursive: true, force: true })));

    it('hold the plan and its kernels, no ONNX Runtime and no model.onnx; the default entry holds both', async () => {
      outRoot = await mkdtemp(join(tmpdir(), 'edge-embed-plan-upload-'));
      const compiled = await upload(outRoot, 'worker/src/index-plan.ts');
      expect(compiled.files).toEqual(['embeddings.bin', 'gemm-relaxed-exact.wasm', 'index-plan.js', 'plan.bin']);
      expect(bundlesOrt(compiled.script)).toBe(false);
      const kv = await upload(outRoot, 'worker/src/index-kv-plan.ts');
      expect(kv.files).toEqual(['gemm-relaxed-exact.wasm', 'index-kv-plan.js']);
      expect(bundlesOrt(kv.script)).toBe(false);

      const full = await upload(outRoot, 'worker/src/index.ts');
      expect(full.files).toEqual(expect.arrayContaining(['model.onnx', 'plan.bin', 'ort-wasm-simd-threaded.wasm']));
      expect(bundlesOrt(full.script)).toBe(true);
    });
  },
);
