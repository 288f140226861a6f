// Per-token activation quantization, as the packed graphs do it before each MatMulInteger:
// m = max(max|x| over the row, 1e-30), a = roundHalfEven(x * f32(127 / m)) + 128, row scale f32(m / 127).

const MIN_ROW_MAX: f32 = 1e-30;

/** Quantizes row-major f32 x[M, K] to uint8 a[M, K] (zero point 128) and writes each row's scale to scales[M]. */
export function quantizeRows(x: usize, m: i32, k: i32, a: usize, scales: usize): void {
  const k16 = k & ~15;
  const bias = i16x8.splat(128);
  for (let r = 0; r < m; r++) {
    const row = x + ((<usize>(r * k)) << 2);
    const dst = a + <usize>(r * k);
    // max |x| as the integer max of the bits: non-negative floats order as their bit patterns, and a NaN's sort above
    // infinity, so the result is the same float (a NaN for a row with one). One instruction on x64, where f32x4.max's
    // NaN and signed-zero rules take several in a chain; two accumulators halve the chain.
    let vmax = i32x4.splat(0);
    let vmax2 = i32x4.splat(0);
    let i = 0;
    for (; i + 8 <= k; i += 8) {
      const p = row + ((<usize>i) << 2);
      vmax = i32x4.max_s(vmax, f32x4.abs(v128.load(p)));
      vmax2 = i32x4.max_s(vmax2, f32x4.abs(v128.load(p, 16)));
    }
    for (; i + 4 <= k; i += 4) vmax = i32x4.max_s(vmax, f32x4.abs(v128.load(row + ((<usize>i) << 2))));
    vmax = i32x4.max_s(vmax, vmax2);
    let rowMax = max<f32>(
      max<f32>(f32x4.extract_lane(vmax, 0), f32x4.extract_lane(vmax, 1)),
      max<f32>(f32x4.extract_lane(vmax, 2), f32x4.extract_lane(vmax, 3)),
    );
    for (; i < k; i++) rowMax = max<f32>(rowMax, abs<f32>(load<f32>(row + ((<usize>i) << 2))));
    rowMax = max<f32>(rowMax, MIN_ROW_MAX);
    const inverse: f32 = <f32>127 / rowMax;
    store<f32>(scales + ((<usize>r) << 2), rowMax / <f32>127);
    const scale = f32x4.splat(inverse);
    for (i = 0; i < k16; i += 16) {
      const p = row + ((<usize>i) << 2);
      const q0 = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(p), scale)));
      const q1 = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(p, 16), scale)));
      const q2 = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(p, 32), scale)));
      const q3 = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(p, 48), scale)));
      const low = i16x8.add(i16x8.narrow_i32x4_s(q0, q1), bias);
      const high = i16x8.add(i16x8.narrow_i32x4_s(q2, q3), bias);
      v128.store(dst + <usize>i, i8x16.narrow_i16x8_u(low, high));
    }
    for (; i < k; i++) {
      const q = <i32>nearest<f32>(load<f32>(row + ((<usize>i) << 2)) * inverse) + 128;
      store<u8>(dst + <usize>i, <u8>min<i32>(max<i32>(q, 0), 255));
    }
  }
}
