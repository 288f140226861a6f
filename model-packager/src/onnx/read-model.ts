import { readFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { PackError } from '../errors.js';
import { type ModelProto, onnx, type TensorProto } from './proto.js';

/**
 * Decodes an ONNX file and pulls any external-data tensors (the layout optimum uses for models over 2 GB, and
 * torch.onnx.export with `save_as_external_data`) back into raw_data, so graph passes see one self-contained model.
 *
 * @example
 *   const model = await readOnnxModel('minilm/model.onnx');
 */
export async function readOnnxModel(path: string): Promise<ModelProto> {
  return (await readOnnxFile(path)).model;
}

/** {@link readOnnxModel}, also returning the file's bytes (for hashing without a second read). */
export async function readOnnxFile(path: string): Promise<{ model: ModelProto; bytes: Uint8Array }> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch {
    throw new PackError('missing-input', `cannot read ONNX file ${path}`);
  }
  const model = decodeOnnxModel(bytes, path);
  await inlineExternalData(model, dirname(path));
  return { model, bytes };
}

/** Decodes ONNX bytes, refusing anything that is not a model with a graph. */
export function decodeOnnxModel(bytes: Uint8Array, label = 'model'): ModelProto {
  let model: ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (err) {
    throw new PackError('corrupt-onnx', `${label} is not a valid ONNX file (${(err as Error).message})`);
  }
  if (!model.graph?.node || model.graph.node.length === 0) {
    throw new PackError('corrupt-onnx', `${label} is not a valid ONNX file (no graph nodes found)`);
  }
  return model;
}

async function inlineExternalData(model: ModelProto, baseDir: string): Promise<void> {
  const files = new Map<string, Buffer>();
  for (const tensor of model.graph!.initializer as TensorProto[]) {
    if (tensor.dataLocation !== onnx.TensorProto.DataLocation.EXTERNAL) continue;
    const entries = new Map(tensor.externalData.map((e) => [e.key, e.value]));
    const location = entries.get('location');
    if (!location) throw new PackError('corrupt-onnx', `tensor ${tensor.name} has external data without a location`);
    const file = resolve(baseDir, location);
    if (!file.startsWith(resolve(baseDir) + sep)) {
      throw new PackError('corrupt-onnx', `tensor ${tensor.name} points outside the model folder (${location})`);
    }
    let data = files.get(file);
    if (!data) {
      try {
        data = await readFile(file);
      } catch {
        throw new PackError(
          'missing-input',
          `external data file ${join(baseDir, location)} for tensor ${tensor.name} is missing`,
        );
      }
      files.set(file, data);
    }
    const offset = Number(entries.get('offset') ?? 0);
    const length = entries.has('length') ? Number(entries.get('length')) : data.length - offset;
    if (offset + length > data.length) {
      throw new PackError('corrupt-onnx', `tensor ${tensor.name} reads past the end of ${location}`);
    }
    tensor.rawData = new Uint8Array(data.buffer, data.byteOffset + offset, length);
    tensor.externalData = [];
    tensor.dataLocation = onnx.TensorProto.DataLocation.DEFAULT;
  }
}
