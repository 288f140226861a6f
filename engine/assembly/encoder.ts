/**
 * The encoder's kernels besides the GEMM, shared by every kernel module (each gemm-*.ts re-exports them), so a runtime
 * loads one module for the whole forward pass: embedding gather, LayerNorm, activations, attention, pooling, the float
 * head and L2 normalisation, all f32x4 over row-major f32 buffers in linear memory.
 *
 * Sequences lie back to back without padding: `starts` is i32[count + 1], sequence s owning rows
 * starts[s]..starts[s + 1]. Row-wise kernels ignore it; attention and pooling stay within a sequence.
 * A pointer argument of 0 means "absent" where a tensor is optional.
 */

const LOG2E: f32 = <f32>Math.LOG2E;
// ln 2 split in two (Cephes) so n * LN2_HIGH is exact for the n exp meets.
const LN2_HIGH: f32 = 0.693359375;
const LN2_LOW: f32 = -2.1219444e-4;
const SIGN: i32 = 0x80000000;
// Clamps use f32x4.pmin/pmax (one minps/maxps on x64) rather than min/max, whose NaN and signed-zero rules cost several
// instructions each. With x as the first operand they give the same lanes for every input: pmin(x, c) = c < x ? c : x
// keeps a NaN x, and no clamp bound is a zero.

export const ACTIVATION_RELU = 0;
export const ACTIVATION_GELU_ERF = 1;
export const ACTIVATION_GELU_TANH = 2;
export const ACTIVATION_TANH = 3;

// biome-ignore lint/complexity/noStaticOnlyClass: AssemblyScript inlines decorated methods only, and TypeScript syntax allows decorators on class members only.
class Lanes {
  /** exp per lane (Cephes expf: 2^n times a degree-6 polynomial on |r| <= ln2 / 2), relative error ~1e-7. */
  @inline static exp(x: v128): v128 {
    const clamped = f32x4.pmin(f32x4.pmax(x, f32x4.splat(-87.0)), f32x4.splat(88.0));
    const n = f32x4.nearest(f32x4.mul(clamped, f32x4.splat(LOG2E)));
    const r = f32x4.sub(f32x4.sub(clamped, f32x4.mul(n, f32x4.splat(LN2_HIGH))), f32x4.mul(n, f32x4.splat(LN2_LOW)));
    let y = f32x4.splat(1.98756915e-4);
    y = f32x4.add(f32x4.mul(y, r), f32x4.splat(1.39819995e-3));
    y = f32x4.add(f32x4.mul(y, r), f32x4.splat(8.33345191e-3));
    y = f32x4.add(f32x4.mul(y, r), f32x4.splat(4.16657959e-2));
    y = f32x4.add(f32x4.mul(y, r), f32x4.splat(1.66666655e-1));
    y = f32x4.add(f32x4.mul(y, r), f32x4.splat(5.00000012e-1));
    y = f32x4.add(f32x4.add(f32x4.mul(f32x4.mul(y, r), r), r), f32x4.splat(1));
    const pow2 = i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(n), i32x4.splat(127)), 23);
    return f32x4.mul(y, pow2);
  }

  /**
   * erf per lane: x P(x^2) / Q(x^2) on x clamped to [-4, 4] (erf is +-1 in float32 beyond), the rational minimax
   * approximation of Eigen's and XLA's float erf; error a few float32 ulps, no exp.
   */
  @inline static erf(x: v128): v128 {
    const c = f32x4.pmin(f32x4.pmax(x, f32x4.splat(-4)), f32x4.splat(4));
    const x2 = f32x4.mul(c, c);
    let p = f32x4.splat(-2.72614225801306e-10);
    p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(2.77068142495902e-8));
    p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(-2.10102402082508e-6));
    p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(-5.69250639462346e-5));
    p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(-7.34990630326855e-4));
    p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(-2.95459980854025e-3));
    p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(-1.60960333262415e-2));
    let q = f32x4.splat(-1.45660718464996e-5);
    q = f32x4.add(f32x4.mul(q, x2), f32x4.splat(-2.13374055278905e-4));
    q = f32x4.add(f32x4.mul(q, x2), f32x4.splat(-1.68282697438203e-3));
    q = f32x4.add(f32x4.mul(q, x2), f32x4.splat(-7.37332916720468e-3));
    q = f32x4.add(f32x4.mul(q, x2), f32x4.splat(-1.42647390514189e-2));
    return f32x4.div(f32x4.mul(c, p), q);
  }

  /** tanh per lane: (1 - e) / (1 + e) with e = exp(-2|x|), the sign put back. */
  @inline static tanh(x: v128): v128 {
    const e = Lanes.exp(f32x4.mul(f32x4.abs(x), f32x4.splat(-2)));
    const one = f32x4.splat(1);
    return v128.or(f32x4.div(f32x4.sub(one, e), f32x4.add(one, e)), v128.and(x, i32x4.splat(SIGN)));
  }

  @inline static geluErf(v: v128): v128 {
    const half = f32x4.mul(f32x4.splat(0.5), v);
    return f32x4.add(half, f32x4.mul(half, Lanes.erf(f32x4.mul(v, f32x4.splat(<f32>Math.SQRT1_2)))));
  }

  @inline static geluTanh(v: v128): v128 {
    const half = f32x4.mul(f32x4.splat(0.5), v);
    const cube = f32x4.mul(f32x4.mul(v, v), v);
    const inner = f32x4.mul(f32x4.splat(0.7978845608), f32x4.add(v, f32x4.mul(f32x4.splat(0.044715), cube)));
    return f32x4.add(half, f32x4.mul(half, Lanes.tanh(inner)));
  }

  @inline static activate(v: v128, kind: i32): v128 {
    if (kind === ACTIVATION_RELU) return f32x4.max(v, f32x4.splat(0));
    if (kind === ACTIVATION_TANH) return Lanes.tanh(v);
    if (kind === ACTIVATION_GELU_ERF) return Lanes.geluErf(v);
    return Lanes.geluTanh(v);
  }
}

