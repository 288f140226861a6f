// Raw linear memory for the host: the kernels take pointers, the host copies tensors in and results out.

/** Reserves `bytes` of linear memory, 16-byte aligned (the stub runtime never frees). */
export function alloc(bytes: usize): usize {
  return heap.alloc(bytes);
}

export function roundUp(value: i32, multiple: i32): i32 {
  return ((value + multiple - 1) / multiple) * multiple;
}

/**
 * Writes one output row of an 8-column tile: out[row, n0..n0+8) = f32(acc - correction) * aScale * wScale[n0..].
 * wScale is padded to a multiple of 8 columns; columns at or past n are not written (the last, partial block).
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
  spill: usize,
): void {
  const shift = i32x4.splat(correction);
  const scale = f32x4.splat(aScale);
  const v0 = f32x4.mul(
    f32x4.mul(f32x4.convert_i32x4_s(i32x4.sub(acc0, shift)), scale),
    v128.load(wScale + ((<usize>n0) << 2)),
  );
  const v1 = f32x4.mul(
    f32x4.mul(f32x4.convert_i32x4_s(i32x4.sub(acc1, shift)), scale),
    v128.load(wScale + ((<usize>n0) << 2), 16),
  );
  const base = out + ((<usize>row * <usize>n + <usize>n0) << 2);
  if (n0 + 8 <= n) {
    v128.store(base, v0);
    v128.store(base, v1, 16);
    return;
  }
  v128.store(spill, v0);
  v128.store(spill, v1, 16);
  memory.copy(base, spill, (<usize>(n - n0)) << 2);
}
