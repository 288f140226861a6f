/**
 * The MiniLM-sized fixture laid out the way transformers.js loads a local model: config and tokenizer files beside
 * onnx/model.onnx (fp32, the fixture's own export) and onnx/model_quantized.onnx (its "q8" file name). Our packer's
 * int8 bundle ends in pooling (sentence_embedding) and a pruned vocabulary, which transformers.js cannot use, so the
 * q8 file is the fixture quantized by the packer's own passes (int8 word embeddings + int8-compute MatMuls, the
 * bundle's mode) without pruning or pooling: last_hidden_state stays the output.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readOnnxModel } from '../../model-packager/src/onnx/read-model.js';
import { encodeOnnxModel } from '../../model-packager/src/onnx/write-model.js';
import { inspectBertGraph } from '../../model-packager/src/passes/inspect-bert-graph.js';
import { quantizeEmbeddingTable } from '../../model-packager/src/passes/quantize-embedding-table.js';
import { quantizeMatMulWeights } from '../../model-packager/src/passes/quantize-matmul-weights.js';

const root = join(import.meta.dirname, '../..');
const FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'];

/**
 * Writes `<parent>/<modelId>/` (the fp32 copy is reused while newer than the fixture); returns { parent, modelId } for
 * env.localModelPath and pipeline().
 */
export async function transformersLayout(): Promise<{ parent: string; modelId: string }> {
  const source = join(root, '.fixtures/minilm');
  const parent = join(root, '.fixtures/compare-transformers');
  const modelId = 'minilm';
  const dir = join(parent, modelId);
  const fp32 = join(dir, 'onnx/model.onnx');
  const q8 = join(dir, 'onnx/model_quantized.onnx');
  const sourceModel = join(source, 'model.onnx');
  const fresh = (path: string) => existsSync(path) && statSync(path).mtimeMs >= statSync(sourceModel).mtimeMs;
  mkdirSync(join(dir, 'onnx'), { recursive: true });
  for (const file of FILES) writeFileSync(join(dir, file), readFileSync(join(source, file)));
  if (!fresh(fp32)) copyFileSync(sourceModel, fp32);
  // Always rebuilt: it must carry the packer's current quantization, the one the bundle was built with.
  {
    const model = await readOnnxModel(sourceModel);
    const info = inspectBertGraph(model);
    quantizeEmbeddingTable(model, info.wordEmbedding);
    quantizeMatMulWeights(model, 'int8-compute');
    writeFileSync(q8, encodeOnnxModel(model));
  }
  return { parent, modelId };
}