/** x[i] = f(x[i]) for `count` floats; kind: ACTIVATION_*. The tail goes through the same lanes as the body. */
export function activate(x: usize, count: i32, kind: i32): void {
  const body = x + ((<usize>(count & ~3)) << 2);
  const end = x + ((<usize>count) << 2);
  let at = x;
  // One loop per kind, so the per-vector work has no branch.
  if (kind === ACTIVATION_RELU) {
    for (; at < body; at += 16) v128.store(at, f32x4.max(v128.load(at), f32x4.splat(0)));
  } else if (kind === ACTIVATION_GELU_ERF) {
    for (; at < body; at += 16) v128.store(at, Lanes.geluErf(v128.load(at)));
  } else if (kind === ACTIVATION_GELU_TANH) {
    for (; at < body; at += 16) v128.store(at, Lanes.geluTanh(v128.load(at)));
  } else {
    for (; at < body; at += 16) v128.store(at, Lanes.tanh(v128.load(at)));
  }
  for (; at < end; at += 4) store<f32>(at, f32x4.extract_lane(Lanes.activate(f32x4.splat(load<f32>(at)), kind), 0));
}

function sum4(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

/** sum x[i] y[i] over `count` floats. */
function dot(x: usize, y: usize, count: i32): f32 {
  let acc0 = f32x4.splat(0);
  let acc1 = f32x4.splat(0);
  let i = 0;
  for (; i + 8 <= count; i += 8) {
    const o = (<usize>i) << 2;
    acc0 = f32x4.add(acc0, f32x4.mul(v128.load(x + o), v128.load(y + o)));
    acc1 = f32x4.add(acc1, f32x4.mul(v128.load(x + o, 16), v128.load(y + o, 16)));
  }
  for (; i + 4 <= count; i += 4) {
    const o = (<usize>i) << 2;
    acc0 = f32x4.add(acc0, f32x4.mul(v128.load(x + o), v128.load(y + o)));
  }
  let sum = sum4(f32x4.add(acc0, acc1));
  for (; i < count; i++) sum += load<f32>(x + ((<usize>i) << 2)) * load<f32>(y + ((<usize>i) << 2));
  return sum;
}

/**
 * Token embeddings of `count` sequences into out[rows, width]: word row (int8 times its row scale when `wordScales`
 * is set, else f32) + position row (t + positionOffset) + token-type row types[row] of the `tokenType` table. ids and
 * types (i32 per row) were checked by the host.
 */
export function embed(
  ids: usize,
  types: usize,
  starts: usize,
  count: i32,
  width: i32,
  word: usize,
  wordScales: usize,
  position: usize,
  positionOffset: i32,
  tokenType: usize,
  out: usize,
): void {
  const rowBytes = (<usize>width) << 2;
  for (let s = 0; s < count; s++) {
    const first = load<i32>(starts + ((<usize>s) << 2));
    const last = load<i32>(starts + ((<usize>(s + 1)) << 2));
    for (let row = first; row < last; row++) {
      const id = <usize>load<i32>(ids + ((<usize>row) << 2));
      const dst = out + <usize>row * rowBytes;
      const scale = wordScales ? load<f32>(wordScales + (id << 2)) : <f32>1;
      const positionRow = position + <usize>(row - first + positionOffset) * rowBytes;
      const typeRow = tokenType + <usize>load<i32>(types + ((<usize>row) << 2)) * rowBytes;
      const scaleV = f32x4.splat(scale);
      let c = 0;
      for (; c + 4 <= width; c += 4) {
        const at = id * <usize>width + <usize>c;
        let v = wordScales
          ? f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(v128.load8x8_s(word + at))), scaleV)
          : v128.load(word + (at << 2));
        const o = (<usize>c) << 2;
        if (position) v = f32x4.add(v, v128.load(positionRow + o));
        if (tokenType) v = f32x4.add(v, v128.load(typeRow + o));
        v128.store(dst + o, v);
      }
      for (; c < width; c++) {
        const at = id * <usize>width + <usize>c;
        let v: f32 = wordScales ? <f32>load<i8>(word + at) * scale : load<f32>(word + (at << 2));
        const o = (<usize>c) << 2;
        if (position) v += load<f32>(positionRow + o);
        if (tokenType) v += load<f32>(typeRow + o);
        store<f32>(dst + o, v);
      }
    }
  }
}

