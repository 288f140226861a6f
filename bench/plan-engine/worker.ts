/**
 * A benchmark-only Workers entry: the plan engine (relaxed-SIMD build, as the worker runs it) and onnxruntime-web on
 * both built bundles in one workerd. workerd's clock stands still while code runs, so each /time request runs
 * `iters` batches and the Node side times the request (bench/plan-engine.ts).
 *
 *   GET  /health
 *   POST /batches?bundle=        body: JSON number[][][], the token id batches to run
 *   GET  /check?bundle=          cosines of the plan engine's vectors against ORT's on every posted sequence, and
 *                                whether each batch gives its single results
 *   GET  /time?bundle=&engine=&iters=   engine: plan | plan-singles (each sequence of a batch run alone) | ort;
 *                                runs `iters` batches, cycling through the posted ones
 */
/// <reference path="../../worker/src/modules.d.ts" />
/// <reference path="./modules.d.ts" />
import { type EncoderPlan, parseEncoderPlan } from '../../bundle-format/encoder-plan.js';
import { parseBundleManifest } from '../../bundle-format/manifest.js';
import type { InferenceEngine } from '../../bundle-runtime/engine.js';
import { createOrtEngine } from '../../bundle-runtime/ort-engine.js';
import { createPlanEngine } from '../../bundle-runtime/plan-engine.js';
import { cosine } from '../../bundle-runtime/similarity.js';
import defaultManifest from '../../bundles/default/manifest.json';
import defaultModel from '../../bundles/default/model.onnx';
import defaultWeights from '../../bundles/default/plan.bin';
import defaultPlan from '../../bundles/default/plan.json';
import minilmManifest from '../../bundles/minilm-fixture/manifest.json';
import minilmModel from '../../bundles/minilm-fixture/model.onnx';
import minilmWeights from '../../bundles/minilm-fixture/plan.bin';
import minilmPlan from '../../bundles/minilm-fixture/plan.json';
import relaxedExact from '../../engine/dist/gemm-relaxed-exact.wasm';
import { workerdOrt } from '../../worker/src/runtime/ort-workerd.js';

const bundles = {
  default: { manifest: defaultManifest, model: defaultModel, weights: defaultWeights, plan: defaultPlan },
  'minilm-fixture': { manifest: minilmManifest, model: minilmModel, weights: minilmWeights, plan: minilmPlan },
} as const;
type BundleName = keyof typeof bundles;

const engines = new Map<string, Promise<InferenceEngine>>();
const batches = new Map<BundleName, number[][][]>();

function bundleOf(url: URL): BundleName {
  const name = url.searchParams.get('bundle') ?? '';
  if (!(name in bundles)) throw new Error(`unknown bundle ${name}`);
  return name as BundleName;
}

function engine(name: BundleName, kind: string): Promise<InferenceEngine> {
  const key = `${name}:${kind}`;
  let made = engines.get(key);
  if (!made) {
    const b = bundles[name];
    if (kind === 'plan-singles') {
      made = engine(name, 'plan').then((plan) => ({
        ...plan,
        run: async (sequences: readonly number[][]) =>
          (await Promise.all(sequences.map((ids) => plan.run([ids])))).flat(),
      }));
    } else if (kind === 'plan') {
      const weights = new Uint8Array(b.weights);
      const plan: EncoderPlan = parseEncoderPlan(b.plan, weights.byteLength);
      made = createPlanEngine(plan, weights, relaxedExact);
    } else if (kind === 'ort') {
      made = createOrtEngine(workerdOrt, new Uint8Array(b.model), parseBundleManifest(b.manifest));
    } else {
      throw new Error(`unknown engine ${kind}`);
    }
    engines.set(key, made);
  }
  return made;
}

function posted(name: BundleName): number[][][] {
  const found = batches.get(name);
  if (!found) throw new Error(`no batches for ${name}: POST /batches first`);
  return found;
}

async function check(name: BundleName) {
  const [plan, ort] = [await engine(name, 'plan'), await engine(name, 'ort')];
  const cosines: number[] = [];
  let batchEqualsSingles = true;
  for (const batch of posted(name)) {
    const together = await plan.run(batch);
    const reference = await ort.run(batch);
    for (const [i, ids] of batch.entries()) {
      cosines.push(cosine(together[i], reference[i]));
      const single = (await plan.run([ids]))[0];
      if (single.some((v, d) => v !== together[i][d])) batchEqualsSingles = false;
    }
  }
  return {
    sequences: cosines.length,
    meanCosine: cosines.reduce((a, b) => a + b, 0) / cosines.length,
    minCosine: Math.min(...cosines),
    batchEqualsSingles,
  };
}

async function time(name: BundleName, kind: string, iters: number): Promise<number> {
  const e = await engine(name, kind);
  const all = posted(name);
  let checksum = 0;
  for (let i = 0; i < iters; i++) checksum += (await e.run(all[i % all.length]))[0][0];
  return checksum;
}

export default {
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    try {
      if (url.pathname === '/health') return new Response('ok');
      if (url.pathname === '/batches' && request.method === 'POST') {
        batches.set(bundleOf(url), (await request.json()) as number[][][]);
        return new Response('ok');
      }
      if (url.pathname === '/check') return Response.json(await check(bundleOf(url)));
      if (url.pathname === '/time') {
        const iters = Number(url.searchParams.get('iters') ?? 1);
        return Response.json(await time(bundleOf(url), url.searchParams.get('engine') ?? '', iters));
      }
      return new Response('not found', { status: 404 });
    } catch (error) {
      return new Response((error as Error).stack ?? String(error), { status: 500 });
    }
  },
};
