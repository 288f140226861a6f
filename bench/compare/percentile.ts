/**
 * The nearest-rank percentile of samples (p in 0..100): the smallest sample with at least p% of them at or below it.
 * @example percentile([3, 1, 2, 4], 50) // 2
 */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}