/** out[r] = LN(x[r]) * gamma + beta for each of `rows` rows of `width` (out may be x): mean, then the centred variance. */
export function layerNorm(x: usize, rows: i32, width: i32, gamma: usize, beta: usize, epsilon: f32, out: usize): void {
  const rowBytes = (<usize>width) << 2;
  const w4 = width & ~3;
  for (let r = 0; r < rows; r++) {
    const src = x + <usize>r * rowBytes;
    const dst = out + <usize>r * rowBytes;
    let acc = f32x4.splat(0);
    for (let c = 0; c < w4; c += 4) acc = f32x4.add(acc, v128.load(src + ((<usize>c) << 2)));
    let sum = sum4(acc);
    for (let c = w4; c < width; c++) sum += load<f32>(src + ((<usize>c) << 2));
    const mean = sum / <f32>width;
    const meanV = f32x4.splat(mean);
    acc = f32x4.splat(0);
    for (let c = 0; c < w4; c += 4) {
      const d = f32x4.sub(v128.load(src + ((<usize>c) << 2)), meanV);
      acc = f32x4.add(acc, f32x4.mul(d, d));
    }
    let squares = sum4(acc);
    for (let c = w4; c < width; c++) {
      const d = load<f32>(src + ((<usize>c) << 2)) - mean;
      squares += d * d;
    }
    const inverse: f32 = <f32>1 / sqrt<f32>(squares / <f32>width + epsilon);
    const inverseV = f32x4.splat(inverse);
    for (let c = 0; c < w4; c += 4) {
      const o = (<usize>c) << 2;
      const normed = f32x4.mul(f32x4.sub(v128.load(src + o), meanV), inverseV);
      v128.store(dst + o, f32x4.add(f32x4.mul(normed, v128.load(gamma + o)), v128.load(beta + o)));
    }
    for (let c = w4; c < width; c++) {
      const o = (<usize>c) << 2;
      store<f32>(dst + o, (load<f32>(src + o) - mean) * inverse * load<f32>(gamma + o) + load<f32>(beta + o));
    }
  }
}

