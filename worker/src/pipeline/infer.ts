/**
 * Inference: pads a micro-batch of token id sequences into the bundle's graph inputs, runs the ONNX session and reads
 * the pooled `sentence_embedding` output. Runtime-agnostic: the ORT module (workerd or Node) is passed in.
 */
import type { InferenceSession, Tensor } from 'onnxruntime-web';
import type { BundleManifest } from '../../../bundle-format/manifest.js';
import { planMicroBatches, type BatchLimits } from './batch.js';

/** The parts of onnxruntime-web the pipeline needs, set up for the platform it runs on. */
export interface OrtRuntime {
  createSession(model: Uint8Array): Promise<InferenceSession>;
  Tensor: typeof Tensor;
}

export interface InferenceCounters {
  /** session.run calls. */
  inferences: number;
  /** Sequences embedded by those calls. */
  embeddedSequences: number;
}

type GraphInput = BundleManifest['inputs'][number];

export class EmbeddingModel {
  /** ORT's WASM session is single-threaded; runs are queued instead of interleaved. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly session: InferenceSession,
    private readonly ort: OrtRuntime,
    private readonly manifest: BundleManifest,
    private readonly counters: InferenceCounters,
  ) {}

  /** @example await EmbeddingModel.create(ort, modelBytes, manifest, counters) */
  static async create(ort: OrtRuntime, model: Uint8Array, manifest: BundleManifest, counters: InferenceCounters) {
    return new EmbeddingModel(await ort.createSession(model), ort, manifest, counters);
  }

  /** One vector per sequence, in order, from a single session run (sequences padded to the longest). */
  embedBatch(sequences: readonly number[][]): Promise<Float32Array[]> {
    const run = this.queue.then(() => this.run(sequences));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Embeds any number of sequences as length-sorted micro-batches; vectors come back in input order.
   * @example await model.embedAll([[101, 7592, 102], [101, 102]], { maxBatchSize: 32, maxBatchTokens: 8192 })
   */
  async embedAll(sequences: readonly number[][], limits: BatchLimits): Promise<Float32Array[]> {
    const vectors = new Array<Float32Array>(sequences.length);
    for (const batch of planMicroBatches(sequences.map((ids) => ids.length), limits)) {
      const batchVectors = await this.embedBatch(batch.map((index) => sequences[index]));
      batch.forEach((index, i) => (vectors[index] = batchVectors[i]));
    }
    return vectors;
  }

  private async run(sequences: readonly number[][]): Promise<Float32Array[]> {
    const batch = sequences.length;
    const width = Math.max(...sequences.map((ids) => ids.length));
    const feeds: Record<string, Tensor> = {};
    for (const name of this.manifest.inputs) feeds[name] = this.inputTensor(name, sequences, width);
    const outputs = await this.session.run(feeds);
    const output = outputs[this.manifest.output];
    const dimensions = this.manifest.dimensions;
    if (output === undefined || output.dims.length !== 2 || output.dims[0] !== batch || output.dims[1] !== dimensions) {
      throw new Error(`model output ${this.manifest.output} is not [${batch}, ${dimensions}]`);
    }
    const data = output.data as Float32Array;
    this.counters.inferences++;
    this.counters.embeddedSequences += batch;
    return sequences.map((_, row) => data.slice(row * dimensions, (row + 1) * dimensions));
  }

  private inputTensor(name: GraphInput, sequences: readonly number[][], width: number): Tensor {
    const size = sequences.length * width;
    const values = new Array<number>(size).fill(0);
    sequences.forEach((ids, row) => {
      for (let column = 0; column < ids.length; column++) {
        if (name === 'input_ids') values[row * width + column] = ids[column];
        else if (name === 'attention_mask') values[row * width + column] = 1;
      }
    });
    const dims = [sequences.length, width];
    if (this.manifest.inputDtype === 'int32') return new this.ort.Tensor('int32', Int32Array.from(values), dims);
    return new this.ort.Tensor('int64', BigInt64Array.from(values, (value) => BigInt(value)), dims);
  }
}
