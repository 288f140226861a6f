/**
 * int8 GEMM with SIMD128 only (no relaxed SIMD), for runtimes without it: the same contract as gemm-relaxed.ts but
 * exact for any int8 weights. out[M, N] (f32) = (A - 128)[M, K] x W[K, N] scaled by aScale[M] and wScale[N].
 *
 * Both operands are widened to int16 and multiplied with `i32x4.dot_i16x8_s` (pairs of k per lane). A is widened
 * once per call; W stays int8 in memory and is widened in registers, once per 4-row tile.
 * Packed W: blocks of 8 columns; in a block, per group of 4 k, two vectors (columns 0-3, 4-7) whose low 8 bytes hold
 * (k0, k1) of each column and high 8 bytes (k2, k3), so that widening the low/high half lines pairs up with A.
 */
import { packWholeTiles, roundUp, storeRow } from './memory';

export * from './encoder';
export { alloc } from './memory';
export { quantizeRows } from './quantize';

export function packedWeightBytes(k: i32, n: i32): i32 {
  return roundUp(k, 4) * roundUp(n, 8);
}

/** Packs row-major int8 W[K, N] into `dst` (packedWeightBytes). */
export function packWeights(src: usize, k: i32, n: i32, dst: usize): void {
  const k4 = roundUp(k, 4);
  memory.fill(dst, 0, <usize>packedWeightBytes(k, n));
  packWholeTiles(src, k, n, dst, 0, true);
  // The partial tiles: the last K % 4 rows, and the last N % 8 columns of the other rows.
  for (let kk = 0; kk < k; kk++) {
    const row = src + <usize>(kk * n);
    const at = dst + <usize>((kk >> 2) * 32 + ((kk & 3) >> 1) * 8 + (kk & 1));
    for (let col = kk < (k & ~3) ? n & ~7 : 0; col < n; col++) {
      store<i8>(at + <usize>((col >> 3) * k4 * 8 + ((col & 7) >> 2) * 16 + (col & 3) * 2), load<i8>(row + <usize>col));
    }
  }
}

/** Scratch bytes gemm needs for M rows of K: A widened to int16, a spill area. */
export function scratchBytes(m: i32, k: i32): i32 {
  return roundUp(m * roundUp(k, 4) * 2, 16) + 32;
}

