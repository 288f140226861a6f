/**
 * Experiment (docs/performance.md, "A warm-up inference at model load"): how one-sentence latency behaves right after
 * the model loads, on the MiniLM-sized bundle, cache off.
 *
 *   npx tsx bench/experiments/fresh-isolate.ts --runtime node [--warm-up-tokens 32]
 *     the worker's pipeline in Node on a new session; optionally one untimed run over that many tokens first.
 *   npx tsx bench/experiments/fresh-isolate.ts --runtime workerd [--idle-ms 10000]
 *     the worker in workerd (Miniflare, as bench:compare serves it); optionally idle that long after the first request.
 *
 * Prints each of 40 one-sentence calls in ms, then their p50 and that of the last 10.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseBundleManifest } from '../../bundle-format/manifest.js';
import { Embedder } from '../../bundle-runtime/embedder.js';
import { createOrtEngine, type OrtRuntime } from '../../bundle-runtime/ort-engine.js';
import { BundleTokenizer } from '../../bundle-runtime/tokenizer.js';
import { createWasmSession, ort } from '../../model-packager/src/runtime/ort-node.js';
import { shortSentences } from '../compare/texts.js';
import { startWorker } from '../compare/workerd.js';

const root = join(import.meta.dirname, '../..');
const { values } = parseArgs({
  options: {
    runtime: { type: 'string', default: 'workerd' },
    'warm-up-tokens': { type: 'string', default: '0' },
    'idle-ms': { type: 'string', default: '0' },
  },
});
const singles = shortSentences(40, 7);
const bundle = join(root, 'bundles/minilm-fixture');

async function inNode(warmUpTokens: number): Promise<number[]> {
  const manifest = parseBundleManifest(JSON.parse(readFileSync(join(bundle, 'manifest.json'), 'utf8')));
  const tokenizer = new BundleTokenizer(
    JSON.parse(readFileSync(join(bundle, 'tokenizer.json'), 'utf8')),
    manifest.tokenizerConfig,
  );
  const runtime: OrtRuntime = {
    createSession: (bytes) => createWasmSession(bytes),
    Tensor: ort.Tensor as OrtRuntime['Tensor'],
  };
  const model = new Embedder(
    await createOrtEngine(runtime, new Uint8Array(readFileSync(join(bundle, 'model.onnx'))), manifest),
  );
  const embed = (text: string) => model.embedAll([tokenizer.encode(text, manifest.maxTokens, 'right').ids]);
  await embed('cold start');
  if (warmUpTokens > 0) {
    const words = singles.join(' ');
    await model.embedAll([tokenizer.encode(words, warmUpTokens, 'right').ids]);
  }
  const ms: number[] = [];
  for (const text of singles) {
    const started = performance.now();
    await embed(text);
    ms.push(performance.now() - started);
  }
  return ms;
}

async function inWorkerd(idleMs: number): Promise<number[]> {
  const persistTo = mkdtempSync(join(tmpdir(), 'edge-embed-fresh-'));
  const worker = await startWorker({
    config: join(root, 'bench/compare/wrangler.minilm.toml'),
    vars: { BENCH_CACHE: 'off' },
    persistTo,
  });
  const post = async (input: string) => {
    const started = performance.now();
    const response = await fetch(`${worker.url}/v1/embeddings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input }),
    });
    await response.text();
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return performance.now() - started;
  };
  try {
    await post('cold start');
    await new Promise((resolve) => setTimeout(resolve, idleMs));
    const ms: number[] = [];
    for (const text of singles) ms.push(await post(text));
    return ms;
  } finally {
    await worker.stop();
    rmSync(persistTo, { recursive: true, force: true });
  }
}

const ms =
  values.runtime === 'node'
    ? await inNode(Number(values['warm-up-tokens']))
    : await inWorkerd(Number(values['idle-ms']));
const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1].toFixed(1);
console.log(
  `${values.runtime}, warm-up tokens ${values['warm-up-tokens']}, idle ${values['idle-ms']} ms after the first request`,
);
console.log(ms.map((x) => x.toFixed(0)).join(' '));
console.log(`p50 of all ${ms.length}: ${p50(ms)} ms; p50 of the last 10: ${p50(ms.slice(-10))} ms`);