/** x[i] += y[i] for `count` floats. */
export function addInPlace(x: usize, y: usize, count: i32): void {
  let i = 0;
  for (; i + 4 <= count; i += 4) {
    const o = (<usize>i) << 2;
    v128.store(x + o, f32x4.add(v128.load(x + o), v128.load(y + o)));
  }
  for (; i < count; i++) {
    const o = (<usize>i) << 2;
    store<f32>(x + o, load<f32>(x + o) + load<f32>(y + o));
  }
}

/** p[0..n) = exp(p - max p) in place; returns 1 / their sum (softmax = p times it, left to the caller). */
function softmaxUnscaled(p: usize, n: i32): f32 {
  let peaks = f32x4.splat(-Infinity);
  let j = 0;
  // pmax (see SIGN) may keep a zero of the other sign or drop a NaN score, neither of which changes the output: a
  // score minus +0 or -0 has the same exp, and one NaN score makes the sum and so every probability NaN anyway.
  for (; j + 4 <= n; j += 4) peaks = f32x4.pmax(peaks, v128.load(p + ((<usize>j) << 2)));
  let peak = max<f32>(
    max<f32>(f32x4.extract_lane(peaks, 0), f32x4.extract_lane(peaks, 1)),
    max<f32>(f32x4.extract_lane(peaks, 2), f32x4.extract_lane(peaks, 3)),
  );
  for (; j < n; j++) peak = max<f32>(peak, load<f32>(p + ((<usize>j) << 2)));
  const peakV = f32x4.splat(peak);
  let acc = f32x4.splat(0);
  j = 0;
  for (; j + 4 <= n; j += 4) {
    const o = (<usize>j) << 2;
    const e = Lanes.exp(f32x4.sub(v128.load(p + o), peakV));
    v128.store(p + o, e);
    acc = f32x4.add(acc, e);
  }
  let sum = sum4(acc);
  for (; j < n; j++) {
    const o = (<usize>j) << 2;
    const e = f32x4.extract_lane(Lanes.exp(f32x4.splat(load<f32>(p + o) - peak)), 0);
    store<f32>(p + o, e);
    sum += e;
  }
  return <f32>1 / sum;
}

/** out[0..d) = scale * sum_j p[j] v_j[0..d), v_j at `v + j * stride` bytes. */
function weightedRows(p: usize, n: i32, v: usize, stride: usize, d: i32, scale: f32, out: usize): void {
  const scaleV = f32x4.splat(scale);
  let c = 0;
  for (; c + 16 <= d; c += 16) {
    let a0 = f32x4.splat(0);
    let a1 = f32x4.splat(0);
    let a2 = f32x4.splat(0);
    let a3 = f32x4.splat(0);
    let row = v + ((<usize>c) << 2);
    for (let j = 0; j < n; j++) {
      const w = f32x4.splat(load<f32>(p + ((<usize>j) << 2)));
      a0 = f32x4.add(a0, f32x4.mul(w, v128.load(row)));
      a1 = f32x4.add(a1, f32x4.mul(w, v128.load(row, 16)));
      a2 = f32x4.add(a2, f32x4.mul(w, v128.load(row, 32)));
      a3 = f32x4.add(a3, f32x4.mul(w, v128.load(row, 48)));
      row += stride;
    }
    const dst = out + ((<usize>c) << 2);
    v128.store(dst, f32x4.mul(a0, scaleV));
    v128.store(dst, f32x4.mul(a1, scaleV), 16);
    v128.store(dst, f32x4.mul(a2, scaleV), 32);
    v128.store(dst, f32x4.mul(a3, scaleV), 48);
  }
  for (; c < d; c++) {
    let sum: f32 = 0;
    let at = v + ((<usize>c) << 2);
    for (let j = 0; j < n; j++) {
      sum += load<f32>(p + ((<usize>j) << 2)) * load<f32>(at);
      at += stride;
    }
    store<f32>(out + ((<usize>c) << 2), sum * scale);
  }
}

