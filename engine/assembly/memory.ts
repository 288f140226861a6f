// Raw linear memory for the host: the kernels take pointers, the host copies tensors in and results out.

/** Reserves `bytes` of linear memory, 16-byte aligned (the stub runtime never frees). */
export function alloc(bytes: usize): usize {
  return heap.alloc(bytes);
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
