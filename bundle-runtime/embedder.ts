/**
 * The embedder: an inference engine plus the micro-batch planner, with runs queued (one engine instance runs one
 * batch at a time) and counted. The worker, the packager's fidelity check and `edge-embed eval` all embed through it,
 * so a figure the packager prints is a figure of the code the worker serves.
 */
import { type BatchLimits, DEFAULT_BATCH_LIMITS, planMicroBatches } from './batch.js';
import type { InferenceEngine } from './engine.js';
import type { BundleTokenizer } from './tokenizer.js';

export interface InferenceCounters {
  /** Engine runs (micro-batches). */
  inferences: number;
  /** Sequences embedded by those runs. */
  embeddedSequences: number;
}

export interface EmbedOptions {
  /** Overrides the embedder's batch limits for this call. */
  limits?: BatchLimits;
  /** Called after each micro-batch with the number of sequences it embedded (progress bars). */
  onBatch?: (done: number) => void;
  /** Token types per sequence (a cross-encoder's pairs: 0 for the query, 1 for the document); default all 0. */
  tokenTypes?: readonly number[][];
}

export class Embedder {
  /** Engine runs are queued instead of interleaved: ORT's WASM session is single-threaded. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly engine: InferenceEngine,
    private readonly limits: BatchLimits = DEFAULT_BATCH_LIMITS,
    readonly counters: InferenceCounters = { inferences: 0, embeddedSequences: 0 },
  ) {}

  /**
   * Embeds any number of sequences as length-sorted micro-batches; vectors come back in input order.
   * @example await embedder.embedAll([[101, 7592, 102], [101, 102]]) // two vectors
   */
  async embedAll(sequences: readonly number[][], options: EmbedOptions = {}): Promise<Float32Array[]> {
    const vectors = new Array<Float32Array>(sequences.length);
    const lengths = sequences.map((ids) => ids.length);
    for (const batch of planMicroBatches(lengths, options.limits ?? this.limits)) {
      const types = options.tokenTypes;
      const batchVectors = await this.embedBatch(
        batch.map((index) => sequences[index]),
        types && batch.map((index) => types[index]),
      );
      batch.forEach((index, i) => {
        vectors[index] = batchVectors[i];
      });
      options.onBatch?.(batch.length);
    }
    return vectors;
  }

  /**
   * Tokenizes texts (cut to `maxTokens` from the right, keeping the special tokens) and embeds them.
   * @example await embedder.embedTexts(tokenizer, ['hello world'], 256)
   */
  embedTexts(tokenizer: BundleTokenizer, texts: readonly string[], maxTokens: number, options: EmbedOptions = {}) {
    return this.embedAll(
      texts.map((text) => tokenizer.encode(text, maxTokens, 'right').ids),
      options,
    );
  }

  release(): Promise<void> {
    return this.engine.release();
  }

  /** One vector per sequence from a single engine run, after any runs already queued. */
  private embedBatch(sequences: readonly number[][], tokenTypes?: readonly number[][]): Promise<Float32Array[]> {
    const run = this.queue.then(async () => {
      const vectors = await this.engine.run(sequences, tokenTypes);
      this.counters.inferences++;
      this.counters.embeddedSequences += sequences.length;
      return vectors;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }
}
