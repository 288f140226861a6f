/**
 * The relaxed-SIMD kernel made exact for full int8 weights (the plan engine's kernel in workerd): the same contract as
 * gemm-relaxed.ts but W in [-127, 127]. Each weight is stored shifted, u = w + 127 in [0, 254], and split in registers
 * into two 7-bit halves, u1 = min(u, 127) and u2 = u - u1, so every product takes two relaxed dots:
 * sum((a - 128) u1) + sum((a - 128) u2) = sum((a - 128) w) + 127 sum(a - 128).
 * Splitting after the load keeps the packed weights at one byte each (half the memory and cache of storing both
 * halves) for two cheap byte ops per weight vector. Where the runtime's dot reads u as an unsigned byte exactly (x64
 * with AVX-VNNI: see unsignedDotMismatches), the host switches to one dot on u, the same integers at about twice the
 * speed.
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

/**
 * Whether gemm takes one relaxed dot per product: set by the host after {@link unsignedDotMismatches} found this
 * runtime's dot exact on unsigned weights. Off by default, so a host that never probes gets the split kernel.
 */
let unsignedDots = false;

export function useUnsignedDots(enabled: bool): void {
  unsignedDots = enabled;
}

/**
 * The relaxed dot leaves a second operand of 128..255 implementation-defined. x64 V8 with AVX-VNNI lowers it to
 * vpdpbusd, which multiplies those bytes as unsigned and sums the four products exactly: then u = w + 127 needs one
 * dot, not two, and gives the same integers as the split. Other lowerings (pmaddubsw saturates pairs, AVX-VNNI-INT8's
 * vpdpbssd and Arm's sdot read the bytes as signed) get the split. This counts the lanes where the dot is not that
 * exact sum, over every signed byte of the first operand against every unsigned byte of the second, in groups of four
 * with mixed signs (a + 7i) and with one value repeated (the sums that saturate a pairwise lowering), on top of a
 * nonzero accumulator. `zero` must be 0: a value the host passes, so no compiler can fold the probe into constants.
 */
export function unsignedDotMismatches(zero: i32): i32 {
  const iota = i8x16(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  let mismatches = 0;
  for (let step = 0; step <= 7; step += 7) {
    const ramp = step ? i8x16(0, 7, 14, 21, 28, 35, 42, 49, 56, 63, 70, 77, 84, 91, 98, 105) : i8x16.splat(0);
    for (let a = -128; a < 128; a++) {
      const x = i8x16.add(i8x16.splat(<i8>(a + zero)), ramp);
      for (let block = 0; block < 16; block++) {
        const w = i8x16.add(i8x16.splat(<i8>(block * 16 + zero)), iota);
        const base = a * 4096 + block;
        let expected = i32x4.splat(0);
        expected = i32x4.replace_lane(expected, 0, Dots.exactLane(a, step, block, 0, base));
        expected = i32x4.replace_lane(expected, 1, Dots.exactLane(a, step, block, 1, base));
        expected = i32x4.replace_lane(expected, 2, Dots.exactLane(a, step, block, 2, base));
        expected = i32x4.replace_lane(expected, 3, Dots.exactLane(a, step, block, 3, base));
        const dot = i32x4.relaxed_dot_i8x16_i7x16_add_s(x, w, i32x4.splat(base));
        mismatches += popcnt(~i32x4.bitmask(i32x4.eq(dot, expected)) & 15);
      }
    }
  }
  return mismatches;
}

// The epilogue's arguments for the current gemm call, set once per call and read by every tile row's store (globals
// rather than a dozen arguments at each of the tiles' call sites; an object would need the runtime's allocator).
let tileOut: usize = 0;
let tileN: i32 = 0;
let tileRowSums: usize = 0;
let tileAScale: usize = 0;
let tileWScale: usize = 0;
let tileBias: usize = 0;
let tileAccumulate = false;
let tileSpill: usize = 0;

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
  tileOut = out;
  tileN = n;
  tileRowSums = rowSums;
  tileAScale = aScale;
  tileWScale = wScale;
  tileBias = bias;
  tileAccumulate = accumulate;
  tileSpill = spill;
  // Two copies of the tile loops, each with its product fixed at compile time (see Dots).
  if (unsignedDots) Dots.tiles<u8>(packed, m, k4, n, w);
  else Dots.tiles<i8>(packed, m, k4, n, w);
}

