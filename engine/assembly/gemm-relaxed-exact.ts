/**
 * The relaxed-SIMD kernel made exact for full int8 weights (the plan engine's kernel in workerd): the same contract as
 * gemm-relaxed.ts but W in [-127, 127]. Each weight is stored shifted, u = w + 127 in [0, 254], and split in registers
 * into two 7-bit halves, u1 = min(u, 127) and u2 = u - u1, so every product takes two relaxed dots:
 * sum((a - 128) u1) + sum((a - 128) u2) = sum((a - 128) w) + 127 sum(a - 128).
 * Splitting after the load keeps the packed weights at one byte each (half the memory and cache of storing both
 * halves) for two cheap byte ops per weight vector.
 *
 * Packed W: as gemm-relaxed.ts (blocks of 8 columns; per group of 4 k, columns 0-3 then 4-7), holding u.
 */
import { packShiftedRows, packWholeTiles, roundUp, storeRow } from './memory';

export * from './encoder';
export { alloc } from './memory';
export { quantizeRows } from './quantize';

const WEIGHT_SHIFT: i32 = 127;

export function packedWeightBytes(k: i32, n: i32): i32 {
  return roundUp(k, 4) * roundUp(n, 8);
}

/** Packs row-major int8 W[K, N] (values in [-127, 127]) into `dst` (packedWeightBytes). */
export function packWeights(src: usize, k: i32, n: i32, dst: usize): void {
  const k4 = roundUp(k, 4);
  memory.fill(dst, 0, <usize>packedWeightBytes(k, n));
  packWholeTiles(src, k, n, dst, WEIGHT_SHIFT, false);
  // The partial tiles: the last K % 4 rows, and the last N % 8 columns of the other rows.
  for (let kk = 0; kk < k; kk++) {
    const row = src + <usize>(kk * n);
    const rowAt = dst + <usize>((kk >> 2) * 32 + (kk & 3));
    for (let col = kk < (k & ~3) ? n & ~7 : 0; col < n; col++) {
      const u = <i32>load<i8>(row + <usize>col) + WEIGHT_SHIFT;
      store<u8>(rowAt + <usize>((col >> 3) * k4 * 8 + ((col & 7) >> 2) * 16 + (col & 3) * 4), <u8>u);
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
  const seven = i8x16.splat(127);
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
        const u0 = v128.load(q);
        const u1 = v128.load(q, 16);
        const b0 = i8x16.min_u(u0, seven);
        const b1 = i8x16.min_u(u1, seven);
        const b2 = i8x16.sub(u0, b0);
        const b3 = i8x16.sub(u1, b1);
        let x = v128.load32_splat(p0 + i);
        c00 = i32x4.relaxed_dot_i8x16_i7x16_add_s(x, b2, i32x4.relaxed_dot_i8x16_i7x16_add_s(x, b0, c00));
        c01 = i32x4.relaxed_dot_i8x16_i7x16_add_s(x, b3, i32x4.relaxed_dot_i8x16_i7x16_add_s(x, b1, c01));
        x = v128.load32_splat(p1 + i);
        c10 = i32x4.relaxed_dot_i8x16_i7x16_add_s(x, b2, i32x4.relaxed_dot_i8x16_i7x16_add_s(x, b0, c10));
        c11 = i32x4.relaxed_dot_i8x16_i7x16_add_s(x, b3, i32x4.relaxed_dot_i8x16_i7x16_add_s(x, b1, c11));
        x = v128.load32_splat(p2 + i);
        c20 = i32x4.relaxed_dot_i8x16_i7x16_add_s(x, b2, i32x4.relaxed_dot_i8x16_i7x16_add_s(x, b0, c20));
        c21 = i32x4.relaxed_dot_i8x16_i7x16_add_s(x, b3, i32x4.relaxed_dot_i8x16_i7x16_add_s(x, b1, c21));
        x = v128.load32_splat(p3 + i);
        c30 = i32x4.relaxed_dot_i8x16_i7x16_add_s(x, b2, i32x4.relaxed_dot_i8x16_i7x16_add_s(x, b0, c30));
        c31 = i32x4.relaxed_dot_i8x16_i7x16_add_s(x, b3, i32x4.relaxed_dot_i8x16_i7x16_add_s(x, b1, c31));
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
        const u0 = v128.load(q);
        const u1 = v128.load(q, 16);
        const b0 = i8x16.min_u(u0, seven);
        const b1 = i8x16.min_u(u1, seven);
        c00 = i32x4.relaxed_dot_i8x16_i7x16_add_s(
          x,
          i8x16.sub(u0, b0),
          i32x4.relaxed_dot_i8x16_i7x16_add_s(x, b0, c00),
        );
        c01 = i32x4.relaxed_dot_i8x16_i7x16_add_s(
          x,
          i8x16.sub(u1, b1),
          i32x4.relaxed_dot_i8x16_i7x16_add_s(x, b1, c01),
        );
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
