/**
 * Cosine similarity in float64; 0 when either vector is all zeros.
 * @example cosine(Float32Array.of(1, 0), Float32Array.of(1, 1)) // 0.7071...
 */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let normA = 0;
  let normB = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    normA += a[i] * a[i];
    normB += b[i] * b[i];
  }
  return normA === 0 || normB === 0 ? 0 : dot / Math.sqrt(normA * normB);
}
