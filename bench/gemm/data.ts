/**
 * The benchmark's inputs, the same on the Node side (which builds ORT's models and measures accuracy) and inside the
 * worker (which feeds the kernels): seeded fp32 weights [K, N] and activations [M, K], quantized as the graphs do.
 * Activations get a few outlier channels, as transformer hidden states have, since they set each token's scale.
 */

import { quantizeActivationsPerRow, quantizeWeightsPerColumn } from '../../engine/src/quantize.js';
import { seededNormal } from '../../model-packager/src/fixtures/random.js';

export interface GemmShape {
  m: number;
  k: number;
  n: number;
}

/** MiniLM-L6's linear layers (hidden 384, intermediate 1536) at 12, 64 and 128 tokens. */
export const tokenCounts = [12, 64, 128];
export const layerShapes: { k: number; n: number }[] = [
  { k: 384, n: 384 },
  { k: 384, n: 1536 },
  { k: 1536, n: 384 },
];

const SEED = 11;

export function floatWeights(k: number, n: number): Float32Array {
  return seededNormal(SEED, `w${k}x${n}`, k * n, 0, 0.05);
}

export function floatActivations(m: number, k: number): Float32Array {
  const x = seededNormal(SEED, `x${m}x${k}`, m * k, 0, 1);
  for (let r = 0; r < m; r++) for (const channel of [7, 101, 250]) if (channel < k) x[r * k + channel] *= 8;
  return x;
}

export function benchWeights(k: number, n: number) {
  const w = floatWeights(k, n);
  return { int8: quantizeWeightsPerColumn(w, k, n, 127), int7: quantizeWeightsPerColumn(w, k, n, 63) };
}

export function benchActivations(m: number, k: number) {
  return quantizeActivationsPerRow(floatActivations(m, k), m, k);
}