/** scores[0..rows4) = (q * scale) . k_j for each key j, from keysT[headDim, rows4] (K transposed), 16 or 4 keys at a time. */
function queryScores(q: usize, scale: f32, keysT: usize, rows4: i32, headDim: i32, scores: usize): void {
  const rowBytes = (<usize>rows4) << 2;
  let j = 0;
  for (; j + 16 <= rows4; j += 16) {
    let a0 = f32x4.splat(0);
    let a1 = f32x4.splat(0);
    let a2 = f32x4.splat(0);
    let a3 = f32x4.splat(0);
    let column = keysT + ((<usize>j) << 2);
    for (let d = 0; d < headDim; d++) {
      const qd = f32x4.splat(load<f32>(q + ((<usize>d) << 2)) * scale);
      a0 = f32x4.add(a0, f32x4.mul(qd, v128.load(column)));
      a1 = f32x4.add(a1, f32x4.mul(qd, v128.load(column, 16)));
      a2 = f32x4.add(a2, f32x4.mul(qd, v128.load(column, 32)));
      a3 = f32x4.add(a3, f32x4.mul(qd, v128.load(column, 48)));
      column += rowBytes;
    }
    const dst = scores + ((<usize>j) << 2);
    v128.store(dst, a0);
    v128.store(dst, a1, 16);
    v128.store(dst, a2, 32);
    v128.store(dst, a3, 48);
  }
  for (; j < rows4; j += 4) {
    let a0 = f32x4.splat(0);
    let column = keysT + ((<usize>j) << 2);
    for (let d = 0; d < headDim; d++) {
      a0 = f32x4.add(a0, f32x4.mul(f32x4.splat(load<f32>(q + ((<usize>d) << 2)) * scale), v128.load(column)));
      column += rowBytes;
    }
    v128.store(scores + ((<usize>j) << 2), a0);
  }
}

/**
 * weightedRows for two queries at once (probabilities p and p2, outputs at out and out + outStride), sharing each
 * value load; each output sums in the same order as weightedRows, so the results are the same bits.
 */
