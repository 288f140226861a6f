import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GemmWorker, startGemmWorker } from '../../bench/gemm/host.js';
import { buildEngine } from '../../engine/build.js';
import { referenceGemm } from '../../engine/src/reference-gemm.js';
import { type CaseResult, checkKernel, oddCases } from '../../engine/src/self-check.js';

let built: { relaxed: string; simd128: string };

beforeAll(async () => {
  built = await buildEngine();
});

describe('referenceGemm', () => {
  it('multiplies (A - 128) by W and applies the row and column scales', () => {
    // A - 128 = [[1, -2], [3, 0]], W = [[1, 2, 3], [4, 5, 6]]
    const out = referenceGemm(
      new Uint8Array([129, 126, 131, 128]),
      new Float32Array([1, 0.5]),
      new Int8Array([1, 2, 3, 4, 5, 6]),
      new Float32Array([1, 2, 0.25]),
      2,
      2,
      3,
    );
    expect(Array.from(out)).toEqual([-7, -16, -2.25, 1.5, 6, 1.125]);
  });
});

describe('SIMD128 kernel in Node', () => {
  it('validates without relaxed SIMD, where the relaxed kernel does not', () => {
    expect(WebAssembly.validate(readFileSync(built.simd128))).toBe(true);
    // Node 20 validates relaxed SIMD only behind --experimental-wasm-relaxed-simd.
    if (!process.execArgv.includes('--experimental-wasm-relaxed-simd'))
      expect(WebAssembly.validate(readFileSync(built.relaxed))).toBe(false);
  });

  it('matches the reference bit for bit on odd sizes, with and without quantizing fp32 activations itself', async () => {
    const results = await checkKernel(new WebAssembly.Module(readFileSync(built.simd128)), 127);
    expect(results.map((r) => [r.mismatches, r.floatMismatches])).toEqual(oddCases.map(() => [0, 0]));
  });
});

// Node 20's V8 (11.3) computes i32x4.relaxed_dot_i8x16_i7x16_add_s wrongly even with its flag (results doubled),
// so the relaxed kernel is checked where it will run: workerd.
describe('the kernels inside workerd', () => {
  let worker: GemmWorker;
  beforeAll(async () => {
    worker = await startGemmWorker();
  });
  afterAll(async () => {
    await worker?.dispose();
  });

  // relaxed-exact takes one dot per product where its probe allows it (x64 with AVX-VNNI) and two elsewhere;
  // relaxed-exact-split is the same module held to two, so both products are checked wherever VNNI is.
  it('match the reference bit for bit on odd sizes', async () => {
    const check = (await (await worker.get('/check')).json()) as { kernels: Record<string, CaseResult[]> };
    for (const kernel of ['relaxed', 'relaxed-exact', 'relaxed-exact-split', 'simd128']) {
      expect(check.kernels[kernel].map((r) => [r.mismatches, r.floatMismatches])).toEqual(oddCases.map(() => [0, 0]));
    }
  });
});
