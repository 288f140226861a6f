/**
 * int8 GEMM with relaxed SIMD: out[M, N] (f32) = (A - 128)[M, K] x W[K, N] scaled by aScale[M] and wScale[N].
 *
 * A is uint8 with zero point 128 (the graphs' per-token activations), W symmetric weights. The product runs on
 * `i32x4.relaxed_dot_i8x16_i7x16_add_s`, whose second operand is defined only for 0..127. The 7-bit range goes to
 * the weights: they must lie in [-63, 63] and are stored as w + 64; activations keep all 8 bits, and the shift is
 * taken back per row: sum((a - 128)(w + 64)) = sum((a - 128) w) + 64 sum(a - 128).
 *
 * Packed W: blocks of 8 columns; in a block, per group of 4 k, two vectors (columns 0-3, 4-7) with byte
 * 4 * column + k, the order the dot instruction pairs lanes in. K is padded to 4 and N to 8 with zeros.
 * Tiles of 4 rows x 8 columns keep 8 accumulators in registers across K.
 */
import { packShiftedRows, packWholeTiles, roundUp, storeRow } from './memory';

export * from './encoder';
export { alloc } from './memory';
export { quantizeRows } from './quantize';

const WEIGHT_SHIFT: i32 = 64;

export function packedWeightBytes(k: i32, n: i32): i32 {
  return roundUp(k, 4) * roundUp(n, 8);
}

/** Packs row-major int8 W[K, N] (values in [-63, 63]) into `dst` (packedWeightBytes). */
export function packWeights(src: usize, k: i32, n: i32, dst: usize): void {
  const k4 = roundUp(k, 4);
  memory.fill(dst, 0, <usize>packedWeightBytes(k, n));
  packWholeTiles(src, k, n, dst, WEIGHT_SHIFT, false);
  // The partial tiles: the last K % 4 rows, and the last N % 8 columns of the other rows.
  for (let kk = 0; kk < k; kk++) {
    const row = src + <usize>(kk * n);
    const at = dst + <usize>((kk >> 2) * 32 + (kk & 3));
    for (let col = kk < (k & ~3) ? n & ~7 : 0; col < n; col++) {
      const w = <i32>load<i8>(row + <usize>col);
      store<u8>(at + <usize>((col >> 3) * k4 * 8 + ((col & 7) >> 2) * 16 + (col & 3) * 4), <u8>(w + WEIGHT_SHIFT));
    }
  }
}

/** Scratch bytes gemm needs for M rows of K: packed A, row sums, a spill area. */
export function scratchBytes(m: i32, k: i32): i32 {
  return roundUp(m * roundUp(k, 4), 16) + roundUp(m * 4, 16) + 32;
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
  const packed = scratch;
  const rowSums = scratch + <usize>roundUp(m * k4, 16);
  const spill = rowSums + <usize>roundUp(m * 4, 16);
  packShiftedRows(a, m, k, packed, rowSums, WEIGHT_SHIFT);
  const blocks = (n + 7) >> 3;
  for (let nb = 0; nb < blocks; nb++) {
    const wb = w + <usize>(nb * k4 * 8);
    const n0 = nb * 8;
    let r = 0;
    for (; r + 4 <= m; r += 4) {
      const p0 = packed + <usize>(r * k4);
      const p1 = p0 + <usize>k4;
      const p2 = p1 + <usize>k4;
      const p3 = p2 + <usize>k4;
      let c00 = i32x4.splat(0),
        c01 = i32x4.splat(0),
        c10 = i32x4.splat(0),
        c11 = i32x4.splat(0);
      let c20 = i32x4.splat(0),
        c21 = i32x4.splat(0),
        c30 = i32x4.splat(0),
        c31 = i32x4.splat(0);
      let q = wb;
      for (let i: usize = 0; i < <usize>k4; i += 4) {
        const b0 = v128.load(q);
        const b1 = v128.load(q, 16);
        let x = v128.load32_splat(p0 + i);
        c00 = i32x4.relaxed_dot_i8x16_i7x16_add_s(x, b0, c00);
        c01 = i32x4.relaxed_dot_i8x16_i7x16_add_s(x, b1, c01);
        x = v128.load32_splat(p1 + i);
        c10 = i32x4.relaxed_dot_i8x16_i7x16_add_s(x, b0, c10);
        c11 = i32x4.relaxed_dot_i8x16_i7x16_add_s(x, b1, c11);
        x = v128.load32_splat(p2 + i);
        c20 = i32x4.relaxed_dot_i8x16_i7x16_add_s(x, b0, c20);
        c21 = i32x4.relaxed_dot_i8x16_i7x16_add_s(x, b1, c21);
        x = v128.load32_splat(p3 + i);
        c30 = i32x4.relaxed_dot_i8x16_i7x16_add_s(x, b0, c30);
        c31 = i32x4.relaxed_dot_i8x16_i7x16_add_s(x, b1, c31);
        q += 32;
      }
      storeRow(
        out,
        n,
        r,
        n0,
        c00,
        c01,
        load<i32>(rowSums + ((<usize>r) << 2)),
        load<f32>(aScale + ((<usize>r) << 2)),
        wScale,
        bias,
        accumulate,
        spill,
      );
      storeRow(
        out,
        n,
        r + 1,
        n0,
        c10,
        c11,
        load<i32>(rowSums + ((<usize>(r + 1)) << 2)),
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
        load<i32>(rowSums + ((<usize>(r + 2)) << 2)),
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
        load<i32>(rowSums + ((<usize>(r + 3)) << 2)),
        load<f32>(aScale + ((<usize>(r + 3)) << 2)),
        wScale,
        bias,
        accumulate,
        spill,
      );
    }
    for (; r < m; r++) {
      const p0 = packed + <usize>(r * k4);
      let c00 = i32x4.splat(0),
        c01 = i32x4.splat(0);
      let q = wb;
      for (let i: usize = 0; i < <usize>k4; i += 4) {
        const x = v128.load32_splat(p0 + i);
        c00 = i32x4.relaxed_dot_i8x16_i7x16_add_s(x, v128.load(q), c00);
        c01 = i32x4.relaxed_dot_i8x16_i7x16_add_s(x, v128.load(q, 16), c01);
        q += 32;
      }
      storeRow(
        out,
        n,
        r,
        n0,
        c00,
        c01,
        load<i32>(rowSums + ((<usize>r) << 2)),
        load<f32>(aScale + ((<usize>r) << 2)),
        wScale,
        bias,
        accumulate,
        spill,
      );
    }
  }
}
