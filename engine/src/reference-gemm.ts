/**
 * The plain TypeScript int8 GEMM the kernels are checked against: exact integer accumulation, then the same float32
 * rounding steps as the kernels' epilogue (f32(acc) * aScale, then * wScale), so a correct kernel matches bit for bit.
 *
 * @example
 *   const out = referenceGemm(a, aScale, w, wScale, 3, 384, 1536);
 */
export function referenceGemm(
  a: Uint8Array,
  aScale: Float32Array,
  w: Int8Array,
  wScale: Float32Array,
  m: number,
  k: number,
  n: number,
): Float32Array {
  const out = new Float32Array(m * n);
  const acc = new Int32Array(n);
  for (let r = 0; r < m; r++) {
    acc.fill(0);
    for (let kk = 0; kk < k; kk++) {
      const x = a[r * k + kk] - 128;
      const row = kk * n;
      for (let c = 0; c < n; c++) acc[c] += x * w[row + c];
    }
    for (let c = 0; c < n; c++) out[r * n + c] = Math.fround(Math.fround(Math.fround(acc[c]) * aScale[r]) * wScale[c]);
  }
  return out;
}

/** Plain float64 product of row-major x[M, K] and w[K, N], the unquantized result the int8 paths approximate. */
export function referenceFloatGemm(x: Float32Array, w: Float32Array, m: number, k: number, n: number): Float64Array {
  const out = new Float64Array(m * n);
  for (let r = 0; r < m; r++) {
    for (let kk = 0; kk < k; kk++) {
      const xv = x[r * k + kk];
      const row = kk * n;
      for (let c = 0; c < n; c++) out[r * n + c] += xv * w[row + c];
    }
  }
  return out;
}