function weightedRows2(
  p: usize,
  p2: usize,
  n: i32,
  v: usize,
  stride: usize,
  d: i32,
  scale: f32,
  scale2: f32,
  out: usize,
  outStride: usize,
): void {
  const scaleV = f32x4.splat(scale);
  const scaleV2 = f32x4.splat(scale2);
  let c = 0;
  for (; c + 16 <= d; c += 16) {
    let a0 = f32x4.splat(0);
    let a1 = f32x4.splat(0);
    let a2 = f32x4.splat(0);
    let a3 = f32x4.splat(0);
    let b0 = f32x4.splat(0);
    let b1 = f32x4.splat(0);
    let b2 = f32x4.splat(0);
    let b3 = f32x4.splat(0);
    let row = v + ((<usize>c) << 2);
    for (let j = 0; j < n; j++) {
      const o = (<usize>j) << 2;
      const w = f32x4.splat(load<f32>(p + o));
      const w2 = f32x4.splat(load<f32>(p2 + o));
      const v0 = v128.load(row);
      const v1 = v128.load(row, 16);
      const v2 = v128.load(row, 32);
      const v3 = v128.load(row, 48);
      a0 = f32x4.add(a0, f32x4.mul(w, v0));
      a1 = f32x4.add(a1, f32x4.mul(w, v1));
      a2 = f32x4.add(a2, f32x4.mul(w, v2));
      a3 = f32x4.add(a3, f32x4.mul(w, v3));
      b0 = f32x4.add(b0, f32x4.mul(w2, v0));
      b1 = f32x4.add(b1, f32x4.mul(w2, v1));
      b2 = f32x4.add(b2, f32x4.mul(w2, v2));
      b3 = f32x4.add(b3, f32x4.mul(w2, v3));
      row += stride;
    }
    const dst = out + ((<usize>c) << 2);
    v128.store(dst, f32x4.mul(a0, scaleV));
    v128.store(dst, f32x4.mul(a1, scaleV), 16);
    v128.store(dst, f32x4.mul(a2, scaleV), 32);
    v128.store(dst, f32x4.mul(a3, scaleV), 48);
    const dst2 = dst + outStride;
    v128.store(dst2, f32x4.mul(b0, scaleV2));
    v128.store(dst2, f32x4.mul(b1, scaleV2), 16);
    v128.store(dst2, f32x4.mul(b2, scaleV2), 32);
    v128.store(dst2, f32x4.mul(b3, scaleV2), 48);
  }
  if (c < d) {
    weightedRows(p, n, v + ((<usize>c) << 2), stride, d - c, scale, out + ((<usize>c) << 2));
    weightedRows(p2, n, v + ((<usize>c) << 2), stride, d - c, scale2, out + outStride + ((<usize>c) << 2));
  }
}

/**
 * queryScores for two queries at once (the second at q + qStride bytes, into scores2), sharing each key load, 16 keys
 * at a time; each score sums in the same order as queryScores, so the results are the same bits.
 */
function queryScores2(
  q: usize,
  qStride: usize,
  scale: f32,
  keysT: usize,
  rows4: i32,
  headDim: i32,
  scores: usize,
  scores2: usize,
): void {
  const rowBytes = (<usize>rows4) << 2;
  const q2 = q + qStride;
  let j = 0;
  for (; j + 16 <= rows4; j += 16) {
    let a0 = f32x4.splat(0);
    let a1 = f32x4.splat(0);
    let a2 = f32x4.splat(0);
    let a3 = f32x4.splat(0);
    let b0 = f32x4.splat(0);
    let b1 = f32x4.splat(0);
    let b2 = f32x4.splat(0);
    let b3 = f32x4.splat(0);
    let column = keysT + ((<usize>j) << 2);
    for (let d = 0; d < headDim; d++) {
      const o = (<usize>d) << 2;
      const qd = f32x4.splat(load<f32>(q + o) * scale);
      const qd2 = f32x4.splat(load<f32>(q2 + o) * scale);
      const k0 = v128.load(column);
      const k1 = v128.load(column, 16);
      const k2 = v128.load(column, 32);
      const k3 = v128.load(column, 48);
      a0 = f32x4.add(a0, f32x4.mul(qd, k0));
      a1 = f32x4.add(a1, f32x4.mul(qd, k1));
      a2 = f32x4.add(a2, f32x4.mul(qd, k2));
      a3 = f32x4.add(a3, f32x4.mul(qd, k3));
      b0 = f32x4.add(b0, f32x4.mul(qd2, k0));
      b1 = f32x4.add(b1, f32x4.mul(qd2, k1));
      b2 = f32x4.add(b2, f32x4.mul(qd2, k2));
      b3 = f32x4.add(b3, f32x4.mul(qd2, k3));
      column += rowBytes;
    }
    const o = (<usize>j) << 2;
    v128.store(scores + o, a0);
    v128.store(scores + o, a1, 16);
    v128.store(scores + o, a2, 32);
    v128.store(scores + o, a3, 48);
    v128.store(scores2 + o, b0);
    v128.store(scores2 + o, b1, 16);
    v128.store(scores2 + o, b2, 32);
    v128.store(scores2 + o, b3, 48);
  }
  for (; j < rows4; j += 4) {
    let a0 = f32x4.splat(0);
    let b0 = f32x4.splat(0);
    let column = keysT + ((<usize>j) << 2);
    for (let d = 0; d < headDim; d++) {
      const o = (<usize>d) << 2;
      const k0 = v128.load(column);
      a0 = f32x4.add(a0, f32x4.mul(f32x4.splat(load<f32>(q + o) * scale), k0));
      b0 = f32x4.add(b0, f32x4.mul(f32x4.splat(load<f32>(q2 + o) * scale), k0));
      column += rowBytes;
    }
    v128.store(scores + ((<usize>j) << 2), a0);
    v128.store(scores2 + ((<usize>j) << 2), b0);
  }
}