/**
 * The products, generic over how the relaxed dot may read a weight byte: u8 (all of 0..254 as unsigned: one dot) or
 * i8 (only 0..127 is safe: the byte is split into 7-bit halves, low = min(u, 127) and high = u - low, two dots). The
 * type is a compile-time constant, so each tiles<> instance holds only its own product (a runtime flag passed as a
 * constant was merged back into one loop computing both).
 */
// biome-ignore lint/complexity/noStaticOnlyClass: AssemblyScript inlines decorated methods only, and TypeScript syntax allows decorators on class members only.
class Dots {
  /** acc + sum((a - 128) u) over each lane's group of 4 k, from the halves of u made once per weight vector. */
  @inline static product<Weights>(x: v128, low: v128, high: v128, acc: v128): v128 {
    const first = i32x4.relaxed_dot_i8x16_i7x16_add_s(x, low, acc);
    if (isSigned<Weights>()) return i32x4.relaxed_dot_i8x16_i7x16_add_s(x, high, first);
    return first;
  }

  /** u's low half for product (min(u, 127)), or u itself for one dot. */
  @inline static low<Weights>(u: v128): v128 {
    if (isSigned<Weights>()) return i8x16.min_u(u, i8x16.splat(127));
    return u;
  }

  /** u's high half for product (u - low); unused by one dot. */
  @inline static high<Weights>(u: v128, low: v128): v128 {
    if (isSigned<Weights>()) return i8x16.sub(u, low);
    return u;
  }

  /** The probe's exact lane: base + sum over the lane's 4 bytes i of i8(a + step i) times u8(16 block + i). */
  @inline static exactLane(a: i32, step: i32, block: i32, lane: i32, base: i32): i32 {
    let sum = base;
    for (let j = 0; j < 4; j++) {
      const i = lane * 4 + j;
      sum += <i32>(<i8>(a + step * i)) * (block * 16 + i);
    }
    return sum;
  }

  /** The tile loops of gemm over packed rows (4 x 8 tiles, then single rows x 8). */
  /** Row r's 8 columns from n0 on (storeRow, with the row's correction and scale). */
  @inline static store(r: i32, n0: i32, acc0: v128, acc1: v128): void {
    const at = (<usize>r) << 2;
    storeRow(
      tileOut,
      tileN,
      r,
      n0,
      acc0,
      acc1,
      load<i32>(tileRowSums + at),
      load<f32>(tileAScale + at),
      tileWScale,
      tileBias,
      tileAccumulate,
      tileSpill,
    );
  }

