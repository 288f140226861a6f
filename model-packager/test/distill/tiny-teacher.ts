/**
 * A tiny transformer-kind teacher bundle: a graph that mean-pools a word table, so a one-piece text's vector is that
 * piece's row, which makes every step of distillation checkable by hand. Unigram tokenizer with varied scores, so SIF
 * weights differ per piece.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256Hex } from '../../../bundle-format/hash.js';
import { computeContentHash, type TransformerBundleManifest } from '../../../bundle-format/manifest.js';
import { makeNode } from '../../src/onnx/graph.js';
import { DataType, onnx } from '../../src/onnx/proto.js';
import { float32Tensor, int64Tensor } from '../../src/onnx/tensor.js';
import { encodeOnnxModel } from '../../src/onnx/write-model.js';

export const DIMS = 6;
/** [piece, log probability, vector]; id 0 is <unk>. */
const WORD_PIECES: [string, number, number[]][] = [
  ['<unk>', 0, [0, 0, 0, 0, 0, 0]],
  ['▁the', -2, [0.2, 0.1, 0, 0.1, 0, 0.05]],
  ['▁cat', -6, [1, 0, 0, 0.2, 0, 0]],
  ['▁dog', -6.5, [0.9, 0.3, 0.1, 0, 0, 0]],
  ['▁car', -7, [0, 0, 1, 0, 0.3, 0]],
  ['▁truck', -8, [0.1, 0, 0.9, 0, 0.4, 0]],
  ['▁sat', -5, [0, 0.8, 0, 0, 0, 0.5]],
  ['▁drove', -7.5, [0, 0.1, 0.3, 0.9, 0, 0]],
  ['▁a', -3, [0.05, 0.05, 0.05, 0, 0, 0.1]],
  ['▁fast', -6, [0, 0, 0.4, 0.5, 0.6, 0]],
  ['▁red', -7, [0.3, 0, 0, 0, 0.9, 0.2]],
  ['▁mat', -7.2, [0.2, 0.6, 0, 0, 0, 0.7]],
];
/** '▁' and every letter the words use, as pack's pruning keeps them so any text still spells out. */
const LETTERS = [...new Set(WORD_PIECES.slice(1).flatMap(([piece]) => [...piece.slice(1)]))].sort();
export const PIECES: [string, number, number[]][] = [
  ...WORD_PIECES,
  ...['▁', ...LETTERS].map((piece, i): [string, number, number[]] => [
    piece,
    -10 - i / 10,
    Array.from({ length: 6 }, (_, d) => (((i + 1) * (d + 3) * 37) % 11) / 20 - 0.25),
  ]),
];

const valueInfo = (name: string, elemType: number, dims: (number | string)[]) =>
  onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  });

export async function writeTinyTeacher(dir: string): Promise<void> {
  const nodes = [
    makeNode('Gather', ['table', 'input_ids'], ['tokens'], { axis: 0 }),
    makeNode('Cast', ['attention_mask'], ['mask'], { to: DataType.FLOAT }),
    makeNode('Unsqueeze', ['mask', 'axis2'], ['mask3']),
    makeNode('Mul', ['tokens', 'mask3'], ['masked']),
    makeNode('ReduceSum', ['masked', 'axis1'], ['sum'], { keepdims: 0 }),
    makeNode('ReduceSum', ['mask', 'axis1'], ['count'], { keepdims: 1 }),
    makeNode('Div', ['sum', 'count'], ['sentence_embedding']),
  ];
  const graph = onnx.GraphProto.create({
    name: 'tiny-teacher',
    node: nodes,
    initializer: [
      float32Tensor('table', [PIECES.length, DIMS], Float32Array.from(PIECES.flatMap(([, , v]) => v))),
      int64Tensor('axis1', [1], [1]),
      int64Tensor('axis2', [1], [2]),
    ],
    input: ['input_ids', 'attention_mask'].map((n) => valueInfo(n, DataType.INT64, ['batch', 'sequence'])),
    output: [valueInfo('sentence_embedding', DataType.FLOAT, ['batch', DIMS])],
  });
  const model = encodeOnnxModel(
    onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: '', version: 17 }], graph }),
  );
  const tokenizer = new TextEncoder().encode(
    JSON.stringify({
      version: '1.0',
      added_tokens: [
        { id: 0, content: '<unk>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
      ],
      normalizer: {
        type: 'Sequence',
        normalizers: [
          { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
          { type: 'Prepend', prepend: '▁' },
        ],
      },
      pre_tokenizer: null,
      post_processor: null,
      decoder: null,
      model: { type: 'Unigram', unk_id: 0, vocab: PIECES.map(([piece, score]) => [piece, score]) },
    }),
  );
  const withoutHash: Omit<TransformerBundleManifest, 'contentHash'> = {
    formatVersion: 1,
    modelName: 'tiny-teacher',
    dimensions: DIMS,
    allowedDimensions: [DIMS],
    maxTokens: 16,
    pooling: 'mean',
    normalize: false,
    inputs: ['input_ids', 'attention_mask'],
    output: 'sentence_embedding',
    inputDtype: 'int64',
    tokenizerConfig: {},
    quantization: 'none',
    vocabulary: { before: PIECES.length, after: PIECES.length },
    files: {
      'model.onnx': { bytes: model.length, sha256: await sha256Hex(model) },
      'tokenizer.json': { bytes: tokenizer.length, sha256: await sha256Hex(tokenizer) },
    },
    bytes: { total: model.length + tokenizer.length, embeddings: 0, layers: 0, tokenizer: tokenizer.length },
    sourceFiles: {},
    fidelity: null,
    wasmHeapBytes: null,
    createdBy: 'distill test',
  };
  const manifest = { ...withoutHash, contentHash: await computeContentHash(withoutHash) };
  await writeFile(join(dir, 'model.onnx'), model);
  await writeFile(join(dir, 'tokenizer.json'), tokenizer);
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest));
}