/**
 * Multi-head self-attention of each sequence over its own rows (no mask: no padding). qkv[rows, 3 * heads * headDim]
 * holds [query | key | value] per row, head h at columns h * headDim of each; context[rows, heads * headDim] gets
 * softmax(q k^T * scale) v per head. `scratch` holds (headDim + 2) x roundUp(longest sequence, 4) floats: one head's
 * keys transposed (so scores are computed 4 keys per vector) and two rows of probabilities (queries go in pairs).
 */
export function attention(
  qkv: usize,
  starts: usize,
  count: i32,
  heads: i32,
  headDim: i32,
  scale: f32,
  context: usize,
  scratch: usize,
): void {
  const inner = heads * headDim;
  const stride = (<usize>(3 * inner)) << 2;
  const contextStride = (<usize>inner) << 2;
  for (let s = 0; s < count; s++) {
    const first = load<i32>(starts + ((<usize>s) << 2));
    const rows = load<i32>(starts + ((<usize>(s + 1)) << 2)) - first;
    const rows4 = (rows + 3) & ~3;
    const scores = scratch;
    const scores2 = scratch + ((<usize>rows4) << 2);
    const keysT = scores2 + ((<usize>rows4) << 2);
    const base = qkv + <usize>first * stride;
    for (let h = 0; h < heads; h++) {
      const query = base + ((<usize>(h * headDim)) << 2);
      const key = query + contextStride;
      const value = key + contextStride;
      for (let j = 0; j < rows; j++) {
        const k = key + <usize>j * stride;
        for (let d = 0; d < headDim; d++) {
          store<f32>(keysT + ((<usize>(d * rows4 + j)) << 2), load<f32>(k + ((<usize>d) << 2)));
        }
      }
      // Two queries at a time share each key and value load; each query's sums keep the one-query order.
      let i = 0;
      for (; i + 2 <= rows; i += 2) {
        queryScores2(query + <usize>i * stride, stride, scale, keysT, rows4, headDim, scores, scores2);
        const inverseSum = softmaxUnscaled(scores, rows);
        const inverseSum2 = softmaxUnscaled(scores2, rows);
        const out = context + <usize>(first + i) * contextStride + ((<usize>(h * headDim)) << 2);
        weightedRows2(scores, scores2, rows, value, stride, headDim, inverseSum, inverseSum2, out, contextStride);
      }
      for (; i < rows; i++) {
        queryScores(query + <usize>i * stride, scale, keysT, rows4, headDim, scores);
        const inverseSum = softmaxUnscaled(scores, rows);
        const out = context + <usize>(first + i) * contextStride + ((<usize>(h * headDim)) << 2);
        weightedRows(scores, rows, value, stride, headDim, inverseSum, out);
      }
    }
  }
}

