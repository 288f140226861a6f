/**
 * The uploads of the entries built for the encoder plan engine without ONNX Runtime (`npm run tenant -- add <name>
 * --engine plan`), as `wrangler deploy --dry-run` builds them: worker/src/index-plan.ts holds the default bundle's
 * plan.bin, the static companion's table and the plan's kernels, and neither ORT's wasm, its JavaScript nor
 * model.onnx; worker/src/index-kv-plan.ts holds only its JavaScript and the kernels. The full worker/src/index.ts, built
 * the same way, holds ORT and model.onnx, so the checks can fail.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bundlesOrt, dryRunEntry } from '../support/dry-run-upload.js';
import { needs } from '../support/requirements.js';

const root = join(import.meta.dirname, '../..');
const built = ['default/plan.bin', 'static-default/embeddings.bin'].every((file) =>
  existsSync(join(root, 'bundles', file)),
);

const upload = (outRoot: string, main: string) => dryRunEntry(join(outRoot, main.replace(/\W/g, '_')), main);

describe.skipIf(needs(built, 'bundles/default with its plan and bundles/static-default (npm run build)'))(
  'the plan-engine tenant uploads',
  () => {
    let outRoot: string | undefined;
    afterAll(() => (outRoot === undefined ? undefined : rm(outRoot, { recursive: true, force: true })));

    it('hold the plan and its kernels, no ONNX Runtime and no model.onnx; the full worker holds both', async () => {
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
