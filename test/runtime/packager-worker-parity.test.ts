/**
 * The packager and the worker embed through one runtime (bundle-runtime/), so for the same bundle and texts they give
 * the same vectors, bit for bit: the packager's bundle embedder (what `edge-embed eval` and the fidelity check use)
 * against the worker's HTTP app, both in Node on onnxruntime-web's WASM build.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bundleEmbedder } from '../../model-packager/src/eval/embedders.js';
import { nodeOrt } from '../../model-packager/src/runtime/ort-node.js';
import type { BundleSource } from '../../worker/src/bundle/source.js';
import { createApp } from '../../worker/src/http/app.js';
import { needs } from '../support/requirements.js';

const root = join(import.meta.dirname, '../..');

function folderSource(dir: string): BundleSource {
  const json = async (name: string) => JSON.parse(await readFile(join(dir, name), 'utf8')) as object;
  return {
    manifest: () => json('manifest.json'),
    tokenizer: () => json('tokenizer.json'),
    model: async () => new Uint8Array(await readFile(join(dir, 'model.onnx'))),
  };
}

/** Distinct texts from one word to past the model's maximum (truncated on both sides), in no length order. */
function parityTexts(): string[] {
  const words = [
    'river',
    'stone',
    'quiet',
    'market',
    'lantern',
    'orbit',
    'meadow',
    'signal',
    'harbor',
    'copper',
    'tea',
  ];
  const lengths = [1, 40, 3, 200, 12, 7, 90, 2, 25, 600, 5, 60, 15, 33, 300, 8];
  return lengths.map(
    (length, i) => `${i}: ${Array.from({ length }, (_, j) => words[(i * 3 + j * 7) % words.length]).join(' ')}`,
  );
}

const bytesOf = (vector: ArrayLike<number>) => new Uint8Array(Float32Array.from(vector).buffer);

describe.each(['default', 'minilm-fixture'])('bundles/%s', (name) => {
  const dir = join(root, 'bundles', name);
  it.skipIf(needs(existsSync(join(dir, 'manifest.json')), `${dir} (npm run build)`))(
    'packager and worker give bitwise-identical vectors',
    async () => {
      const texts = parityTexts();
      const packager = await bundleEmbedder(dir);
      const fromPackager = await packager.embed(texts);
      await packager.close();

      const app = createApp({ bundle: folderSource(dir), ort: nodeOrt });
      const response = await app.request('/embed', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ inputs: texts, truncate: true }),
      });
      expect(response.status).toBe(200);
      const fromWorker = (await response.json()) as number[][];

      expect(fromWorker).toHaveLength(texts.length);
      // Distinct texts give distinct vectors, so equality below is not the equality of a constant output.
      expect(Buffer.compare(bytesOf(fromWorker[0]), bytesOf(fromWorker[1]))).not.toBe(0);
      texts.forEach((_, i) => {
        expect(Buffer.compare(bytesOf(fromWorker[i]), bytesOf(fromPackager[i])), `text ${i}`).toBe(0);
      });
    },
  );
});
