/**
 * The two quantizations the kernels consume, as the packed graphs do them: activations per row (token) to uint8 with
 * zero point 128, a = round(x * 127 / max|x|) + 128, scale max|x| / 127; weights symmetric per column (output channel) to
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

/** Smallest row maximum, so an all-zero row quantizes to zeros instead of NaN (as the graphs do); a float32 value. */
const MIN_ROW_MAX = Math.fround(1e-30);

/** Round half to even, as WebAssembly's f32.nearest and ONNX's QuantizeLinear round. */
function roundHalfEven(v: number): number {
  const floor = Math.floor(v);
  const fraction = v - floor;
  if (fraction !== 0.5) return Math.round(v);
  return floor % 2 === 0 ? floor : floor + 1;
}

/**
 * a = roundHalfEven(f32(x * f32(127 / m))) + 128, scale f32(m / 127), in float32 steps like the graph's Div, Mul and
 * QuantizeLinear and like the kernels' quantizeRows (which match it bit for bit).
 */
export function quantizeActivationsPerRow(x: Float32Array, m: number, k: number): QuantizedActivations {
  const values = new Uint8Array(m * k);
  const scales = new Float32Array(m);
  for (let r = 0; r < m; r++) {
    let max = MIN_ROW_MAX;
    for (let i = 0; i < k; i++) max = Math.max(max, Math.abs(x[r * k + i]));
    max = Math.fround(max);
    const inverse = Math.fround(127 / max);
    scales[r] = Math.fround(max / 127);
    for (let i = 0; i < k; i++) {
      const q = roundHalfEven(Math.fround(x[r * k + i] * inverse)) + 128;
      values[r * k + i] = Math.max(0, Math.min(255, q));
    }
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
