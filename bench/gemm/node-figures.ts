/**
 * Node's figures for bench:gemm, run by bench/gemm.ts in a child with `--experimental-wasm-relaxed-simd` (Node 20's
 * V8 does not ship relaxed SIMD). The same kernels and ORT MatMulInteger (onnxruntime-web WASM, 1 thread), timed in
 * process (Node's clock advances while code runs). Prints JSON: { "MxKxN": { relaxed, simd128, ort } } in ms per call.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { buildEngine } from '../../engine/build.js';
import { Int8Gemm } from '../../engine/src/int8-gemm.js';
import { nodeOrt } from '../../model-packager/src/runtime/ort-node.js';
import { benchActivations, benchWeights, layerShapes, tokenCounts } from './data.js';
import { matMulIntegerModel } from './models.js';

/** ms per call: ~0.5 s of warm-up, then the median of 5 runs of ~100 ms. */
async function time(call: () => unknown | Promise<unknown>): Promise<number> {
  let iters = 1;
  for (let spent = 0; spent < 500; ) {
    const start = performance.now();
    for (let i = 0; i < iters; i++) await call();
    const ms = performance.now() - start;
    spent += ms;
    if (ms < 100) iters *= 2;
  }
  const samples: number[] = [];
  for (let r = 0; r < 5; r++) {
    const start = performance.now();
    for (let i = 0; i < iters; i++) await call();
    samples.push((performance.now() - start) / iters);
  }
  return samples.sort((a, b) => a - b)[2];
}

const built = await buildEngine();
const relaxed = await Int8Gemm.create(new WebAssembly.Module(readFileSync(built.relaxed)));
const simd128 = await Int8Gemm.create(new WebAssembly.Module(readFileSync(built.simd128)));
const figures: Record<string, Record<string, number>> = {};
for (const { k, n } of layerShapes) {
  const { int8, int7 } = benchWeights(k, n);
  const wRelaxed = relaxed.packWeights(int7.values, int7.scales, k, n);
  const wSimd = simd128.packWeights(int8.values, int8.scales, k, n);
  const session = await nodeOrt.createSession(matMulIntegerModel(int8.values, k, n));
  for (const m of tokenCounts) {
    const a = benchActivations(m, k);
    const out = new Float32Array(m * n);
    const feeds = { a: new nodeOrt.Tensor('uint8', a.values, [m, k]) };
    figures[`${m}x${k}x${n}`] = {
      relaxed: await time(() => relaxed.run(wRelaxed, a.values, a.scales, m, out)),
      simd128: await time(() => simd128.run(wSimd, a.values, a.scales, m, out)),
      ort: await time(async () => (await session.run(feeds)).y.dispose()),
    };
  }
}
process.stdout.write(JSON.stringify(figures));
