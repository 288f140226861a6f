/**
 * The one-layer ONNX models ORT runs in the benchmark, written with the packager's ONNX helpers:
 * - matmul-integer: MatMulInteger(A uint8 [M, K], W int8 [K, N], zero point 128) -> int32, the op our graphs spend
 *   most of their time in;
 * - full: an fp32 MatMul lowered by the packager's own int8-compute pass, i.e. per-token quantization (Abs,
 *   ReduceMax, Max, Div, Mul, QuantizeLinear) + MatMulInteger + Cast + two Muls, what a packed graph runs per layer;
 * - overhead: matmul-integer with K = N = 8, ORT's fixed cost per session.run at a given M.
 */

import { makeNode } from '../../model-packager/src/onnx/graph.js';
import { DataType, type IGraphProto, type ModelProto, onnx } from '../../model-packager/src/onnx/proto.js';
import { float32Tensor, int8Tensor, uint8Tensor } from '../../model-packager/src/onnx/tensor.js';
import { encodeOnnxModel } from '../../model-packager/src/onnx/write-model.js';
import { quantizeMatMulWeights } from '../../model-packager/src/passes/quantize-matmul-weights.js';

function valueInfo(name: string, elemType: number, dims: (string | number)[]) {
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

function model(graph: IGraphProto): ModelProto {
  return onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'edge-embed bench:gemm',
    opsetImport: [{ domain: '', version: 17 }],
    graph: onnx.GraphProto.create(graph),
  });
}

export function matMulIntegerModel(w: Int8Array, k: number, n: number): Uint8Array {
  return encodeOnnxModel(
    model({
      name: 'matmul_integer',
      node: [makeNode('MatMulInteger', ['a', 'w', 'a_zero_point'], ['y'])],
      initializer: [int8Tensor('w', [k, n], w), uint8Tensor('a_zero_point', [], new Uint8Array([128]))],
      input: [valueInfo('a', DataType.UINT8, ['m', k])],
      output: [valueInfo('y', DataType.INT32, ['m', n])],
    }),
  );
}

export function fullLayerModel(w: Float32Array, k: number, n: number): Uint8Array {
  const fp32 = model({
    name: 'linear',
    node: [makeNode('MatMul', ['x', 'w'], ['y'])],
    initializer: [float32Tensor('w', [k, n], w)],
    input: [valueInfo('x', DataType.FLOAT, ['m', k])],
    output: [valueInfo('y', DataType.FLOAT, ['m', n])],
  });
  return encodeOnnxModel(quantizeMatMulWeights(fp32, 'int8-compute').model);
}
