/**
 * The encoder plans `npm run build` writes beside model.onnx, run by the TypeScript reference executor, against the
 * same bundles run by ONNX Runtime (onnxruntime-web WASM in Node, as the worker runs them): the plan must mean what
 * the graph computes, on token sequences of every length from 1 to the bundle's maximum.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseEncoderPlan } from '../../bundle-format/encoder-plan.js';
import { parseBundleManifest } from '../../bundle-format/manifest.js';
import { createOrtEngine } from '../../bundle-runtime/ort-engine.js';
import { createPlanReferenceEngine } from '../../bundle-runtime/plan-reference.js';
import { cosine } from '../../bundle-runtime/similarity.js';
import { nodeOrt } from '../../model-packager/src/runtime/ort-node.js';
import { needs } from '../support/requirements.js';

const root = join(import.meta.dirname, '../..');

/** Seeded sequences: `count` lengths spread over 1..max, ids drawn from the whole (pruned) vocabulary. */
function sequences(count: number, max: number, vocabulary: number): number[][] {
  let state = 3;
  const next = () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
  return Array.from({ length: count }, (_, i) => {
    const length = 1 + Math.round((i * (max - 1)) / (count - 1));
    return Array.from({ length }, () => 4 + Math.floor(next() * (vocabulary - 4)));
  });
}

for (const name of ['default', 'minilm-fixture']) {
  const dir = join(root, 'bundles', name);
  const built = existsSync(join(dir, 'plan.json'));
  describe.skipIf(needs(built, `${dir}/plan.json (npm run build)`))(`the encoder plan of bundles/${name}`, () => {
    it('gives the ONNX graph vectors (cosine >= 0.9999 mean, >= 0.999 min) and a batch its single results', async () => {
      const manifest = parseBundleManifest(JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')));
      const weights = new Uint8Array(await readFile(join(dir, 'plan.bin')));
      const plan = parseEncoderPlan(JSON.parse(await readFile(join(dir, 'plan.json'), 'utf8')), weights.length);
      const reference = createPlanReferenceEngine(plan, weights);
      const ort = await createOrtEngine(nodeOrt, await readFile(join(dir, 'model.onnx')), {
        ...manifest,
        output: manifest.output,
      });
      try {
        const batch = sequences(8, manifest.maxTokens, manifest.vocabulary.after);
        const planVectors = await reference.run(batch);
        const cosines = await Promise.all(
          batch.map(async (ids, i) => cosine((await ort.run([ids]))[0], planVectors[i])),
        );
        expect(cosines.reduce((a, b) => a + b, 0) / cosines.length).toBeGreaterThanOrEqual(0.9999);
        expect(Math.min(...cosines)).toBeGreaterThanOrEqual(0.999);
        const [single] = await reference.run([batch[3]]);
        expect(single).toEqual(planVectors[3]);
      } finally {
        await ort.release();
      }
    });
  });
}
