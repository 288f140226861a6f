/**
 * The encoder kernels (engine/assembly/encoder.ts, in the SIMD128 build Node runs) against plain TypeScript: odd widths
 * and lengths not divisible by 4 or 16 so every SIMD tail runs, a one-token softmax, each activation, every pooling
 * mode, and the GEMM epilogue's bias and residual add. The relaxed builds carry the same encoder source; the plan
 * engine's parity tests and bench:plan-engine's workerd check cover them end to end.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ACTIVATIONS } from '../../bundle-runtime/plan-reference.js';
import { normalizeL2, poolTokens } from '../../bundle-runtime/pooling.js';
import { buildEngine } from '../../engine/build.js';
import { instantiateKernels, type KernelPooling, type Kernels } from '../../engine/src/kernels.js';
import { referenceGemm } from '../../engine/src/reference-gemm.js';

let kernels: Kernels;

beforeAll(async () => {
  kernels = await instantiateKernels(new WebAssembly.Module(readFileSync((await buildEngine()).simd128)));
});

function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

function randoms(count: number, seed: number, scale = 1, offset = 0): Float32Array {
  const next = lcg(seed);
  return Float32Array.from({ length: count }, () => offset + scale * (2 * next() - 1));
}

/** Copies values into fresh module memory; their address. */
function put(values: Float32Array | Int32Array | Int8Array): number {
  const at = kernels.alloc(Math.max(values.byteLength, 16));
  new Uint8Array(kernels.memory.buffer, at, values.byteLength).set(
    new Uint8Array(values.buffer, values.byteOffset, values.byteLength),
  );
  return at;
}

function floats(at: number, count: number): Float32Array {
  return new Float32Array(kernels.memory.buffer, at, count).slice();
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const error = Math.abs(actual[i] - expected[i]) / Math.max(1, Math.abs(expected[i]));
    if (!(error <= worst)) worst = error;
  }
  expect(worst).toBeLessThanOrEqual(tolerance);
}

/** starts i32[count + 1] of sequences of these lengths, back to back. */
function starts(lengths: number[]): Int32Array {
  const out = new Int32Array(lengths.length + 1);
  lengths.forEach((length, s) => {
    out[s + 1] = out[s] + length;
  });
  return out;
}

describe('activate', () => {
  // -9..9 in odd steps, tiny values and zeros; 203 values, so the scalar tail runs.
  const values = Float32Array.from({ length: 203 }, (_, i) => (i % 50 === 0 ? 0 : (i - 101) * 0.0893 + (i % 7) * 1e-4));
  for (const kind of ['relu', 'gelu-erf', 'gelu-tanh', 'tanh'] as const) {
    it(`${kind} matches the float64 reference to float32 precision`, () => {
      const at = put(values);
      kernels.activate(at, values.length, kernels.activations[kind]);
      const reference = kind === 'tanh' ? Math.tanh : ACTIVATIONS[kind];
      expectClose(floats(at, values.length), Array.from(values, reference), 2e-6);
    });
  }

  it('gelu-erf keeps large inputs (erf saturates) and small ones (no cancellation blow-up)', () => {
    const at = put(Float32Array.of(-30, -6, 6, 30, 1e-6, -1e-6, 0));
    kernels.activate(at, 7, kernels.activations['gelu-erf']);
    expectClose(floats(at, 7), [-0, -0, 6, 30, 5e-7, -5e-7, 0], 1e-6);
  });
});

describe('layerNorm', () => {
  it('normalises each row (width 37) with gamma and beta, in place as well', () => {
    const [rows, width] = [5, 37];
    const x = randoms(rows * width, 1, 3, 0.5);
    const gamma = randoms(width, 2, 1, 1);
    const beta = randoms(width, 3, 0.2);
    const expected = new Float64Array(rows * width);
    for (let r = 0; r < rows; r++) {
      const row = Array.from(x.subarray(r * width, (r + 1) * width));
      const mean = row.reduce((a, b) => a + b, 0) / width;
      const variance = row.reduce((a, b) => a + (b - mean) ** 2, 0) / width;
      row.forEach((v, c) => {
        expected[r * width + c] = ((v - mean) / Math.sqrt(variance + 1e-12)) * gamma[c] + beta[c];
      });
    }
    const at = put(x);
    kernels.layerNorm(at, rows, width, put(gamma), put(beta), 1e-12, at);
    expectClose(floats(at, rows * width), expected, 1e-5);
  });
});

