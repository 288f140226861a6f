import { describe, expect, it } from 'vitest';
import { SENTENCE_EMBEDDING_OUTPUT } from '../../../bundle-format/manifest.js';
import { cosine } from '../../../bundle-runtime/similarity.js';
import { PackError } from '../../src/errors.js';
import { type BertFixtureOptions, buildBertModel, FIXTURE_PRESETS } from '../../src/fixtures/bert-fixture.js';
import { defaultOpset, initializerMap, makeNode } from '../../src/onnx/graph.js';
import {
  DataType,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  onnx,
  type TensorProto,
} from '../../src/onnx/proto.js';
import { float32Tensor, readFloat32 } from '../../src/onnx/tensor.js';
import { encodeOnnxModel } from '../../src/onnx/write-model.js';
import { appendPooling } from '../../src/passes/append-pooling.js';
import { quantizeEmbeddingTable } from '../../src/passes/quantize-embedding-table.js';
import { type MatMulQuantizationMode, quantizeMatMulWeights } from '../../src/passes/quantize-matmul-weights.js';
import { dequantizePerColumn, quantizePerColumn } from '../../src/quant/int8.js';
import { createWasmSession, ort } from '../../src/runtime/ort-node.js';

/** Deterministic values in [-1, 1) (xorshift), so failures reproduce. */
function pseudoRandom(seed: number, count: number, scale = 1): Float32Array {
  let s = seed >>> 0 || 1;
  return Float32Array.from({ length: count }, () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return ((s / 2 ** 32) * 2 - 1) * scale;
  });
}

/** A float tensor's value info; no dims means shape unknown. */
function valueInfo(name: string, dims?: (number | string)[]) {
  const shape = dims && { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) };
  return onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType: DataType.FLOAT, shape } } });
}

function model(
  nodes: NodeProto[],
  initializers: TensorProto[],
  inputDims: (number | string)[],
  output: string,
  opset = 17,
): ModelProto {
  const graph = onnx.GraphProto.create({
    name: 'test',
    node: nodes,
    initializer: initializers,
    input: [valueInfo('x', inputDims)],
    output: [valueInfo(output)],
  });
  return onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: '', version: opset }], graph });
}

async function run(m: ModelProto, x: Float32Array, dims: number[], output: string): Promise<Float32Array> {
  const session = await createWasmSession(encodeOnnxModel(m));
  const result = await session.run({ x: new ort.Tensor('float32', x, dims) });
  await session.release();
  return result[output].data as Float32Array;
}

const K = 48;
const N = 20;
const ROWS = 6;

/** Weight columns with very different magnitudes, so a per-tensor scale would visibly lose the small columns. */
function weight(): Float32Array {
  const w = pseudoRandom(7, K * N);
  for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) w[k * N + n] *= 0.01 * (n + 1) ** 2;
  return w;
}

describe('quantizePerColumn', () => {
  it('keeps every element within half a step of its column scale, zero columns included', () => {
    const w = weight();
    for (let k = 0; k < K; k++) w[k * N + 3] = 0;
    const q = quantizePerColumn(w, K, N);
    const dq = dequantizePerColumn(q, K, N);
    for (let k = 0; k < K; k++) {
      for (let n = 0; n < N; n++) {
        expect(Math.abs(w[k * N + n] - dq[k * N + n])).toBeLessThanOrEqual(q.scales[n] / 2 + 1e-7 * q.scales[n]);
      }
    }
    expect(Array.from({ length: K }, (_, k) => dq[k * N + 3])).toEqual(new Array(K).fill(0));
    expect(Math.max(...q.values)).toBeLessThanOrEqual(127);
    expect(Math.min(...q.values)).toBeGreaterThanOrEqual(-127);
  });
});

