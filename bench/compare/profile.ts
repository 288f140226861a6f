/**
 * Where a request's time goes, measured in Node on the worker's own embedding code (bundle-runtime) with the same
 * onnxruntime-web WASM build, one thread: tokenize, input tensors + session run + output slicing (the ORT engine), and
 * building + serialising the OpenAI response body. workerd's clock does not advance during CPU work, so Server-Timing
 * cannot split these; this harness can. HTTP + workerd overhead is the remainder against the worker's measured time.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseBundleManifest } from '../../bundle-format/manifest.js';
import { Embedder } from '../../bundle-runtime/embedder.js';
import { createOrtEngine, type OrtRuntime } from '../../bundle-runtime/ort-engine.js';
import { BundleTokenizer } from '../../bundle-runtime/tokenizer.js';
import { createWasmSession, ort } from '../../model-packager/src/runtime/ort-node.js';
import { openAiEmbeddingsBody } from '../../worker/src/http/wire/openai.js';

export interface StageProfile {
  texts: number;
  tokens: number;
  /** Milliseconds summed over all batches. */
  tokenizeMs: number;
  inferenceMs: number;
  /** Of inferenceMs: building the int64 input tensors the way the ORT engine does. */
  inputTensorsMs: number;
  /** openAiEmbeddingsBody + JSON.stringify, encoding_format float (the default) and base64. */
  serializeMs: number;
  serializeBase64Ms: number;
  /** tokenize + embedAll for one short sentence, per call (no HTTP): the worker's (a) minus this is HTTP + workerd. */
  singleMs: number[];
}

/**
 * Runs the batches through tokenize -> embedAll -> JSON body, timing each stage (after an untimed warm-up batch).
 * @example await profilePipeline('bundles/minilm-fixture', [['hello world']], ['hi'])
 */
export async function profilePipeline(
  bundleDir: string,
  batches: string[][],
  singles: string[],
  warmupBatch: string[] = [],
  limits = { maxBatchSize: 32, maxBatchTokens: 256 },
  /** Extra onnxruntime session options (experiments; the worker uses none). */
  sessionOptions: Parameters<typeof createWasmSession>[1] = {},
): Promise<StageProfile> {
  const manifest = parseBundleManifest(JSON.parse(readFileSync(join(bundleDir, 'manifest.json'), 'utf8')));
  const tokenizer = new BundleTokenizer(
    JSON.parse(readFileSync(join(bundleDir, 'tokenizer.json'), 'utf8')),
    manifest.tokenizerConfig,
  );
  const runtime: OrtRuntime = {
    createSession: (bytes) => createWasmSession(bytes, sessionOptions),
    Tensor: ort.Tensor as OrtRuntime['Tensor'],
  };
  const model = new Embedder(
    await createOrtEngine(runtime, new Uint8Array(readFileSync(join(bundleDir, 'model.onnx'))), manifest),
    limits,
  );
  await model.embedAll(
    [batches[0][0], ...warmupBatch].map((text) => tokenizer.encode(text, manifest.maxTokens, 'right').ids),
  );

  const profile: StageProfile = {
    texts: 0,
    tokens: 0,
    tokenizeMs: 0,
    inferenceMs: 0,
    inputTensorsMs: 0,
    serializeMs: 0,
    serializeBase64Ms: 0,
    singleMs: [],
  };
  for (const batch of batches) {
    let started = performance.now();
    const ids = batch.map((text) => tokenizer.encode(text, manifest.maxTokens, 'right').ids);
    profile.tokenizeMs += performance.now() - started;

    started = performance.now();
    const vectors = await model.embedAll(ids);
    profile.inferenceMs += performance.now() - started;

    // The input-tensor step alone, as the ORT engine builds it (Int32Array -> BigInt64Array.from).
    started = performance.now();
    const width = Math.max(...ids.map((row) => row.length));
    for (let input = 0; input < manifest.inputs.length; input++) {
      const values = new Int32Array(ids.length * width);
      for (const [r, row] of ids.entries()) values.set(row, r * width);
      BigInt64Array.from(values, (value) => BigInt(value));
    }
    profile.inputTensorsMs += performance.now() - started;

    started = performance.now();
    JSON.stringify(openAiEmbeddingsBody(vectors, 'float', manifest.modelName, 0));
    profile.serializeMs += performance.now() - started;
    started = performance.now();
    JSON.stringify(openAiEmbeddingsBody(vectors, 'base64', manifest.modelName, 0));
    profile.serializeBase64Ms += performance.now() - started;
    profile.texts += batch.length;
    profile.tokens += ids.reduce((sum, row) => sum + row.length, 0);
  }
  for (const text of singles) {
    const started = performance.now();
    await model.embedAll([tokenizer.encode(text, manifest.maxTokens, 'right').ids]);
    profile.singleMs.push(performance.now() - started);
  }
  return profile;
}