describe('attention', () => {
  /** softmax(q k^T * scale) v per sequence and head, float64. */
  function reference(qkv: Float32Array, lengths: number[], heads: number, headDim: number, scale: number) {
    const inner = heads * headDim;
    const rows = lengths.reduce((a, b) => a + b, 0);
    const out = new Float64Array(rows * inner);
    let first = 0;
    for (const length of lengths) {
      for (let h = 0; h < heads; h++) {
        for (let i = 0; i < length; i++) {
          const scores = Array.from({ length }, (_, j) => {
            let dot = 0;
            for (let d = 0; d < headDim; d++) {
              dot +=
                qkv[(first + i) * 3 * inner + h * headDim + d] * qkv[(first + j) * 3 * inner + inner + h * headDim + d];
            }
            return dot * scale;
          });
          const peak = Math.max(...scores);
          const e = scores.map((s) => Math.exp(s - peak));
          const sum = e.reduce((a, b) => a + b, 0);
          for (let j = 0; j < length; j++) {
            for (let d = 0; d < headDim; d++) {
              out[(first + i) * inner + h * headDim + d] +=
                (e[j] / sum) * qkv[(first + j) * 3 * inner + 2 * inner + h * headDim + d];
            }
          }
        }
      }
      first += length;
    }
    return out;
  }

  for (const [heads, headDim] of [
    [3, 5],
    [2, 32],
    [1, 21],
  ]) {
    it(`runs each sequence on its own rows (${heads} heads of ${headDim}; lengths 1, 7, 18)`, () => {
      const lengths = [1, 7, 18];
      const rows = 26;
      const inner = heads * headDim;
      const qkv = randoms(rows * 3 * inner, heads * 100 + headDim, 2);
      const context = kernels.alloc(rows * inner * 4);
      const scratch = kernels.alloc((headDim + 2) * 20 * 4);
      kernels.attention(put(qkv), put(starts(lengths)), 3, heads, headDim, 0.37, context, scratch);
      const out = floats(context, rows * inner);
      expectClose(out, reference(qkv, lengths, heads, headDim, 0.37), 1e-5);
      // One token attends only to itself: its context is its value row.
      expect(Array.from(out.subarray(0, inner))).toEqual(Array.from(qkv.subarray(2 * inner, 3 * inner)));
    });
  }

  it('gives a query the same bits in a pair of queries as alone (19 rows, 2 heads of 37)', () => {
    // Queries go two at a time and an odd sequence's last one alone. Swapping the queries of rows 17 and 18 (keys
    // and values kept) moves row 18's query into a pair and row 17's out of one: their contexts must swap exactly.
    const [heads, headDim, rows] = [2, 37, 19];
    const inner = heads * headDim;
    const qkv = randoms(rows * 3 * inner, 5, 2);
    const swapped = qkv.slice();
    for (const [to, from] of [
      [17, 18],
      [18, 17],
    ]) {
      swapped.set(qkv.subarray(from * 3 * inner, from * 3 * inner + inner), to * 3 * inner);
    }
    const scratch = kernels.alloc((headDim + 2) * 20 * 4);
    const run = (input: Float32Array) => {
      const context = kernels.alloc(rows * inner * 4);
      kernels.attention(put(input), put(starts([rows])), 1, heads, headDim, 0.29, context, scratch);
      return floats(context, rows * inner);
    };
    const plain = run(qkv);
    const moved = run(swapped);
    expect(Array.from(moved.subarray(17 * inner, 18 * inner))).toEqual(Array.from(plain.subarray(18 * inner)));
    expect(Array.from(moved.subarray(18 * inner))).toEqual(Array.from(plain.subarray(17 * inner, 18 * inner)));
    expect(Array.from(moved.subarray(0, 17 * inner))).toEqual(Array.from(plain.subarray(0, 17 * inner)));
  });
});

describe('pool', () => {
  for (const mode of ['mean', 'cls', 'max', 'mean_sqrt_len'] as KernelPooling[]) {
    it(`${mode}-pools sequences of 1, 6 and 17 rows of width 19 like poolTokens`, () => {
      const lengths = [1, 6, 17];
      const width = 19;
      const x = randoms(24 * width, 7, 4);
      const out = kernels.alloc(3 * width * 4);
      kernels.pool(put(x), put(starts(lengths)), 3, width, kernels.poolings[mode], out);
      const offsets = starts(lengths);
      const expected = lengths.flatMap((length, s) =>
        Array.from(poolTokens(x.subarray(offsets[s] * width), length, width, mode)),
      );
      expectClose(floats(out, 3 * width), expected, 1e-6);
    });
  }
});