describe('quantizeMatMulWeights', () => {
  const w = weight();
  const bias = pseudoRandom(11, N, 0.5);
  const x = pseudoRandom(3, ROWS * K, 2);
  const xDims = [2, ROWS / 2, K];
  const linear = (opset = 17) =>
    model(
      [makeNode('MatMul', ['x', 'w'], ['h']), makeNode('Add', ['h', 'b'], ['y'])],
      [float32Tensor('w', [K, N], w), float32Tensor('b', [N], bias)],
      xDims,
      'y',
      opset,
    );

  /**
   * Per output element, |y_int8 - y_fp32| <= sum_k |x_k| * s_n / 2 (weight rounding) + a_s / 2 * sum_k |dq(w)_kn|
   * (activation rounding, int8-compute only, a_s = max_k |x_rk| / 127: one step per row), plus float slack.
   */
  function bound(mode: MatMulQuantizationMode, input = x, rows = ROWS): Float32Array {
    const q = quantizePerColumn(w, K, N);
    const dq = dequantizePerColumn(q, K, N);
    const out = new Float32Array(rows * N);
    for (let r = 0; r < rows; r++) {
      let rowMax = 0;
      for (let k = 0; k < K; k++) rowMax = Math.max(rowMax, Math.abs(input[r * K + k]));
      const aScale = rowMax / 127;
      for (let n = 0; n < N; n++) {
        let b = 0;
        for (let k = 0; k < K; k++) {
          b += (Math.abs(input[r * K + k]) * q.scales[n]) / 2;
          if (mode === 'int8-compute') b += (aScale / 2) * Math.abs(dq[k * N + n]);
        }
        out[r * N + n] = b + 1e-5 * (1 + rowMax);
      }
    }
    return out;
  }

  for (const mode of ['int8-compute', 'int8-storage'] as const) {
    it(`${mode}: the quantized MatMul's output in ORT-web stays within the rounding bound of fp32`, async () => {
      const reference = await run(linear(), x, xDims, 'y');
      const { model: quantized, report } = quantizeMatMulWeights(linear(), mode);
      const actual = await run(quantized, x, xDims, 'y');
      const limit = bound(mode);
      let worst = 0;
      for (let i = 0; i < reference.length; i++) {
        expect(Math.abs(actual[i] - reference[i])).toBeLessThanOrEqual(limit[i]);
        worst = Math.max(worst, Math.abs(actual[i] - reference[i]));
      }
      // The int8 result is not simply the fp32 one: quantization happened.
      expect(worst).toBeGreaterThan(0);
      expect(report).toMatchObject({ tensors: 1, bytesBefore: K * N * 4, bytesAfter: K * N + N * 4 });
      const q = quantizePerColumn(w, K, N);
      expect(report.maxAbsError).toBeLessThanOrEqual(Math.max(...q.scales) / 2 + 1e-9);
    });
  }

  it('int8-compute: quantizes a shared activation once, per row, and stores the weights as int8', () => {
    const w2 = pseudoRandom(5, K * N);
    const m = model(
      [
        makeNode('MatMul', ['x', 'w'], ['q']),
        makeNode('MatMul', ['x', 'w2'], ['k']),
        makeNode('Add', ['q', 'k'], ['y']),
      ],
      [float32Tensor('w', [K, N], w), float32Tensor('w2', [K, N], w2)],
      xDims,
      'y',
    );
    const { model: out } = quantizeMatMulWeights(m, 'int8-compute');
    const nodes = out.graph!.node as NodeProto[];
    const ops = nodes.map((n) => n.opType);
    expect(ops.filter((o) => o === 'QuantizeLinear')).toHaveLength(1);
    expect(ops.filter((o) => o === 'MatMulInteger')).toHaveLength(2);
    expect(ops).not.toContain('MatMul');
    // No per-tensor (per-batch) activation scale.
    expect(ops).not.toContain('DynamicQuantizeLinear');
    const reduce = nodes.find((n) => n.opType === 'ReduceMax')!;
    expect(reduce.input[0]).toBe(nodes.find((n) => n.opType === 'Abs' && n.input[0] === 'x')!.output[0]);
    expect(reduce.attribute.find((a) => a.name === 'axes')?.ints?.map(Number)).toEqual([-1]);
    const types = (out.graph!.initializer as TensorProto[]).map((t) => DataType[t.dataType]);
    expect(types.filter((t) => t === 'INT8')).toHaveLength(2);
    expect((out.graph!.initializer as TensorProto[]).some((t) => t.name === 'w' || t.name === 'w2')).toBe(false);
  });

  it('int8-compute: each row of the output is the same whether computed alone or in a batch with a far larger row', async () => {
    // Row 0 is 1000x the others: with one activation scale per batch, the small rows would round to a few steps.
    const rows = 4;
    const batch = pseudoRandom(21, rows * K, 0.01);
    for (let k = 0; k < K; k++) batch[k] *= 1000;
    const dims = [rows, K];
    const lin = () =>
      model(
        [makeNode('MatMul', ['x', 'w'], ['h']), makeNode('Add', ['h', 'b'], ['y'])],
        [float32Tensor('w', [K, N], w), float32Tensor('b', [N], bias)],
        ['rows', K],
        'y',
      );
    const { model: quantized } = quantizeMatMulWeights(lin(), 'int8-compute');
    const together = await run(quantized, batch, dims, 'y');
    const reference = await run(lin(), batch, dims, 'y');
    const limit = bound('int8-compute', batch, rows);
    for (let r = 0; r < rows; r++) {
      const alone = await run(quantized, batch.slice(r * K, (r + 1) * K), [1, K], 'y');
      expect(Array.from(together.subarray(r * N, (r + 1) * N))).toEqual(Array.from(alone));
      for (let n = 0; n < N; n++)
        expect(Math.abs(together[r * N + n] - reference[r * N + n])).toBeLessThanOrEqual(limit[r * N + n]);
    }
  });

  it('int8-compute: an all-zero row gives the bias, not NaN', async () => {
    const zeros = new Float32Array(2 * K);
    zeros.set(pseudoRandom(9, K), K);
    const m = model(
      [makeNode('MatMul', ['x', 'w'], ['h']), makeNode('Add', ['h', 'b'], ['y'])],
      [float32Tensor('w', [K, N], w), float32Tensor('b', [N], bias)],
      [1, 2, K],
      'y',
    );
    const { model: quantized } = quantizeMatMulWeights(m, 'int8-compute');
    const y = await run(quantized, zeros, [1, 2, K], 'y');
    expect(Array.from(y.subarray(0, N))).toEqual(Array.from(bias));
    expect(y.every(Number.isFinite)).toBe(true);
  });

  it('int8-storage: dequantizes per column (axis 1) at opset 13+ and keeps the bias in fp32', () => {
    const { model: out } = quantizeMatMulWeights(linear(), 'int8-storage');
    const dq = (out.graph!.node as NodeProto[]).find((n) => n.opType === 'DequantizeLinear')!;
    expect(dq.attribute.find((a) => a.name === 'axis')?.i).toBe(1);
    const b = initializerMap(out.graph as GraphProto).get('b')!;
    expect(b.dataType).toBe(DataType.FLOAT);
    expect(readFloat32(b)).toEqual(bias);
  });

  it('int8-storage at opset 12 (no per-axis DequantizeLinear) keeps the opset and stays within the bound', async () => {
    const reference = await run(linear(12), x, xDims, 'y');
    const { model: out } = quantizeMatMulWeights(linear(12), 'int8-storage');
    expect(defaultOpset(out)).toBe(12);
    const actual = await run(out, x, xDims, 'y');
    const limit = bound('int8-storage');
    for (let i = 0; i < reference.length; i++) expect(Math.abs(actual[i] - reference[i])).toBeLessThanOrEqual(limit[i]);
  });

  for (const mode of ['int8-compute', 'int8-storage'] as const) {
    it(`${mode}: a Gemm with transB, alpha, beta and C matches fp32 within the bound`, async () => {
      // Gemm B stored [N, K] (transB = 1), as torch exports nn.Linear when it chooses Gemm.
      const wt = new Float32Array(N * K);
      for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) wt[n * K + k] = w[k * N + n];
      const gemm = () =>
        model(
          [makeNode('Gemm', ['x', 'wt', 'c'], ['y'], { transB: 1, alpha: 0.5, beta: { float: 2 } })],
          [float32Tensor('wt', [N, K], wt), float32Tensor('c', [N], bias)],
          [ROWS, K],
          'y',
        );
      const reference = await run(gemm(), x, [ROWS, K], 'y');
      const { model: out } = quantizeMatMulWeights(gemm(), mode);
      expect((out.graph!.node as NodeProto[]).map((n) => n.opType)).not.toContain('Gemm');
      const actual = await run(out, x, [ROWS, K], 'y');
      const limit = bound(mode);
      for (let i = 0; i < reference.length; i++)
        expect(Math.abs(actual[i] - reference[i])).toBeLessThanOrEqual(0.5 * limit[i] + 1e-5);
    });
  }

  it('refuses a graph with no constant-weight MatMul, and a Gemm with transA', () => {
    const noWeights = model([makeNode('MatMul', ['x', 'x'], ['y'])], [], [K, K], 'y');
    expect(() => quantizeMatMulWeights(noWeights, 'int8-compute')).toThrow(PackError);
    expect(() => quantizeMatMulWeights(noWeights, 'int8-compute')).toThrow(
      /no MatMul or Gemm with a constant 2-D float32 weight/,
    );
    const transA = model(
      [makeNode('Gemm', ['x', 'w'], ['y'], { transA: 1 })],
      [float32Tensor('w', [K, N], w)],
      [K, ROWS],
      'y',
    );
    expect(() => quantizeMatMulWeights(transA, 'int8-storage')).toThrow(/transA=1/);
  });
});

