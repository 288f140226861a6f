/**
 * Experiment (docs/performance.md, "Fusing the glue ops"): rewrites each int8-compute product of a bundle's graph,
 * MatMulInteger -> Cast -> Mul(row max) -> Mul(weight scales), into onnxruntime's contrib op
 * com.microsoft.MatMulIntegerToFloat (weight scales folded in) followed by one Mul(row max), and times both graphs in
 * onnxruntime-web WASM, one thread, sessions interleaved: one sequence of 12 tokens, and 32 x 100 tokens.
 *
 *   npx tsx bench/experiments/matmul-fusion.ts [bundles/minilm-fixture]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { consumerMap, makeNode } from '../../model-packager/src/onnx/graph.js';
import type { GraphProto, NodeProto } from '../../model-packager/src/onnx/proto.js';
import { decodeOnnxModel } from '../../model-packager/src/onnx/read-model.js';
import { float32Tensor } from '../../model-packager/src/onnx/tensor.js';
import { encodeOnnxModel } from '../../model-packager/src/onnx/write-model.js';
import { createWasmSession, ort } from '../../model-packager/src/runtime/ort-node.js';

const bundle = process.argv[2] ?? 'bundles/minilm-fixture';
const original = new Uint8Array(readFileSync(join(bundle, 'model.onnx')));

function fuse(bytes: Uint8Array): { bytes: Uint8Array; fused: number } {
  const model = decodeOnnxModel(bytes);
  const graph = model.graph as GraphProto;
  const consumers = consumerMap(graph);
  const only = (tensor: string, opType: string) => {
    const next = consumers.get(tensor) ?? [];
    if (next.length !== 1 || next[0].opType !== opType)
      throw new Error(`${tensor} does not feed exactly one ${opType}`);
    return next[0];
  };
  const replaced = new Map<NodeProto, NodeProto[]>();
  const removed = new Set<NodeProto>();
  graph.initializer.push(float32Tensor('experiment_unit_scale', [], new Float32Array([1])));
  for (const node of graph.node as NodeProto[]) {
    if (node.opType !== 'MatMulInteger') continue;
    const cast = only(node.output[0], 'Cast');
    const rowScale = only(cast.output[0], 'Mul');
    const weightScale = only(rowScale.output[0], 'Mul');
    const unscaled = `${node.output[0]}_to_float`;
    const matmul = makeNode(
      'MatMulIntegerToFloat',
      [node.input[0], node.input[1], 'experiment_unit_scale', weightScale.input[1], node.input[2]],
      [unscaled],
    );
    matmul.domain = 'com.microsoft';
    replaced.set(node, [matmul, makeNode('Mul', [unscaled, rowScale.input[1]], [weightScale.output[0]])]);
    for (const gone of [cast, rowScale, weightScale]) removed.add(gone);
  }
  graph.node = (graph.node as NodeProto[]).flatMap((node) => replaced.get(node) ?? (removed.has(node) ? [] : [node]));
  model.opsetImport.push({ domain: 'com.microsoft', version: 1 });
  return { bytes: encodeOnnxModel(model), fused: replaced.size };
}

const fused = fuse(original);
const sessions = [await createWasmSession(original), await createWasmSession(fused.bytes)];
console.log(`${bundle}: ${fused.fused} products fused; ms per run, median (onnxruntime-web WASM, 1 thread)`);
console.log('| input | as packed | fused | max abs difference |');
console.log('|---|---:|---:|---:|');
for (const [batch, length, runs] of [
  [1, 12, 60],
  [32, 100, 3],
]) {
  const feeds: Record<string, ort.Tensor> = {};
  for (const name of sessions[0].inputNames) {
    const value = (i: number) =>
      name === 'input_ids' ? BigInt(100 + ((i * 37) % 7000)) : name === 'attention_mask' ? 1n : 0n;
    feeds[name] = new ort.Tensor(
      'int64',
      BigInt64Array.from({ length: batch * length }, (_, i) => value(i)),
      [batch, length],
    );
  }
  const times: number[][] = [[], []];
  const outputs: Float32Array[] = [];
  for (let run = 0; run <= runs; run++) {
    for (const [s, session] of sessions.entries()) {
      const started = performance.now();
      const out = await session.run(feeds);
      if (run > 0) times[s].push(performance.now() - started);
      outputs[s] = out.sentence_embedding.data as Float32Array;
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1].toFixed(2);
  let difference = 0;
  for (let i = 0; i < outputs[0].length; i++)
    difference = Math.max(difference, Math.abs(outputs[0][i] - outputs[1][i]));
  console.log(
    `| ${batch} x ${length} tokens | ${median(times[0])} | ${median(times[1])} | ${difference.toExponential(1)} |`,
  );
}
