/**
 * The plan engine (bundle-runtime/plan-engine.ts: the whole forward pass in WASM, the SIMD128 build in Node) against
 * ONNX Runtime on both built bundles: cosine >= 0.9999 mean and >= 0.999 minimum over token sequences of lengths
 * spread from 1 to the bundle's maximum, and a batch gives its sequences' single results, also when its rows span
 * several passes of the engine. `npm test` runs 64 sequences per bundle (ORT's side is most of the time, and the
 * machine is shared); PLAN_PARITY_SEQUENCES=500 runs the issue's 500.
 */
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseEncoderPlan, tokenTypeRows } from '../../bundle-format/encoder-plan.js';
import { parseBundleManifest } from '../../bundle-format/manifest.js';
import { createOrtEngine } from '../../bundle-runtime/ort-engine.js';
import { createPlanEngine } from '../../bundle-runtime/plan-engine.js';
import { createPlanReferenceEngine } from '../../bundle-runtime/plan-reference.js';
import { cosine } from '../../bundle-runtime/similarity.js';
import { buildEngine } from '../../engine/build.js';
import { nodeOrt } from '../../model-packager/src/runtime/ort-node.js';
import { needs } from '../support/requirements.js';

const root = join(import.meta.dirname, '../..');
const SEQUENCES = Number(process.env.PLAN_PARITY_SEQUENCES ?? 64);

let simd128: WebAssembly.Module;
beforeAll(async () => {
  simd128 = new WebAssembly.Module(readFileSync((await buildEngine()).simd128));
});

/** Seeded sequences: `count` lengths spread over 1..max, ids drawn from the whole (pruned) vocabulary. */
function sequences(count: number, max: number, vocabulary: number): number[][] {
  let state = 5;
  const next = () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
  return Array.from({ length: count }, (_, i) => {
    const length = 1 + Math.round((i * (max - 1)) / Math.max(1, count - 1));
    return Array.from({ length }, () => 4 + Math.floor(next() * (vocabulary - 4)));
  });
}

for (const name of ['default', 'minilm-fixture']) {
  const dir = join(root, 'bundles', name);
  const built = existsSync(join(dir, 'plan.json'));
  describe.skipIf(needs(built, `${dir}/plan.json (npm run build)`))(`the plan engine on bundles/${name}`, () => {
    it(`gives ORT's vectors on ${SEQUENCES} sequences of lengths 1 to max, and a batch its single results`, async () => {
      const manifest = parseBundleManifest(JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')));
      const weights = new Uint8Array(await readFile(join(dir, 'plan.bin')));
      const plan = parseEncoderPlan(JSON.parse(await readFile(join(dir, 'plan.json'), 'utf8')), weights.length);
      const engine = await createPlanEngine(plan, weights, simd128);
      const ort = await createOrtEngine(nodeOrt, await readFile(join(dir, 'model.onnx')), manifest);
      try {
        const all = sequences(SEQUENCES, manifest.maxTokens, manifest.vocabulary.after);
        const cosines: number[] = [];
        for (const ids of all) cosines.push(cosine((await ort.run([ids]))[0], (await engine.run([ids]))[0]));
        expect(cosines.reduce((a, b) => a + b, 0) / cosines.length).toBeGreaterThanOrEqual(0.9999);
        expect(Math.min(...cosines)).toBeGreaterThanOrEqual(0.999);
        const batch = [...all.slice(0, 5), ...all.slice(-3)];
        const together = await engine.run(batch);
        for (const [i, ids] of batch.entries()) expect(together[i]).toEqual((await engine.run([ids]))[0]);
      } finally {
        await ort.release();
      }
    }, 900_000);

    it('refuses token types the plan has no row for (an embedder: only 0) instead of giving wrong vectors', async () => {
      const weights = new Uint8Array(await readFile(join(dir, 'plan.bin')));
      const plan = parseEncoderPlan(JSON.parse(await readFile(join(dir, 'plan.json'), 'utf8')), weights.length);
      const engine = await createPlanEngine(plan, weights, simd128);
      await expect(engine.run([[5, 6, 7]], [[0, 1, 1]])).rejects.toThrow(/token types/);
      expect((await engine.run([[5, 6, 7]], [[0, 0, 0]]))[0]).toEqual((await engine.run([[5, 6, 7]]))[0]);
    });
  });
}

// A cross-encoder's plan (version 2): a token-type table, CLS pooling, a logits head. Its parity with ONNX Runtime is
// test/runtime/cross-encoder-plan-parity.test.ts (the reference executor); here the engine must give the reference's
// logits with each token's type, and types must matter (the same pairs typed all 0 land far off).
const reranker = join(root, 'bundles', 'reranker-fixture');
describe.skipIf(needs(existsSync(join(reranker, 'plan.json')), `${reranker}/plan.json (npm run build)`))(
  'the plan engine on bundles/reranker-fixture',
  () => {
    it("gives the reference executor's logits for query/document pairs with their token types", async () => {
      const weights = new Uint8Array(await readFile(join(reranker, 'plan.bin')));
      const plan = parseEncoderPlan(JSON.parse(await readFile(join(reranker, 'plan.json'), 'utf8')), weights.length);
      expect(tokenTypeRows(plan)).toBeGreaterThanOrEqual(2);
      const engine = await createPlanEngine(plan, weights, simd128);
      const reference = createPlanReferenceEngine(plan, weights);
      const pairs = sequences(40, plan.maxTokens, plan.embeddings.word.shape[0]).slice(1);
      const types = pairs.map((ids) => ids.map((_, t) => (t < ids.length / 3 ? 0 : 1)));
      const [ours, expected, typeBlind] = [
        await engine.run(pairs, types),
        await reference.run(pairs, types),
        await engine.run(pairs),
      ];
      const gaps = (a: Float32Array[]) =>
        a.flatMap((logits, i) => Array.from(logits, (v, j) => Math.abs(v - expected[i][j]))).sort((x, y) => x - y);
      const median = (values: number[]) => values[values.length >> 1];
      expect(median(gaps(ours))).toBeLessThanOrEqual(1e-4);
      expect(Math.max(...gaps(ours))).toBeLessThanOrEqual(0.05);
      expect(median(gaps(typeBlind))).toBeGreaterThan(100 * Math.max(median(gaps(ours)), 1e-6));
      await expect(engine.run([[5, 6]], [[0, tokenTypeRows(plan)]])).rejects.toThrow(/token type/);
    }, 300_000);
  },
);