describe('int8 passes on the tiny BERT fixture (pooled, normalised)', () => {
  const VOCAB = 30522;
  const BATCH = 4;
  const SEQ = 12;
  /** [CLS] random word pieces [SEP] then padding, different lengths per row. */
  const lengths = [12, 9, 5, 3];
  const ids = lengths.flatMap((len, b) =>
    Array.from({ length: SEQ }, (_, s) =>
      s === 0 ? 101 : s === len - 1 ? 102 : s < len ? 1000 + ((b * 7919 + s * 104729) % (VOCAB - 1000)) : 0,
    ),
  );
  const mask = lengths.flatMap((len) => Array.from({ length: SEQ }, (_, s) => (s < len ? 1 : 0)));

  async function sentenceEmbeddings(m: ModelProto, tokenTypeIds: boolean): Promise<Float32Array[]> {
    const session = await createWasmSession(encodeOnnxModel(m));
    const int64 = (values: number[]) => new ort.Tensor('int64', BigInt64Array.from(values, BigInt), [BATCH, SEQ]);
    const feeds: Record<string, ort.Tensor> = { input_ids: int64(ids), attention_mask: int64(mask) };
    if (tokenTypeIds) feeds.token_type_ids = int64(new Array(BATCH * SEQ).fill(0));
    const out = (await session.run(feeds))[SENTENCE_EMBEDDING_OUTPUT].data as Float32Array;
    await session.release();
    const dim = out.length / BATCH;
    return Array.from({ length: BATCH }, (_, b) => out.slice(b * dim, (b + 1) * dim));
  }

  const pooled = (options: BertFixtureOptions) =>
    appendPooling(buildBertModel(options, VOCAB), {
      pooling: 'mean',
      normalize: true,
      hiddenOutput: 'last_hidden_state',
    });

  const variants: [string, BertFixtureOptions][] = [
    ['opset 17 with token_type_ids', FIXTURE_PRESETS.tiny],
    [
      'opset 14 (decomposed LayerNorm) without token_type_ids',
      { ...FIXTURE_PRESETS.tiny, opset: 14, tokenTypeIds: false },
    ],
  ];
  for (const [label, options] of variants) {
    for (const mode of ['int8-compute', 'int8-storage'] as const) {
      it(`${label}, ${mode} + int8 embeddings: cosine to fp32 >= 0.99 for every sentence`, async () => {
        const reference = await sentenceEmbeddings(pooled(options), options.tokenTypeIds);
        const m = pooled(options);
        const gather = (m.graph!.node as NodeProto[]).find((n) => n.opType === 'Gather' && n.input[1] === 'input_ids')!;
        quantizeEmbeddingTable(m, { initializer: gather.input[0], gatherNode: gather.name });
        const { report } = quantizeMatMulWeights(m, mode);
        expect(report.tensors).toBe(options.layers * 6);
        const actual = await sentenceEmbeddings(m, options.tokenTypeIds);
        const cosines = actual.map((v, b) => cosine(v, reference[b]));
        for (const c of cosines) expect(c).toBeGreaterThanOrEqual(0.99);
        // Quantization changed the numbers, and the remaining fp32 weights are only the small ones.
        expect(Math.min(...cosines)).toBeLessThan(1);
        const floatBytes = (m.graph!.initializer as TensorProto[])
          .filter((t) => t.dataType === DataType.FLOAT)
          .reduce((sum, t) => sum + t.rawData.length, 0);
        expect(floatBytes).toBeLessThan(options.maxPositions * options.hidden * 4 + VOCAB * 4 + 64 * 1024);
      });
    }
  }

  /** Runs rows of token ids as one batch padded to the longest row; returns one sentence embedding per row. */
  async function embedRows(
    session: ort.InferenceSession,
    rows: number[][],
    tokenTypeIds: boolean,
  ): Promise<Float32Array[]> {
    const length = Math.max(...rows.map((r) => r.length));
    const int64 = (f: (row: number[], i: number) => number) =>
      new ort.Tensor(
        'int64',
        BigInt64Array.from(rows.flatMap((row) => Array.from({ length }, (_, i) => BigInt(f(row, i))))),
        [rows.length, length],
      );
    const feeds: Record<string, ort.Tensor> = {
      input_ids: int64((row, i) => row[i] ?? 0),
      attention_mask: int64((row, i) => (i < row.length ? 1 : 0)),
    };
    if (tokenTypeIds) feeds.token_type_ids = int64(() => 0);
    const out = (await session.run(feeds))[SENTENCE_EMBEDDING_OUTPUT].data as Float32Array;
    const dim = out.length / rows.length;
    return rows.map((_, b) => out.slice(b * dim, (b + 1) * dim));
  }

  it('int8-compute: texts of different lengths embed the same batched (padded) as one by one (cosine >= 0.9999)', async () => {
    const options = FIXTURE_PRESETS.tiny;
    const m = pooled(options);
    const gather = (m.graph!.node as NodeProto[]).find((n) => n.opType === 'Gather' && n.input[1] === 'input_ids')!;
    quantizeEmbeddingTable(m, { initializer: gather.input[0], gatherNode: gather.name });
    quantizeMatMulWeights(m, 'int8-compute');
    const session = await createWasmSession(encodeOnnxModel(m));
    // [CLS] word pieces [SEP], 3 to 30 tokens; the long rows pad the short ones 10x over in the batch.
    const rows = [30, 3, 17, 5, 24, 8].map((len, b) =>
      Array.from({ length: len }, (_, s) =>
        s === 0 ? 101 : s === len - 1 ? 102 : 1000 + ((b * 7919 + s * 104729) % (VOCAB - 1000)),
      ),
    );
    const batched = await embedRows(session, rows, options.tokenTypeIds);
    for (let b = 0; b < rows.length; b++) {
      const [alone] = await embedRows(session, [rows[b]], options.tokenTypeIds);
      const c = cosine(batched[b], alone);
      expect(c).toBeGreaterThanOrEqual(0.9999);
      // Per-row scales leave only fp32 rounding (~1e-10 here); one scale per batch gave 2e-6 to 5e-6 on this fixture.
      expect(1 - c).toBeLessThan(1e-7);
    }
    await session.release();
  });
});