export function gemm(
  a: usize,
  m: i32,
  k: i32,
  n: i32,
  w: usize,
  aScale: usize,
  wScale: usize,
  bias: usize,
  out: usize,
  accumulate: bool,
  scratch: usize,
): void {
  const k4 = roundUp(k, 4);
  const stride = <usize>(k4 * 2);
  const packed = scratch;
  const spill = scratch + <usize>roundUp(m * k4 * 2, 16);
  for (let r = 0; r < m; r++) {
    const src = a + <usize>(r * k);
    const dst = packed + <usize>r * stride;
    let kk = 0;
    for (; kk + 16 <= k; kk += 16) {
      const v = v128.xor(v128.load(src + <usize>kk), i8x16.splat(-128));
      v128.store(dst + ((<usize>kk) << 1), i16x8.extend_low_i8x16_s(v));
      v128.store(dst + ((<usize>kk) << 1), i16x8.extend_high_i8x16_s(v), 16);
    }
    for (; kk < k; kk++) store<i16>(dst + ((<usize>kk) << 1), <i16>(<i32>load<u8>(src + <usize>kk) - 128));
    for (kk = k; kk < k4; kk++) store<i16>(dst + ((<usize>kk) << 1), 0);
  }
  const blocks = (n + 7) >> 3;
  for (let nb = 0; nb < blocks; nb++) {
    const wb = w + <usize>(nb * k4 * 8);
    const n0 = nb * 8;
    let r = 0;
    for (; r + 4 <= m; r += 4) {
      const p0 = packed + <usize>r * stride;
      const p1 = p0 + stride;
      const p2 = p1 + stride;
      const p3 = p2 + stride;
      let c00 = i32x4.splat(0),
        c01 = i32x4.splat(0),
        c10 = i32x4.splat(0),
        c11 = i32x4.splat(0);
      let c20 = i32x4.splat(0),
        c21 = i32x4.splat(0),
        c30 = i32x4.splat(0),
        c31 = i32x4.splat(0);
      let q = wb;
      const end = stride;
      for (let i: usize = 0; i < end; i += 8) {
        const b0 = v128.load(q);
        const b1 = v128.load(q, 16);
        const b0l = i16x8.extend_low_i8x16_s(b0);
        const b0h = i16x8.extend_high_i8x16_s(b0);
        const b1l = i16x8.extend_low_i8x16_s(b1);
        const b1h = i16x8.extend_high_i8x16_s(b1);
        let x = v128.load32_splat(p0 + i);
        let y = v128.load32_splat(p0 + i, 4);
        c00 = i32x4.add(c00, i32x4.add(i32x4.dot_i16x8_s(x, b0l), i32x4.dot_i16x8_s(y, b0h)));
        c01 = i32x4.add(c01, i32x4.add(i32x4.dot_i16x8_s(x, b1l), i32x4.dot_i16x8_s(y, b1h)));
        x = v128.load32_splat(p1 + i);
        y = v128.load32_splat(p1 + i, 4);
        c10 = i32x4.add(c10, i32x4.add(i32x4.dot_i16x8_s(x, b0l), i32x4.dot_i16x8_s(y, b0h)));
        c11 = i32x4.add(c11, i32x4.add(i32x4.dot_i16x8_s(x, b1l), i32x4.dot_i16x8_s(y, b1h)));
        x = v128.load32_splat(p2 + i);
        y = v128.load32_splat(p2 + i, 4);
        c20 = i32x4.add(c20, i32x4.add(i32x4.dot_i16x8_s(x, b0l), i32x4.dot_i16x8_s(y, b0h)));
        c21 = i32x4.add(c21, i32x4.add(i32x4.dot_i16x8_s(x, b1l), i32x4.dot_i16x8_s(y, b1h)));
        x = v128.load32_splat(p3 + i);
        y = v128.load32_splat(p3 + i, 4);
        c30 = i32x4.add(c30, i32x4.add(i32x4.dot_i16x8_s(x, b0l), i32x4.dot_i16x8_s(y, b0h)));
        c31 = i32x4.add(c31, i32x4.add(i32x4.dot_i16x8_s(x, b1l), i32x4.dot_i16x8_s(y, b1h)));
        q += 32;
      }
      storeRow(out, n, r, n0, c00, c01, 0, load<f32>(aScale + ((<usize>r) << 2)), wScale, bias, accumulate, spill);
      storeRow(
        out,
        n,
        r + 1,
        n0,
        c10,
        c11,
        0,
        load<f32>(aScale + ((<usize>(r + 1)) << 2)),
        wScale,
        bias,
        accumulate,
        spill,
      );
      storeRow(
        out,
        n,
        r + 2,
        n0,
        c20,
        c21,
        0,
        load<f32>(aScale + ((<usize>(r + 2)) << 2)),
        wScale,
        bias,
        accumulate,
        spill,
      );
      storeRow(
        out,
        n,
        r + 3,
        n0,
        c30,
        c31,
        0,
        load<f32>(aScale + ((<usize>(r + 3)) << 2)),
        wScale,
        bias,
        accumulate,
        spill,
      );
    }
    for (; r < m; r++) {
      const p0 = packed + <usize>r * stride;
      let c00 = i32x4.splat(0),
        c01 = i32x4.splat(0);
      let q = wb;
      for (let i: usize = 0; i < stride; i += 8) {
        const b0 = v128.load(q);
        const b1 = v128.load(q, 16);
        const x = v128.load32_splat(p0 + i);
        const y = v128.load32_splat(p0 + i, 4);
        c00 = i32x4.add(
          c00,
          i32x4.add(
            i32x4.dot_i16x8_s(x, i16x8.extend_low_i8x16_s(b0)),
            i32x4.dot_i16x8_s(y, i16x8.extend_high_i8x16_s(b0)),
          ),
        );
        c01 = i32x4.add(
          c01,
          i32x4.add(
            i32x4.dot_i16x8_s(x, i16x8.extend_low_i8x16_s(b1)),
            i32x4.dot_i16x8_s(y, i16x8.extend_high_i8x16_s(b1)),
          ),
        );
        q += 32;
      }
      storeRow(out, n, r, n0, c00, c01, 0, load<f32>(aScale + ((<usize>r) << 2)), wScale, bias, accumulate, spill);
    }
  }
}
