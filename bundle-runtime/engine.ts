/**
 * The inference step behind one small interface: token id sequences in, one pooled vector per sequence out. An engine
 * runs exactly the micro-batch it is given; planning batches, queueing and counting are the {@link Embedder}'s job.
 */
export interface InferenceEngine {
  /** Which engine this is, for reports (e.g. "onnxruntime-web"). */
  readonly name: string;
  /**
   * One vector per sequence, in order, from a single run over the whole micro-batch. `tokenTypes` (one per sequence,
   * as long as it) feed a graph's token_type_ids, e.g. 0 for a pair's query and 1 for its document; default all 0.
   * @example await engine.run([[101, 7592, 102], [101, 102]]) // [Float32Array(dims), Float32Array(dims)]
   */
  run(sequences: readonly number[][], tokenTypes?: readonly number[][]): Promise<Float32Array[]>;
  /** Frees what the engine holds (e.g. an ONNX Runtime session). */
  release(): Promise<void>;
}