export const POOL_MEAN = 0;
export const POOL_CLS = 1;
export const POOL_MAX = 2;
export const POOL_MEAN_SQRT_LEN = 3;

/** out[s] = the pooled rows of sequence s (mode: POOL_*), out[count, width]. */
export function pool(x: usize, starts: usize, count: i32, width: i32, mode: i32, out: usize): void {
  const rowBytes = (<usize>width) << 2;
  for (let s = 0; s < count; s++) {
    const first = load<i32>(starts + ((<usize>s) << 2));
    const rows = load<i32>(starts + ((<usize>(s + 1)) << 2)) - first;
    const dst = out + <usize>s * rowBytes;
    const src = x + <usize>first * rowBytes;
    if (rows === 0) {
      memory.fill(dst, 0, rowBytes);
      continue;
    }
    memory.copy(dst, src, rowBytes);
    if (mode === POOL_CLS) continue;
    for (let r = 1; r < rows; r++) {
      const row = src + <usize>r * rowBytes;
      let c = 0;
      for (; c + 4 <= width; c += 4) {
        const o = (<usize>c) << 2;
        const v = v128.load(row + o);
        v128.store(dst + o, mode === POOL_MAX ? f32x4.max(v128.load(dst + o), v) : f32x4.add(v128.load(dst + o), v));
      }
      for (; c < width; c++) {
        const o = (<usize>c) << 2;
        const v = load<f32>(row + o);
        store<f32>(dst + o, mode === POOL_MAX ? max<f32>(load<f32>(dst + o), v) : load<f32>(dst + o) + v);
      }
    }
    if (mode === POOL_MAX) continue;
    const divisor: f32 = mode === POOL_MEAN ? <f32>rows : sqrt<f32>(<f32>rows);
    for (let c = 0; c < width; c++) {
      const o = (<usize>c) << 2;
      store<f32>(dst + o, load<f32>(dst + o) / divisor);
    }
  }
}

/**
 * out[m, n] = x[m, k] W[k, n] + bias (f32 weights, row-major; bias 0 for none), added to what out holds when
 * `accumulate` is set (a residual add).
 */
export function floatLinear(
  x: usize,
  m: i32,
  k: i32,
  n: i32,
  w: usize,
  bias: usize,
  out: usize,
  accumulate: bool,
): void {
  const n4 = n & ~3;
  const rowBytes = (<usize>n) << 2;
  for (let r = 0; r < m; r++) {
    const dst = out + <usize>r * rowBytes;
    if (!accumulate) memory.fill(dst, 0, rowBytes);
    if (bias) addInPlace(dst, bias, n);
    const src = x + ((<usize>(r * k)) << 2);
    for (let i = 0; i < k; i++) {
      const xi = load<f32>(src + ((<usize>i) << 2));
      const xv = f32x4.splat(xi);
      const row = w + <usize>i * rowBytes;
      for (let c = 0; c < n4; c += 4) {
        const o = (<usize>c) << 2;
        v128.store(dst + o, f32x4.add(v128.load(dst + o), f32x4.mul(xv, v128.load(row + o))));
      }
      for (let c = n4; c < n; c++) {
        const o = (<usize>c) << 2;
        store<f32>(dst + o, load<f32>(dst + o) + xi * load<f32>(row + o));
      }
    }
  }
}

/** Scales each of `rows` rows of `width` to unit L2 length (a zero row stays zero). */
export function normalizeRows(x: usize, rows: i32, width: i32): void {
  const rowBytes = (<usize>width) << 2;
  for (let r = 0; r < rows; r++) {
    const row = x + <usize>r * rowBytes;
    const norm = sqrt<f32>(dot(row, row, width));
    if (!(norm > 0)) continue;
    const inverse: f32 = <f32>1 / norm;
    for (let c = 0; c < width; c++) {
      const o = (<usize>c) << 2;
      store<f32>(row + o, load<f32>(row + o) * inverse);
    }
  }
}