describe('embed', () => {
  it("adds int8 word rows times their scale, position rows from the offset and each row's token-type row (width 21)", () => {
    const [vocabulary, width, offset] = [11, 21, 2];
    const next = lcg(9);
    const word = Int8Array.from({ length: vocabulary * width }, () => Math.floor(next() * 255) - 127);
    const scales = randoms(vocabulary, 10, 0.01, 0.02);
    const position = randoms(12 * width, 11);
    const typeTable = randoms(3 * width, 12);
    const ids = Int32Array.of(3, 10, 0, 7, 7);
    const types = Int32Array.of(0, 2, 0, 1, 1);
    const lengths = [2, 3];
    const out = kernels.alloc(ids.length * width * 4);
    const s = starts(lengths);
    kernels.embed(
      put(ids),
      put(types),
      put(s),
      2,
      width,
      put(word),
      put(scales),
      put(position),
      offset,
      put(typeTable),
      out,
    );
    const expected: number[] = [];
    ids.forEach((id, row) => {
      const t = row < 2 ? row : row - 2;
      for (let c = 0; c < width; c++) {
        expected.push(
          word[id * width + c] * scales[id] + position[(t + offset) * width + c] + typeTable[types[row] * width + c],
        );
      }
    });
    expectClose(floats(out, ids.length * width), expected, 1e-6);
  });
});

describe('floatLinear and normalizeRows', () => {
  it('computes x W + b (k 19, n 13), adds onto out when accumulating, and scales rows to unit length', () => {
    const [m, k, n] = [3, 19, 13];
    const x = randoms(m * k, 13);
    const w = randoms(k * n, 14);
    const bias = randoms(n, 15);
    const expected = new Float64Array(m * n);
    for (let r = 0; r < m; r++) {
      for (let j = 0; j < n; j++) {
        let sum = bias[j];
        for (let i = 0; i < k; i++) sum += x[r * k + i] * w[i * n + j];
        expected[r * n + j] = sum;
      }
    }
    const out = kernels.alloc(m * n * 4);
    const [xAt, wAt, bAt] = [put(x), put(w), put(bias)];
    kernels.floatLinear(xAt, m, k, n, wAt, bAt, out, 0);
    expectClose(floats(out, m * n), expected, 1e-5);
    kernels.floatLinear(xAt, m, k, n, wAt, 0, out, 1);
    expectClose(
      floats(out, m * n),
      expected.map((v, i) => v + v - bias[i % n]),
      1e-5,
    );
    kernels.normalizeRows(out, m, n);
    const result = floats(out, m * n);
    for (let r = 0; r < m; r++) {
      const row = expected.subarray(r * n, (r + 1) * n).map((v, j) => 2 * v - bias[j]);
      expectClose(result.subarray(r * n, (r + 1) * n), normalizeL2(row), 1e-6);
    }
  });
});

describe('the GEMM epilogue', () => {
  it('adds the bias, and the value already in out when accumulating, after the scales (n = 13: a partial block)', () => {
    const [m, k, n] = [5, 23, 13];
    const next = lcg(21);
    const a = Uint8Array.from({ length: m * k }, () => 1 + Math.floor(next() * 255));
    const w = Int8Array.from({ length: k * n }, () => Math.floor(next() * 255) - 127);
    const aScale = randoms(m, 22, 0.001, 0.01);
    const wScale = randoms(16, 23, 0.001, 0.01);
    const bias = randoms(16, 24);
    const prior = randoms(m * n, 25);
    const packed = kernels.alloc(kernels.packedWeightBytes(k, n));
    kernels.packWeights(put(w), k, n, packed);
    const aAt = kernels.alloc(m * k);
    new Uint8Array(kernels.memory.buffer, aAt, m * k).set(a);
    const scratch = kernels.alloc(kernels.scratchBytes(m, k));
    const out = put(prior);
    kernels.gemm(aAt, m, k, n, packed, put(aScale), put(wScale), put(bias), out, 1, scratch);
    const product = referenceGemm(a, aScale, w, wScale.subarray(0, n), m, k, n);
    const expected = product.map((v, i) => Math.fround(Math.fround(v + bias[i % n]) + prior[i]));
    expect(Array.from(floats(out, m * n))).toEqual(Array.from(expected));
  });
});
