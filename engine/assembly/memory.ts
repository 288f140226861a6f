// Raw linear memory for the host: the kernels take pointers, the host copies tensors in and results out.

/**
 * The end of the allocated heap. Memory is laid out once and never freed, so a bump pointer is the whole allocator.
 * It replaces the stub runtime's heap.alloc, which doubles the memory whenever it grows: up to half the memory was slack
 * (26 MiB for USE Lite's 14.6 MiB of weights and buffers). The kernels make no managed objects, so nothing else
 * allocates.
 */
let heapTop: usize = (__heap_base + 15) & ~15;

/** Reserves `bytes` of linear memory, 16-byte aligned, growing the memory to just the pages it needs. */
export function alloc(bytes: usize): usize {
  const at = heapTop;
  heapTop = (at + bytes + 15) & ~15;
  const pages = <i32>((heapTop + 0xffff) >>> 16);
  const have = memory.size();
  if (pages > have && memory.grow(pages - have) < 0) unreachable();
  return at;
}

export function roundUp(value: i32, multiple: i32): i32 {
  return ((value + multiple - 1) / multiple) * multiple;
}

/**
 * Writes one output row of an 8-column tile: out[row, n0..n0+8) = f32(acc - correction) * aScale * wScale[n0..]
 * + bias[n0..], plus the value already there when `accumulate` is set (a residual add fused into the GEMM).
 * wScale and bias are padded to a multiple of 8 columns; columns at or past n are not written (the last, partial block).
 */
export function storeRow(
  out: usize,
  n: i32,
  row: i32,
  n0: i32,
  acc0: v128,
  acc1: v128,
  correction: i32,
  aScale: f32,
  wScale: usize,
  bias: usize,
  accumulate: bool,
  spill: usize,
): void {
  const shift = i32x4.splat(correction);
  const scale = f32x4.splat(aScale);
  const column = (<usize>n0) << 2;
  let v0 = f32x4.add(
    f32x4.mul(f32x4.mul(f32x4.convert_i32x4_s(i32x4.sub(acc0, shift)), scale), v128.load(wScale + column)),
    v128.load(bias + column),
  );
  let v1 = f32x4.add(
    f32x4.mul(f32x4.mul(f32x4.convert_i32x4_s(i32x4.sub(acc1, shift)), scale), v128.load(wScale + column, 16)),
    v128.load(bias + column, 16),
  );
  const base = out + ((<usize>row * <usize>n + <usize>n0) << 2);
  if (n0 + 8 <= n) {
    if (accumulate) {
      v0 = f32x4.add(v0, v128.load(base));
      v1 = f32x4.add(v1, v128.load(base, 16));
    }
    v128.store(base, v0);
    v128.store(base, v1, 16);
    return;
  }
  v128.store(spill, v0);
  v128.store(spill, v1, 16);
  const columns = n - n0;
  for (let c = 0; c < columns; c++) {
    const at = base + ((<usize>c) << 2);
    const value = load<f32>(spill + ((<usize>c) << 2));
    store<f32>(at, accumulate ? value + load<f32>(at) : value);
  }
}

/**
 * Packs the whole 4 k x 8 column tiles of row-major int8 W[K, N] into the kernels' layout (blocks of 8 columns of
 * k4 * 8 bytes; per group of 4 k, columns 0-3 then 4-7), each byte plus `shift` (wrapping). `pairs` picks the
 * SIMD128 kernel's order within a vector ((k0, k1) of each column, then (k2, k3)); otherwise the relaxed kernels'
 * (k0..k3 of each column). The caller packs the partial tiles (K % 4 rows, N % 8 columns) itself.
 */
export function packWholeTiles(src: usize, k: i32, n: i32, dst: usize, shift: i32, pairs: bool): void {
  const k4 = roundUp(k, 4);
  const add = i8x16.splat(<i8>shift);
  for (let kk = 0; kk + 4 <= k; kk += 4) {
    const row0 = src + <usize>(kk * n);
    const row1 = row0 + <usize>n;
    const row2 = row1 + <usize>n;
    const row3 = row2 + <usize>n;
    for (let col = 0; col + 8 <= n; col += 8) {
      const c = <usize>col;
      const top = i64x2.replace_lane(v128.load64_zero(row0 + c), 1, load<i64>(row1 + c));
      const bottom = i64x2.replace_lane(v128.load64_zero(row2 + c), 1, load<i64>(row3 + c));
      const at = dst + <usize>((col >> 3) * k4 * 8 + (kk >> 2) * 32);
      if (pairs) {
        // biome-ignore format: shuffle lanes read best in pairs
        v128.store(at, i8x16.add(i8x16.shuffle(top, bottom, 0, 8, 1, 9, 2, 10, 3, 11, 16, 24, 17, 25, 18, 26, 19, 27), add));
        // biome-ignore format: shuffle lanes read best in pairs
        v128.store(at, i8x16.add(i8x16.shuffle(top, bottom, 4, 12, 5, 13, 6, 14, 7, 15, 20, 28, 21, 29, 22, 30, 23, 31), add), 16);
      } else {
        // biome-ignore format: shuffle lanes read best in fours
        v128.store(at, i8x16.add(i8x16.shuffle(top, bottom, 0, 8, 16, 24, 1, 9, 17, 25, 2, 10, 18, 26, 3, 11, 19, 27), add));
        // biome-ignore format: shuffle lanes read best in fours
        v128.store(at, i8x16.add(i8x16.shuffle(top, bottom, 4, 12, 20, 28, 5, 13, 21, 29, 6, 14, 22, 30, 7, 15, 23, 31), add), 16);
      }
    }
  }
}

/**
 * Packs uint8 activations A[M, K] for the relaxed dot (its first operand is signed): each row as int8 (a - 128, i.e.
 * a xor 0x80) at `packed`, rows padded to a multiple of 4 with zeros, and per row sum(a - 128) * shift at `rowSums`,
 * the correction that undoes the weights' shift by `shift` (w + shift stored unsigned) in the accumulators.
 */
export function packShiftedRows(a: usize, m: i32, k: i32, packed: usize, rowSums: usize, shift: i32): void {
  const k4 = roundUp(k, 4);
  for (let r = 0; r < m; r++) {
    const src = a + <usize>(r * k);
    const dst = packed + <usize>(r * k4);
    let sums = i32x4.splat(0);
    let kk = 0;
    for (; kk + 16 <= k; kk += 16) {
      const v = v128.xor(v128.load(src + <usize>kk), i8x16.splat(-128));
      v128.store(dst + <usize>kk, v);
      sums = i32x4.add(sums, i32x4.extadd_pairwise_i16x8_s(i16x8.extadd_pairwise_i8x16_s(v)));
    }
    let sum = i32x4.extract_lane(sums, 0) + i32x4.extract_lane(sums, 1);
    sum += i32x4.extract_lane(sums, 2) + i32x4.extract_lane(sums, 3);
    for (; kk < k; kk++) {
      const v = <i32>load<u8>(src + <usize>kk) - 128;
      sum += v;
      store<i8>(dst + <usize>kk, <i8>v);
    }
    for (kk = k; kk < k4; kk++) store<i8>(dst + <usize>kk, 0);
    store<i32>(rowSums + ((<usize>r) << 2), sum * shift);
  }
}
