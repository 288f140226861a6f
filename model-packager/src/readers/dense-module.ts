/**
 * sentence-transformers' Dense module (a linear layer + activation after pooling: Universal Sentence Encoder's dense
 * 512x512 + tanh, LaBSE's projection), in its folder layout: <n>_Dense/config.json + model.safetensors.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PackError } from '../errors.js';

/** sentence = activation(pooled · weight + bias). */
export interface DenseHead {
  inFeatures: number;
  outFeatures: number;
  /** [in, out] row-major. */
  weight: Float32Array;
  bias: Float32Array;
  activation: 'tanh' | 'identity';
}

const ACTIVATIONS: Record<string, DenseHead['activation']> = {
  'torch.nn.modules.activation.Tanh': 'tanh',
  'torch.nn.modules.linear.Identity': 'identity',
};

/** Writes a tensor map as safetensors (8-byte little-endian header length, JSON header, raw little-endian data). */
function encodeSafetensors(tensors: Record<string, { shape: number[]; data: Float32Array }>): Uint8Array {
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let headerText = JSON.stringify(header);
  headerText += ' '.repeat((8 - (headerText.length % 8)) % 8);
  const headerBytes = new TextEncoder().encode(headerText);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const t of Object.values(tensors)) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return out;
}

function decodeSafetensors(bytes: Uint8Array, label: string): Map<string, { shape: number[]; data: Float32Array }> {
  if (bytes.length < 8) throw new PackError('bad-input', `${label} is not a safetensors file`);
  const headerLength = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
  } catch {
    throw new PackError('bad-input', `${label} has an unreadable safetensors header`);
  }
  const base = 8 + headerLength;
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    if (t.dtype !== 'F32')
      throw new PackError('bad-input', `${label}: tensor ${name} is ${t.dtype}; only F32 is supported`);
    const [start, end] = t.data_offsets;
    // Copy: a Node Buffer's slice() is a view into a shared pool, and Float32Array needs 4-byte alignment anyway.
    out.set(name, {
      shape: t.shape,
      data: new Float32Array(new Uint8Array(bytes.subarray(base + start, base + end)).buffer),
    });
  }
  return out;
}

/**
 * Writes `<dir>/config.json` and `<dir>/model.safetensors` the way sentence_transformers.models.Dense saves itself
 * (linear.weight is [out, in]).
 */
export async function writeDenseModule(dir: string, head: DenseHead): Promise<void> {
  await mkdir(dir, { recursive: true });
  const activation = Object.entries(ACTIVATIONS).find(([, a]) => a === head.activation)![0];
  const config = {
    in_features: head.inFeatures,
    out_features: head.outFeatures,
    bias: true,
    activation_function: activation,
  };
  const transposed = new Float32Array(head.inFeatures * head.outFeatures);
  for (let i = 0; i < head.inFeatures; i++) {
    for (let o = 0; o < head.outFeatures; o++)
      transposed[o * head.inFeatures + i] = head.weight[i * head.outFeatures + o];
  }
  await writeFile(join(dir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  await writeFile(
    join(dir, 'model.safetensors'),
    encodeSafetensors({
      'linear.weight': { shape: [head.outFeatures, head.inFeatures], data: transposed },
      'linear.bias': { shape: [head.outFeatures], data: head.bias },
    }),
  );
}

/**
 * Reads a sentence-transformers Dense module folder written by {@link writeDenseModule} (or by sentence-transformers
 * with safetensors weights).
 */
export async function readDenseModule(dir: string): Promise<DenseHead> {
  const configPath = join(dir, 'config.json');
  const weightsPath = join(dir, 'model.safetensors');
  if (!existsSync(configPath) || !existsSync(weightsPath)) {
    throw new PackError('missing-input', `Dense module ${dir} needs config.json and model.safetensors`);
  }
  const config = JSON.parse(await readFile(configPath, 'utf8')) as Record<string, unknown>;
  const activation = ACTIVATIONS[String(config.activation_function)];
  if (!activation)
    throw new PackError(
      'unsupported-graph',
      `Dense module ${dir}: activation ${String(config.activation_function)} is not supported (tanh, identity)`,
    );
  const inFeatures = Number(config.in_features);
  const outFeatures = Number(config.out_features);
  const tensors = decodeSafetensors(await readFile(weightsPath), weightsPath);
  const w = tensors.get('linear.weight');
  if (!w || w.shape[0] !== outFeatures || w.shape[1] !== inFeatures) {
    throw new PackError('bad-input', `${weightsPath}: linear.weight missing or not [${outFeatures}, ${inFeatures}]`);
  }
  const weight = new Float32Array(inFeatures * outFeatures);
  for (let o = 0; o < outFeatures; o++)
    for (let i = 0; i < inFeatures; i++) weight[i * outFeatures + o] = w.data[o * inFeatures + i];
  const bias = tensors.get('linear.bias')?.data ?? new Float32Array(outFeatures);
  return { inFeatures, outFeatures, weight, bias, activation };
}

/** Plain-TypeScript Dense module (and optional L2 normalisation) on one pooled vector. */
export function applyDenseHead(pooled: ArrayLike<number>, head: DenseHead, normalize: boolean): Float32Array {
  const out = new Float32Array(head.outFeatures);
  for (let o = 0; o < head.outFeatures; o++) {
    let acc = head.bias[o];
    for (let i = 0; i < head.inFeatures; i++) acc += pooled[i] * head.weight[i * head.outFeatures + o];
    out[o] = head.activation === 'tanh' ? Math.tanh(acc) : acc;
  }
  if (normalize) {
    const norm = Math.max(Math.hypot(...out), 1e-12);
    for (let o = 0; o < out.length; o++) out[o] /= norm;
  }
  return out;
}
