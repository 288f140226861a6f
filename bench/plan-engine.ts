/**
 * `npm run bench:plan-engine`: the plan engine (bundle-runtime/plan-engine.ts, engine/'s SIMD128 GEMM build) beside
 * onnxruntime-web's WASM build on the same bundle in the same Node process: the same token sequences one at a time,
 * rounds interleaved, total wall time per engine and their ratio. Node only: workerd rows (the relaxed-SIMD build)
 * belong in bench:compare once the worker can run the plan.
 *
 *   npm run bench:plan-engine -- [--bundle bundles/minilm-fixture] [--sequences 40] [--rounds 3]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseEncoderPlan } from '../bundle-format/encoder-plan.js';
import { parseBundleManifest } from '../bundle-format/manifest.js';
import type { InferenceEngine } from '../bundle-runtime/engine.js';
import { createOrtEngine } from '../bundle-runtime/ort-engine.js';
import { createPlanEngine } from '../bundle-runtime/plan-engine.js';
import { buildEngine } from '../engine/build.js';
import { nodeOrt } from '../model-packager/src/runtime/ort-node.js';

const { values } = parseArgs({
  options: {
    bundle: { type: 'string', default: 'bundles/default' },
    sequences: { type: 'string', default: '40' },
    rounds: { type: 'string', default: '3' },
  },
});
const dir = values.bundle;
const manifest = parseBundleManifest(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')));
const weights = new Uint8Array(readFileSync(join(dir, 'plan.bin')));
const plan = parseEncoderPlan(JSON.parse(readFileSync(join(dir, 'plan.json'), 'utf8')), weights.length);
const kernels = new WebAssembly.Module(readFileSync((await buildEngine()).simd128));
const engines: [string, InferenceEngine][] = [
  ['plan engine (SIMD128)', await createPlanEngine(plan, weights, kernels)],
  ['onnxruntime-web', await createOrtEngine(nodeOrt, readFileSync(join(dir, 'model.onnx')), manifest)],
];
const count = Number(values.sequences);
const sequences = Array.from({ length: count }, (_, i) =>
  Array.from({ length: 1 + Math.round((i * (manifest.maxTokens - 1)) / Math.max(1, count - 1)) }, (_, j) => {
    return 4 + ((i * 7919 + j * 104729) % (manifest.vocabulary.after - 4));
  }),
);
const totals = new Map(engines.map(([name]) => [name, 0]));
for (const [, engine] of engines) for (const ids of sequences.slice(0, 4)) await engine.run([ids]);
for (let round = 0; round < Number(values.rounds); round++) {
  for (const [name, engine] of engines) {
    const start = performance.now();
    for (const ids of sequences) await engine.run([ids]);
    totals.set(name, (totals.get(name) ?? 0) + performance.now() - start);
  }
}
const tokens = sequences.reduce((sum, ids) => sum + ids.length, 0) * Number(values.rounds);
for (const [name, ms] of totals)
  console.log(`${name}: ${ms.toFixed(0)} ms, ${((tokens / ms) * 1000).toFixed(0)} tokens/s`);
const [planMs, ortMs] = [...totals.values()];
console.log(
  `${dir}: plan engine / onnxruntime-web throughput ${(ortMs / planMs).toFixed(2)}x (load average ${(await import('node:os')).loadavg()[0].toFixed(1)})`,
);
