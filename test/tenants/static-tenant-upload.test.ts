/**
 * The static-only tenant's upload (worker/src/index-static.ts, the example tenant "vandelay" in wrangler.toml), as
 * `wrangler deploy --dry-run` builds it: the static table and the worker's JavaScript, without ONNX Runtime's wasm, its
 * JavaScript or the transformer's model.onnx. The same checks on the full worker/src/index.ts find all three, so they
 * can fail.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bundlesOrt, dryRunEntry, dryRunUpload } from '../support/dry-run-upload.js';
import { needs } from '../support/requirements.js';

const root = join(import.meta.dirname, '../..');
const built = ['default/model.onnx', 'static-default/embeddings.bin'].every((file) =>
  existsSync(join(root, 'bundles', file)),
);

/** What `wrangler deploy --dry-run --env <tenant>` would upload. */
const upload = (outRoot: string, tenant: string) => dryRunUpload(join(outRoot, tenant), ['--env', tenant]);

describe.skipIf(needs(built, 'bundles/default and bundles/static-default (npm run build)'))(
  'the static-only tenant upload',
  () => {
    let outRoot: string | undefined;
    afterAll(() => (outRoot === undefined ? undefined : rm(outRoot, { recursive: true, force: true })));

    it('holds the static table and no ONNX Runtime or transformer; the full worker holds both', async () => {
      outRoot = await mkdtemp(join(tmpdir(), 'edge-embed-static-upload-'));
      const staticOnly = await upload(outRoot, 'vandelay');
      expect(staticOnly.files.sort()).toEqual(['embeddings.bin', 'index-static.js']);
      expect(bundlesOrt(staticOnly.script)).toBe(false);

      const transformer = await dryRunEntry(join(outRoot, 'full'), 'worker/src/index.ts');
      expect(transformer.files).toEqual(expect.arrayContaining(['model.onnx', 'ort-wasm-simd-threaded.wasm']));
      expect(bundlesOrt(transformer.script)).toBe(true);
    });
  },
);
