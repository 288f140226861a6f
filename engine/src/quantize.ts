/**
 * The two quantizations the kernels consume, as the packed graphs do them: activations per row (token) to uint8 with
 * zero point 128, a = round(x / s) + 128, s = max|x| / 127; weights symmetric per column (output channel) to
 * [-qmax, qmax], s = max|w| / qmax. qmax is 127 for exact int8 (ORT, the SIMD128 kernel) and 63 for the relaxed-SIMD
 * kernel, whose weight operand has 7 bits.
 */

export interface QuantizedActivations {
  values: Uint8Array;
  scales: Float32Array;
}

export interface QuantizedWeights {
  values: Int8Array;
  scales: Float32Array;
}

/** Smallest row maximum, so an all-zero row quantizes to zeros instead of NaN (as the graphs do). */
const MIN_ROW_MAX = 1e-30;

export function quantizeActivationsPerRow(x: Float32Array, m: number, k: number): QuantizedActivations {
  const values = new Uint8Array(m * k);
  const scales = new Float32Array(m);
  for (let r = 0; r < m; r++) {
    let max = MIN_ROW_MAX;
    for (let i = 0; i < k; i++) max = Math.max(max, Math.abs(x[r * k + i]));
    const scale = Math.fround(max / 127);
    scales[r] = scale;
    for (let i = 0; i < k; i++) values[r * k + i] = Math.max(1, Math.min(255, Math.round(x[r * k + i] / scale) + 128));
  }
  return { values, scales };
}

export function quantizeWeightsPerColumn(w: Float32Array, k: number, n: number, qmax: 127 | 63): QuantizedWeights {
  const scales = new Float32Array(n);
  for (let c = 0; c < n; c++) {
    let max = 0;
    for (let i = 0; i < k; i++) max = Math.max(max, Math.abs(w[i * n + c]));
    scales[c] = max > 0 ? Math.fround(max / qmax) : 1;
  }
  const values = new Int8Array(k * n);
  for (let i = 0; i < k * n; i++) values[i] = Math.max(-qmax, Math.min(qmax, Math.round(w[i] / scales[i % n])));
  return { values, scales };
}
