/**
 * The batcher: sorts sequences by token length and cuts them into micro-batches, so sequences of similar length share
 * a batch and padding stays small, while each batch stays under a sequence count and a padded-token budget.
 */
export interface BatchLimits {
  maxBatchSize: number;
  /** Sequences x longest sequence in the batch. */
  maxBatchTokens: number;
}

/**
 * The worker's defaults, which the packager's measurements use too. Small calls are faster per text in
 * onnxruntime-web's WASM backend (docs/performance.md), and the token budget bounds the WASM heap a batch grows.
 */
export const DEFAULT_BATCH_LIMITS: BatchLimits = { maxBatchSize: 32, maxBatchTokens: 256 };

/**
 * Indices of `lengths`, grouped into micro-batches (shortest first); every index appears exactly once.
 * @example planMicroBatches([9, 2, 7, 3], { maxBatchSize: 2, maxBatchTokens: 100 }) // [[1, 3], [2, 0]]
 */
export function planMicroBatches(lengths: readonly number[], limits: BatchLimits): number[][] {
  const order = lengths.map((_, i) => i).sort((a, b) => lengths[a] - lengths[b] || a - b);
  const batches: number[][] = [];
  let current: number[] = [];
  for (const index of order) {
    // Sorted ascending, so the newest sequence is the longest: it sets the padded width of the batch.
    const paddedTokens = (current.length + 1) * lengths[index];
    if (current.length > 0 && (current.length >= limits.maxBatchSize || paddedTokens > limits.maxBatchTokens)) {
      batches.push(current);
      current = [];
    }
    current.push(index);
  }
  if (current.length > 0) batches.push(current);
  return batches;
}
