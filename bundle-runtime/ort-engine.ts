/**
 * The ONNX Runtime engine: pads a micro-batch of token id sequences into the graph's inputs, runs the session and reads
 * one vector per sequence from the output. Platform-agnostic: the ORT build (workerd's shim, or Node's) is passed in
 * as an {@link OrtRuntime}.
 */
import type { InferenceSession, Tensor } from 'onnxruntime-web';
import type { BundleManifest, PoolingMode } from '../bundle-format/manifest.js';
import type { InferenceEngine } from './engine.js';
import { normalizeL2, poolTokens } from './pooling.js';

/** The parts of onnxruntime-web an engine needs, set up for the platform it runs on. */
export interface OrtRuntime {
  createSession(model: Uint8Array): Promise<InferenceSession>;
  Tensor: typeof Tensor;
}

export type GraphInputName = BundleManifest['inputs'][number];

/** How to feed a graph and read its vectors. */
export interface OrtGraphSpec {
  inputs: readonly GraphInputName[];
  inputDtype: BundleManifest['inputDtype'];
  /** The output to read: [batch, dims] pooled vectors, or [batch, tokens, dims] when `pool` is given. */
  output: string;
  /** For graphs that end at a per-token output: pool it here, then apply `finish` (e.g. a Dense head). */
  pool?: { mode: PoolingMode; normalize: boolean; finish?: (pooled: Float64Array) => ArrayLike<number> };
}

/**
 * Opens a session on the model bytes.
 * @example const engine = await createOrtEngine(ort, modelBytes, manifest); await engine.run([[101, 102]])
 */
export async function createOrtEngine(
  ort: OrtRuntime,
  model: Uint8Array,
  spec: OrtGraphSpec,
): Promise<InferenceEngine> {
  const session = await ort.createSession(model);
  return {
    name: 'onnxruntime-web',
    async run(sequences, tokenTypes) {
      const width = Math.max(1, ...sequences.map((ids) => ids.length));
      const feeds: Record<string, Tensor> = {};
      for (const name of spec.inputs)
        feeds[name] = inputTensor(ort, spec.inputDtype, name, { sequences, tokenTypes }, width);
      const output = (await session.run(feeds))[spec.output];
      if (output === undefined) throw new Error(`the graph has no output ${spec.output}`);
      return spec.pool === undefined ? rows(output, sequences.length) : pooledRows(output, sequences, spec.pool);
    },
    release: () => session.release(),
  };
}

function rows(output: Tensor, batch: number): Float32Array[] {
  if (output.dims.length !== 2 || output.dims[0] !== batch) {
    throw new Error(`model output is [${output.dims.join(', ')}], expected [${batch}, dims]`);
  }
  const dims = output.dims[1];
  const data = output.data as Float32Array;
  return Array.from({ length: batch }, (_, row) => data.slice(row * dims, (row + 1) * dims));
}

function pooledRows(
  output: Tensor,
  sequences: readonly number[][],
  pool: NonNullable<OrtGraphSpec['pool']>,
): Float32Array[] {
  if (output.dims.length !== 3 || output.dims[0] !== sequences.length) {
    throw new Error(`model output is [${output.dims.join(', ')}], expected [${sequences.length}, tokens, dims]`);
  }
  const [, width, dims] = output.dims;
  const data = output.data as Float32Array;
  return sequences.map((ids, row) => {
    const pooled = poolTokens(data.subarray(row * width * dims, (row + 1) * width * dims), ids.length, dims, pool.mode);
    const vector = Float32Array.from(pool.finish?.(pooled) ?? pooled);
    return pool.normalize ? normalizeL2(vector) : vector;
  });
}

/** One input as a [batch, width] tensor: ids padded with 0, mask 1 on real tokens, token types as given (else 0). */
function inputTensor(
  ort: OrtRuntime,
  dtype: OrtGraphSpec['inputDtype'],
  name: GraphInputName,
  batch: { sequences: readonly number[][]; tokenTypes?: readonly number[][] },
  width: number,
): Tensor {
  const { sequences, tokenTypes } = batch;
  const values = new Int32Array(sequences.length * width);
  sequences.forEach((ids, row) => {
    const types = tokenTypes?.[row];
    for (let column = 0; column < ids.length; column++) {
      if (name === 'input_ids') values[row * width + column] = ids[column];
      else if (name === 'attention_mask') values[row * width + column] = 1;
      else if (types !== undefined) values[row * width + column] = types[column];
    }
  });
  const dims = [sequences.length, width];
  if (dtype === 'int32') return new ort.Tensor('int32', values, dims);
  return new ort.Tensor(
    'int64',
    BigInt64Array.from(values, (value) => BigInt(value)),
    dims,
  );
}