  /**
   * The tile loops of gemm over packed rows: 6 x 8 tiles for one dot (12 accumulators, the 2 weight vectors and a row
   * vector: 15 of x64's 16 vector registers, V8 keeping one for scratch), 4 x 8 for the split (its 4 halves need the
   * room), then single rows x 8.
   */
  @inline static tiles<Weights>(packed: usize, m: i32, k4: i32, n: i32, w: usize): void {
    const blocks = (n + 7) >> 3;
    for (let nb = 0; nb < blocks; nb++) {
      const wb = w + <usize>(nb * k4 * 8);
      const n0 = nb * 8;
      let r = 0;
      if (!isSigned<Weights>()) {
        for (; r + 6 <= m; r += 6) {
          const p0 = packed + <usize>(r * k4);
          const p1 = p0 + <usize>k4;
          const p2 = p1 + <usize>k4;
          const p3 = p2 + <usize>k4;
          const p4 = p3 + <usize>k4;
          const p5 = p4 + <usize>k4;
          let c00 = i32x4.splat(0),
            c01 = i32x4.splat(0),
            c10 = i32x4.splat(0),
            c11 = i32x4.splat(0);
          let c20 = i32x4.splat(0),
            c21 = i32x4.splat(0),
            c30 = i32x4.splat(0),
            c31 = i32x4.splat(0);
          let c40 = i32x4.splat(0),
            c41 = i32x4.splat(0),
            c50 = i32x4.splat(0),
            c51 = i32x4.splat(0);
          let q = wb;
          for (let i: usize = 0; i < <usize>k4; i += 4) {
            const u0 = v128.load(q);
            const u1 = v128.load(q, 16);
            let x = v128.load32_splat(p0 + i);
            c00 = i32x4.relaxed_dot_i8x16_i7x16_add_s(x, u0, c00);
            c01 = i32x4.relaxed_dot_i8x16_i7x16_add_s(x, u1, c01);
            x = v128.load32_splat(p1 + i);
            c10 = i32x4.relaxed_dot_i8x16_i7x16_add_s(x, u0, c10);
            c11 = i32x4.relaxed_dot_i8x16_i7x16_add_s(x, u1, c11);
            x = v128.load32_splat(p2 + i);
            c20 = i32x4.relaxed_dot_i8x16_i7x16_add_s(x, u0, c20);
            c21 = i32x4.relaxed_dot_i8x16_i7x16_add_s(x, u1, c21);
            x = v128.load32_splat(p3 + i);
            c30 = i32x4.relaxed_dot_i8x16_i7x16_add_s(x, u0, c30);
            c31 = i32x4.relaxed_dot_i8x16_i7x16_add_s(x, u1, c31);
            x = v128.load32_splat(p4 + i);
            c40 = i32x4.relaxed_dot_i8x16_i7x16_add_s(x, u0, c40);
            c41 = i32x4.relaxed_dot_i8x16_i7x16_add_s(x, u1, c41);
            x = v128.load32_splat(p5 + i);
            c50 = i32x4.relaxed_dot_i8x16_i7x16_add_s(x, u0, c50);
            c51 = i32x4.relaxed_dot_i8x16_i7x16_add_s(x, u1, c51);
            q += 32;
          }
          Dots.store(r, n0, c00, c01);
          Dots.store(r + 1, n0, c10, c11);
          Dots.store(r + 2, n0, c20, c21);
          Dots.store(r + 3, n0, c30, c31);
          Dots.store(r + 4, n0, c40, c41);
          Dots.store(r + 5, n0, c50, c51);
        }
      }
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
          const l0 = Dots.low<Weights>(u0);
          const l1 = Dots.low<Weights>(u1);
          const h0 = Dots.high<Weights>(u0, l0);
          const h1 = Dots.high<Weights>(u1, l1);
          let x = v128.load32_splat(p0 + i);
          c00 = Dots.product<Weights>(x, l0, h0, c00);
          c01 = Dots.product<Weights>(x, l1, h1, c01);
          x = v128.load32_splat(p1 + i);
          c10 = Dots.product<Weights>(x, l0, h0, c10);
          c11 = Dots.product<Weights>(x, l1, h1, c11);
          x = v128.load32_splat(p2 + i);
          c20 = Dots.product<Weights>(x, l0, h0, c20);
          c21 = Dots.product<Weights>(x, l1, h1, c21);
          x = v128.load32_splat(p3 + i);
          c30 = Dots.product<Weights>(x, l0, h0, c30);
          c31 = Dots.product<Weights>(x, l1, h1, c31);
          q += 32;
        }
        Dots.store(r, n0, c00, c01);
        Dots.store(r + 1, n0, c10, c11);
        Dots.store(r + 2, n0, c20, c21);
        Dots.store(r + 3, n0, c30, c31);
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
          const l0 = Dots.low<Weights>(u0);
          const l1 = Dots.low<Weights>(u1);
          c00 = Dots.product<Weights>(x, l0, Dots.high<Weights>(u0, l0), c00);
          c01 = Dots.product<Weights>(x, l1, Dots.high<Weights>(u1, l1), c01);
          q += 32;
        }
        Dots.store(r, n0, c00, c01);
      }
    }
  }
}
