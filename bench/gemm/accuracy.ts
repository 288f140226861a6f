/**
 * What the relaxed kernel's 7-bit weights cost, in plain TypeScript: for each layer shape, the product of the
 * benchmark's activations and weights computed four ways, compared with the fp32 product and with exact int8.
 * - int8: activations 8 bits, weights 8 bits (ORT, the SIMD128 kernel);
 * - relaxed: activations 8 bits, weights 7 bits (what the relaxed kernel computes, bit for bit);
 * - 7-bit activations: activations 7 bits, weights 8 bits (the other place the 7-bit range could go).
 */
import { quantizeActivationsPerRow, quantizeWeightsPerColumn } from '../../engine/src/quantize.js';
import { referenceFloatGemm, referenceGemm } from '../../engine/src/reference-gemm.js';
import { floatActivations, floatWeights } from './data.js';

export interface Accuracy {
  m: number;
  k: number;
  n: number;
  /** max |y| of the fp32 product, for scale. */
  maxAbsFloat: number;
  /** max |relaxed - int8| (the cost against exact int8). */
  relaxedVsInt8: number;
  /** Relative RMS error against fp32 for each variant. */
  rms: { int8: number; relaxed: number; activations7: number };
}

/** uint8 activations with zero point 128 but only 7 bits: round(x / s) in [-63, 63]. */
function activations7(x: Float32Array, m: number, k: number) {
  const q = quantizeActivationsPerRow(x, m, k);
  const values = new Uint8Array(m * k);
  const scales = q.scales.map((s) => Math.fround((s * 127) / 63));
  for (let i = 0; i < values.length; i++)
    values[i] = Math.max(-63, Math.min(63, Math.round(x[i] / scales[Math.floor(i / k)]))) + 128;
  return { values, scales };
}

function relativeRms(y: Float32Array, exact: Float64Array): number {
  let error = 0;
  let norm = 0;
  for (let i = 0; i < y.length; i++) {
    error += (y[i] - exact[i]) ** 2;
    norm += exact[i] ** 2;
  }
  return Math.sqrt(error / norm);
}

export function measureAccuracy(m: number, k: number, n: number): Accuracy {
  const x = floatActivations(m, k);
  const w = floatWeights(k, n);
  const exact = referenceFloatGemm(x, w, m, k, n);
  const a8 = quantizeActivationsPerRow(x, m, k);
  const a7 = activations7(x, m, k);
  const w8 = quantizeWeightsPerColumn(w, k, n, 127);
  const w7 = quantizeWeightsPerColumn(w, k, n, 63);
  const int8 = referenceGemm(a8.values, a8.scales, w8.values, w8.scales, m, k, n);
  const relaxed = referenceGemm(a8.values, a8.scales, w7.values, w7.scales, m, k, n);
  const alt = referenceGemm(a7.values, a7.scales, w8.values, w8.scales, m, k, n);
  let relaxedVsInt8 = 0;
  let maxAbsFloat = 0;
  for (let i = 0; i < int8.length; i++) {
    relaxedVsInt8 = Math.max(relaxedVsInt8, Math.abs(relaxed[i] - int8[i]));
    maxAbsFloat = Math.max(maxAbsFloat, Math.abs(exact[i]));
  }
  return {
    m,
    k,
    n,
    maxAbsFloat,
    relaxedVsInt8,
    rms: {
      int8: relativeRms(int8, exact),
      relaxed: relativeRms(relaxed, exact),
      activations7: relativeRms(alt, exact),
    },
  };
}
