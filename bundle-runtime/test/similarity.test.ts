/** Known answers for cosine(): values worked out by hand, not by calling the function under test a second way. */
import { describe, expect, it } from 'vitest';
import { cosine } from '../similarity.js';

describe('cosine', () => {
  it('is 0 for orthogonal vectors', () => {
    expect(cosine([1, 0], [0, 1])).toBe(0);
    expect(cosine([1, 2, 0], [-2, 1, 5])).toBe(0);
  });

  it('is 1 for parallel and -1 for antiparallel vectors, whatever their lengths', () => {
    expect(cosine([1, 2, 3], [2, 4, 6])).toBeCloseTo(1, 15);
    expect(cosine([3, 4], [3, 4])).toBeCloseTo(1, 15);
    expect(cosine([1, 2, 3], [-1, -2, -3])).toBeCloseTo(-1, 15);
    expect(cosine([0.5], [-7])).toBeCloseTo(-1, 15);
  });

  it('gives (1*4 + 2*5 + 3*6) / (|[1,2,3]| |[4,5,6]|) = 32 / sqrt(14 * 77) = 0.974631846197076...', () => {
    expect(cosine([1, 2, 3], [4, 5, 6])).toBeCloseTo(0.9746318461970762, 14);
    // Symmetric.
    expect(cosine([4, 5, 6], [1, 2, 3])).toBeCloseTo(0.9746318461970762, 14);
  });

  it('gives cos 45 degrees = 1/sqrt(2) and cos 120 degrees = -1/2, also for Float32Array input', () => {
    expect(cosine(Float32Array.of(1, 0), Float32Array.of(1, 1))).toBeCloseTo(Math.SQRT1_2, 14);
    expect(cosine([1, 0], [-1, Math.sqrt(3)])).toBeCloseTo(-0.5, 14);
  });

  it('is 0, not NaN, when either vector is all zeros', () => {
    expect(cosine([0, 0, 0], [1, 2, 3])).toBe(0);
    expect(cosine([1, 2, 3], [0, 0, 0])).toBe(0);
    expect(cosine(new Float32Array(4), new Float32Array(4))).toBe(0);
  });
});
