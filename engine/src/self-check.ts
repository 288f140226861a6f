/**
 * Runs a kernel against {@link referenceGemm} on sizes that exercise every edge of its tiling (M not a multiple of the
 * 4- or 6-row tiles, K not a multiple of 4 or 16, N not a multiple of 8), with seeded random inputs. Used by the Node test,
 * by its relaxed-SIMD child process and by the benchmark inside workerd, so all three check the same thing.
 */
import { Int8Gemm } from './int8-gemm.js';
import { quantizeActivationsPerRow } from './quantize.js';
import { referenceGemm } from './reference-gemm.js';

export interface GemmCase {
  m: number;
  k: number;
  n: number;
}

export const oddCases: GemmCase[] = [
  { m: 1, k: 37, n: 13 },
  { m: 3, k: 100, n: 21 },
  // 6-row tiles, then a 4-row tile and a single row.
  { m: 11, k: 100, n: 21 },
  { m: 13, k: 383, n: 77 },
  { m: 13, k: 1, n: 1 },
  { m: 4, k: 16, n: 8 },
  { m: 13, k: 384, n: 1536 },
];

export interface CaseResult extends GemmCase {
  /** Elements that differ from the reference (the kernels are meant to match it bit for bit). */
  mismatches: number;
  maxAbsDifference: number;
  /** The same for runFloat (quantization in the module) against quantizeActivationsPerRow + the reference. */
  floatMismatches: number;
}

function compare(actual: Float32Array, expected: Float32Array): { mismatches: number; maxAbsDifference: number } {
  let mismatches = 0;
  let maxAbsDifference = 0;
  for (let i = 0; i < expected.length; i++) {
    const difference = Math.abs(actual[i] - expected[i]);
    if (!(difference === 0)) mismatches++;
    if (!(difference <= maxAbsDifference)) maxAbsDifference = difference;
  }
  return { mismatches, maxAbsDifference };
}

function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state;
  };
}

/**
 * Checks `kernel` on `cases`; weights are drawn from [-qmax, qmax] (63 for the relaxed kernel). `unsignedDots: false`
 * checks the exact relaxed build's two-dot product where the runtime would take one (Int8Gemm.create).
 */
export async function checkKernel(
  module: WebAssembly.Module,
  qmax: 127 | 63,
  cases: GemmCase[] = oddCases,
  options: { unsignedDots?: boolean } = {},
): Promise<CaseResult[]> {
  const gemm = await Int8Gemm.create(module, options);
  const next = lcg(qmax * 7919);
  return cases.map(({ m, k, n }) => {
    // Activations over the full 1..255 range, extremes included, so saturation or sign mistakes show.
    const a = Uint8Array.from({ length: m * k }, (_, i) =>
      i % 17 === 0 ? (i % 34 === 0 ? 1 : 255) : 1 + (next() % 255),
    );
    const w = Int8Array.from({ length: k * n }, (_, i) =>
      i % 13 === 0 ? (i % 26 === 0 ? -qmax : qmax) : (next() % (2 * qmax + 1)) - qmax,
    );
    const aScale = Float32Array.from({ length: m }, () => 0.001 + (next() % 1000) / 1e5);
    const wScale = Float32Array.from({ length: n }, () => 0.001 + (next() % 1000) / 1e5);
    const packed = gemm.packWeights(w, wScale, k, n);
    const exact = compare(gemm.run(packed, a, aScale, m), referenceGemm(a, aScale, w, wScale, m, k, n));
    // fp32 activations: rows whose max is 127, so the row scale is 1 and halves are ties for the rounding; row 0 all
    // zeros when there are several rows.
    const x = Float32Array.from({ length: m * k }, (_, i) =>
      m > 1 && i < k ? 0 : i % k === 0 ? 127 : ((next() % 255) - 127) / 2,
    );
    const q = quantizeActivationsPerRow(x, m, k);
    const float = compare(gemm.runFloat(packed, x, m), referenceGemm(q.values, q.scales, w, wScale, m, k, n));
    return { m, k, n, ...exact, floatMismatches: float.mismatches };
  });
}
