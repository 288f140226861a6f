/**
 * Symmetric int8 quantization math shared by the quantization passes. Values map to [-127, 127] (never -128, so the
 * range is symmetric and the zero point is exactly 0); scale = max|x| / 127 over each channel, and an all-zero
 * channel gets scale 1 so dequantization never divides by or multiplies with 0 in a surprising way.
 */

/** Largest magnitude a symmetric int8 value takes. */
export const INT8_MAX = 127;

/** Quantized values plus one scale per channel. */
export interface Int8Quantized {
  values: Int8Array;
  scales: Float32Array;
}

function scaleFor(maxAbs: number): number {
  // Stored as float32 in the model, so compute with the float32 value to keep q/dq consistent with the graph.
  return maxAbs > 0 ? Math.fround(maxAbs / INT8_MAX) : 1;
}

function quantizeValue(x: number, scale: number): number {
  const q = Math.round(x / scale);
  return q > INT8_MAX ? INT8_MAX : Math.max(q, -INT8_MAX);
}

/**
 * Quantizes a row-major [rows, cols] matrix with one scale per column (per output channel of a MatMul weight [K, N]).
 *
 * @example
 *   const { values, scales } = quantizePerColumn(weight, 384, 1536); // scales.length === 1536
 */
export function quantizePerColumn(data: Float32Array, rows: number, cols: number): Int8Quantized {
  const maxAbs = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) {
      const a = Math.abs(data[base + c]);
      if (a > maxAbs[c]) maxAbs[c] = a;
    }
  }
  const scales = Float32Array.from(maxAbs, scaleFor);
  const values = new Int8Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) values[base + c] = quantizeValue(data[base + c], scales[c]);
  }
  return { values, scales };
}

/**
 * Quantizes a row-major [rows, cols] matrix with one scale per row (per token of an embedding table [V, H]).
 *
 * @example
 *   const { values, scales } = quantizePerRow(table, 30522, 384); // scales.length === 30522
 */
export function quantizePerRow(data: Float32Array, rows: number, cols: number): Int8Quantized {
  const scales = new Float32Array(rows);
  const values = new Int8Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    let maxAbs = 0;
    for (let c = 0; c < cols; c++) maxAbs = Math.max(maxAbs, Math.abs(data[base + c]));
    const scale = scaleFor(maxAbs);
    scales[r] = scale;
    for (let c = 0; c < cols; c++) values[base + c] = quantizeValue(data[base + c], scale);
  }
  return { values, scales };
}

/** Dequantizes per column, in float32 exactly as DequantizeLinear / Cast+Mul compute it in the graph. */
export function dequantizePerColumn(q: Int8Quantized, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) out[r * cols + c] = q.values[r * cols + c] * q.scales[c];
  return out;
}

/** Dequantizes per row, in float32. */
export function dequantizePerRow(q: Int8Quantized, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) out[r * cols + c] = q.values[r * cols + c] * q.scales[r];
  return out;
}

/** Largest |a[i] - b[i]|. */
export function maxAbsDifference(a: Float32Array, b: Float32Array): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}
