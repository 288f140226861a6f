/**
 * Pooling of a graph's per-token output, as sentence-transformers' Pooling and Normalize modules do it, for graphs
 * that end at last_hidden_state (an unpacked model folder). Packed bundles pool inside their graph.
 */
import type { PoolingMode } from '../bundle-format/manifest.js';

/**
 * Pools one sequence's rows of last_hidden_state [tokens, dims] into one vector (float64 sums).
 * @example poolTokens(Float32Array.of(1, 2, 3, 4), 2, 2, 'mean') // Float64Array [2, 3]
 */
export function poolTokens(hidden: ArrayLike<number>, tokens: number, dims: number, mode: PoolingMode): Float64Array {
  const out = new Float64Array(dims);
  if (mode === 'cls') {
    for (let d = 0; d < dims; d++) out[d] = hidden[d];
    return out;
  }
  if (mode === 'max') out.fill(tokens > 0 ? -Infinity : 0);
  for (let t = 0; t < tokens; t++) {
    for (let d = 0; d < dims; d++) {
      const v = hidden[t * dims + d];
      out[d] = mode === 'max' ? Math.max(out[d], v) : out[d] + v;
    }
  }
  if (mode === 'mean' || mode === 'mean_sqrt_len') {
    const count = Math.max(tokens, 1e-9);
    const divisor = mode === 'mean' ? count : Math.sqrt(count);
    for (let d = 0; d < dims; d++) out[d] /= divisor;
  }
  return out;
}

/**
 * Scales a vector to unit L2 length in place (a zero vector stays zero) and returns it.
 * @example normalizeL2(Float32Array.of(3, 4)) // [0.6, 0.8]
 */
export function normalizeL2<T extends Float32Array | Float64Array>(vector: T): T {
  let sum = 0;
  for (const value of vector) sum += value * value;
  const norm = Math.sqrt(sum);
  if (norm > 0) for (let i = 0; i < vector.length; i++) vector[i] /= norm;
  return vector;
}
