import { describe, expect, it } from 'vitest';
import { pcaProject } from '../../src/distill/pca.js';

/** Seeded rows with correlated, unequal-variance columns. */
function rows(n: number, dims: number): Float32Array[] {
  let seed = 7;
  const random = () => {
    seed = (seed * 16807) % 2147483647;
    return seed / 2147483647 - 0.5;
  };
  return Array.from({ length: n }, () => {
    const base = Array.from({ length: dims }, random);
    return Float32Array.from(base, (value, d) => value * (d + 1) + (d > 0 ? base[0] * 2 : 0));
  });
}

const variance = (values: number[]) => {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return values.reduce((sum, v) => sum + (v - mean) ** 2, 0) / values.length;
};

describe('pcaProject', () => {
  const data = rows(200, 5);

  it('with every component, is a rotation of the centred rows: distances stay', () => {
    const projected = pcaProject(data, 5);
    for (const [a, b] of [
      [0, 1],
      [3, 150],
      [42, 199],
    ]) {
      const before = Math.hypot(...data[a].map((v, d) => v - data[b][d]));
      const after = Math.hypot(...projected[a].map((v, d) => v - projected[b][d]));
      expect(after).toBeCloseTo(before, 4);
    }
  });

  it('orders components by falling variance, uncorrelated, centred', () => {
    const projected = pcaProject(data, 3);
    const columns = [0, 1, 2].map((c) => projected.map((row) => row[c]));
    const variances = columns.map(variance);
    expect(variances[0]).toBeGreaterThan(variances[1]);
    expect(variances[1]).toBeGreaterThan(variances[2]);
    for (const column of columns)
      expect(Math.abs(column.reduce((a, b) => a + b, 0) / column.length)).toBeLessThan(1e-4);
    const covariance01 = columns[0].reduce((sum, v, i) => sum + v * columns[1][i], 0) / columns[0].length;
    expect(Math.abs(covariance01)).toBeLessThan(1e-3 * Math.sqrt(variances[0] * variances[1]));
  });

  it('keeps as much variance as any projection to that many dimensions (more than the largest input column)', () => {
    const projected = pcaProject(data, 1);
    const best = Math.max(...[0, 1, 2, 3, 4].map((d) => variance(data.map((row) => row[d]))));
    expect(variance(projected.map((row) => row[0]))).toBeGreaterThanOrEqual(best);
  });
});
