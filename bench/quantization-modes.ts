/**
 * Which int8 lowering should `pack` use by default? Measures, in onnxruntime-web's WASM backend (one thread, as the
 * worker runs it), the fp32 model and both int8 modes, all with mean pooling + normalisation appended and the word
 * embeddings in int8 for the int8 modes:
 *   model bytes, session-create time, WASM heap after session creation and after inference,
 *   p50/mean latency and p50 CPU time for a batch of 8 sentences of ~30 tokens and for 1 sentence, mean/min cosine to fp32.
 * Each model is measured in its own child process: a WASM memory never shrinks, so heap figures of several sessions
 * in one process would mix.
 *
 *   npx tsx bench/quantization-modes.ts [--model <dir>] [--runs <n>] [--rounds <n>]
 *
 * <dir> holds model.onnx and tokenizer.json (default .fixtures/minilm, generated with FIXTURE_PRESETS.minilm if missing).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Tokenizer } from '@huggingface/tokenizers';
import { SENTENCE_EMBEDDING_OUTPUT } from '../bundle-format/manifest.js';
import { FIXTURE_PRESETS, writeBertFixture } from '../model-packager/src/fixtures/bert-fixture.js';
import type { ModelProto, NodeProto, TensorProto } from '../model-packager/src/onnx/proto.js';
import { readOnnxModel } from '../model-packager/src/onnx/read-model.js';
import { encodeOnnxModel } from '../model-packager/src/onnx/write-model.js';
import { appendPooling } from '../model-packager/src/passes/append-pooling.js';
import { quantizeEmbeddingTable } from '../model-packager/src/passes/quantize-embedding-table.js';
import { quantizeMatMulWeights } from '../model-packager/src/passes/quantize-matmul-weights.js';

const root = join(import.meta.dirname, '..');
const VARIANTS = ['fp32', 'int8-compute', 'int8-storage'] as const;
type Variant = (typeof VARIANTS)[number];

/** 26-34 word pieces each with [CLS]/[SEP], varied topics so the vectors differ. */
const SENTENCES = [
  'The committee postponed its decision on the new harbour bridge until engineers finish checking the foundations next spring, which frustrated local business owners.',
  'She reheated the leftover vegetable soup, added a handful of fresh basil and a little pepper, and ate it slowly by the open kitchen window.',
  'Our quarterly revenue grew eleven percent, mostly because customers in smaller cities renewed their subscriptions early and bought the premium support plan.',
  'A sudden thunderstorm flooded the lower platform of the central station, so the evening trains were diverted through the old northern tunnel instead.',
  'Researchers found that bees visiting urban gardens collect pollen from far more plant species than rural bees do, which may help them survive harsh winters.',
  'Please remember to unplug the heater before leaving the office tonight, because the cleaning staff reported a strange burning smell near the meeting room.',
  'The novel follows two sisters who inherit a failing vineyard in the hills and slowly learn to trust the neighbours they once feared and avoided.',
  'After updating the firmware last week, the office printer stopped recognising cartridges from other brands, which annoyed many users and slowed everyone down.',
  'Children at the village school planted forty young oak trees along the river to protect the muddy bank from further erosion during the autumn floods.',
  'The young striker scored twice in the second half, turning what looked like an easy defeat into a remarkable victory that the fans will remember for years.',
  'Doctors recommend walking for at least thirty minutes a day, even if the walk is split into several shorter parts spread across the morning and evening.',
  'The museum reopened its ancient coin collection after a careful restoration that took almost three years and required experts from four different countries.',
  'Engineers replaced the old copper cables with modern fibre, cutting the delay between the two data centres by half and lowering the monthly energy bill.',
  'His grandmother taught him to bake bread without a written recipe, judging the dough only by how it felt under her hands and how it smelled.',
  'The city council approved a plan to turn the abandoned rail yard into a public park with playgrounds, community gardens and a small outdoor theatre.',
  'Astronomers observed a faint comet passing close to Jupiter this month, and they expect it to become visible from Earth with simple binoculars in May.',
];
const BATCH = 8;

interface Measurement {
  variant: Variant;
  modelBytes: number;
  createMs: number;
  heapAfterCreate: number;
  heapAfterRuns: number;
  batchP50: number;
  batchMean: number;
  singleP50: number;
  singleMean: number;
  /** Process CPU time per run (p50): the child is single-threaded, so this is robust to other load on the machine. */
  batchCpuP50: number;
  singleCpuP50: number;
  /** Embeddings of every sentence (two batches of 8), for the cosine against fp32. */
  vectors: number[][];
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * p))];
};
const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

/** Child side: one model, one fresh WASM heap. */
async function measure(modelPath: string, inputsPath: string, runs: number, variant: Variant): Promise<Measurement> {
  const { createWasmSession, ort, wasmHeapBytes } = await import('../model-packager/src/runtime/ort-node.js');
  const { rows, tokenTypeIds } = JSON.parse(await readFile(inputsPath, 'utf8')) as {
    rows: number[][];
    tokenTypeIds: boolean;
  };
  const bytes = new Uint8Array(await readFile(modelPath));
  const started = performance.now();
  const session = await createWasmSession(bytes);
  const createMs = performance.now() - started;
  const heapAfterCreate = wasmHeapBytes();

  const feeds = (batch: number[][]) => {
    const length = Math.max(...batch.map((r) => r.length));
    const tensor = (f: (row: number[], i: number) => number) =>
      new ort.Tensor(
        'int64',
        BigInt64Array.from(batch.flatMap((row) => Array.from({ length }, (_, i) => BigInt(f(row, i))))),
        [batch.length, length],
      );
    const result: Record<string, InstanceType<typeof ort.Tensor>> = {
      input_ids: tensor((row, i) => row[i] ?? 0),
      attention_mask: tensor((row, i) => (i < row.length ? 1 : 0)),
    };
    if (tokenTypeIds) result.token_type_ids = tensor(() => 0);
    return result;
  };
  const timed = async (batch: number[][]) => {
    const input = feeds(batch);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const out = await session.run(input);
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    return { ms, cpuMs: (cpu.user + cpu.system) / 1000, out: out[SENTENCE_EMBEDDING_OUTPUT] };
  };

  const vectors: number[][] = [];
  for (let start = 0; start < rows.length; start += BATCH) {
    const { out } = await timed(rows.slice(start, start + BATCH));
    const data = out.data as Float32Array;
    const dim = out.dims[1];
    for (let i = 0; i < out.dims[0]; i++) vectors.push(Array.from(data.subarray(i * dim, (i + 1) * dim)));
  }
  const batch = rows.slice(0, BATCH);
  const batchTimes: number[] = [];
  const batchCpu: number[] = [];
  for (let i = 0; i < runs; i++) {
    const { ms, cpuMs } = await timed(batch);
    batchTimes.push(ms);
    batchCpu.push(cpuMs);
  }
  const singleTimes: number[] = [];
  const singleCpu: number[] = [];
  for (let i = 0; i < runs * 2; i++) {
    const { ms, cpuMs } = await timed([rows[i % rows.length]]);
    singleTimes.push(ms);
    singleCpu.push(cpuMs);
  }
  return {
    variant,
    modelBytes: bytes.length,
    createMs,
    heapAfterCreate,
    heapAfterRuns: wasmHeapBytes(),
    batchP50: percentile(batchTimes, 0.5),
    batchMean: mean(batchTimes),
    singleP50: percentile(singleTimes, 0.5),
    singleMean: mean(singleTimes),
    batchCpuP50: percentile(batchCpu, 0.5),
    singleCpuP50: percentile(singleCpu, 0.5),
    vectors,
  };
}

async function readModel(path: string): Promise<ModelProto> {
  const model = await readOnnxModel(path);
  // Node Buffers' slice() is a view, so raw_data decoded from a Buffer must be copied into plain Uint8Arrays before
  // tensor.ts reads it with Uint8Array.slice semantics.
  for (const tensor of model.graph!.initializer as TensorProto[]) {
    if (tensor.rawData?.length) tensor.rawData = new Uint8Array(tensor.rawData);
  }
  return model;
}

/** Parent side: build the three models, tokenize, measure each in a child process, print the table. */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string' },
      runs: { type: 'string', default: '10' },
      rounds: { type: 'string', default: '3' },
    },
  });
  const modelDir = resolve(values.model ?? join(root, '.fixtures/minilm'));
  if (!values.model && !existsSync(join(modelDir, 'model.onnx'))) {
    console.log(`generating the MiniLM-L6-sized fixture into ${relative(root, modelDir)} ...`);
    await writeBertFixture(modelDir, { ...FIXTURE_PRESETS.minilm, modelName: 'minilm-l6-fixture' });
  }
  const work = join(root, '.fixtures/quantization-bench');
  await mkdir(work, { recursive: true });

  const tokenizerJson = JSON.parse(await readFile(join(modelDir, 'tokenizer.json'), 'utf8'));
  const configPath = join(modelDir, 'tokenizer_config.json');
  const tokenizerConfig = existsSync(configPath) ? JSON.parse(await readFile(configPath, 'utf8')) : {};
  const tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
  const rows = SENTENCES.map((s) => tokenizer.encode(s).ids);

  let tokenTypeIds = false;
  for (const variant of VARIANTS) {
    const model = await readModel(join(modelDir, 'model.onnx'));
    tokenTypeIds = model.graph!.input!.some((i) => i.name === 'token_type_ids');
    if (variant !== 'fp32') {
      const gather = (model.graph!.node as NodeProto[]).find(
        (n) => n.opType === 'Gather' && n.input[1] === 'input_ids',
      );
      if (!gather) throw new Error('no Gather on input_ids: not a BERT-family graph');
      quantizeEmbeddingTable(model, { initializer: gather.input[0], gatherNode: gather.name });
      quantizeMatMulWeights(model, variant);
    }
    appendPooling(model, { pooling: 'mean', normalize: true, hiddenOutput: 'last_hidden_state' });
    await writeFile(join(work, `${variant}.onnx`), encodeOnnxModel(model));
  }
  const inputsPath = join(work, 'inputs.json');
  await writeFile(inputsPath, JSON.stringify({ rows, tokenTypeIds }));

  // Rounds interleave the modes, so load from other processes on the machine spreads over all of them.
  const rounds = Number(values.rounds);
  const byVariant = new Map<Variant, Measurement[]>(VARIANTS.map((v) => [v, []]));
  for (let round = 0; round < rounds; round++) {
    for (const variant of VARIANTS) {
      const child = spawnSync(
        process.execPath,
        [
          '--import',
          'tsx',
          import.meta.filename,
          '--measure',
          join(work, `${variant}.onnx`),
          '--inputs',
          inputsPath,
          '--runs',
          values.runs!,
          '--variant',
          variant,
        ],
        { cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
      );
      if (child.status !== 0) throw new Error(`measuring ${variant} failed:\n${child.stderr}`);
      byVariant.get(variant)!.push(JSON.parse(child.stdout.trim().split('\n').pop()!));
    }
  }
  const median = (xs: number[]) => percentile(xs, 0.5);
  const results: Measurement[] = VARIANTS.map((variant) => {
    const all = byVariant.get(variant)!;
    const pick = (key: Exclude<keyof Measurement, 'variant' | 'vectors'>) => median(all.map((m) => m[key]));
    return {
      ...all[0],
      createMs: pick('createMs'),
      heapAfterCreate: pick('heapAfterCreate'),
      heapAfterRuns: pick('heapAfterRuns'),
      batchP50: pick('batchP50'),
      batchMean: pick('batchMean'),
      singleP50: pick('singleP50'),
      singleMean: pick('singleMean'),
      batchCpuP50: pick('batchCpuP50'),
      singleCpuP50: pick('singleCpuP50'),
    };
  });

  const fp32 = results[0].vectors;
  const ortVersion = JSON.parse(
    await readFile(join(root, 'node_modules/onnxruntime-web/package.json'), 'utf8'),
  ).version;
  const cosine = (a: number[], b: number[]) =>
    a.reduce((s, x, i) => s + x * b[i], 0) /
    Math.sqrt(a.reduce((s, x) => s + x * x, 0) * b.reduce((s, x) => s + x * x, 0));
  const mb = (n: number) => (n / 1024 / 1024).toFixed(1);
  const ms = (n: number) => n.toFixed(1);
  const avgTokens = mean(rows.map((r) => r.length)).toFixed(1);
  console.log(
    `\nmodel: ${relative(root, modelDir) || modelDir}; ${SENTENCES.length} sentences, mean ${avgTokens} tokens; batch ${BATCH}; ${values.runs} timed runs per round (single: ${Number(values.runs) * 2}), median of ${rounds} interleaved rounds; onnxruntime-web ${ortVersion} WASM, 1 thread\n`,
  );
  console.log(
    '| mode | model MB | session create ms | WASM heap after create MB | WASM heap after runs MB | batch 8 p50 / mean ms | batch 8 CPU p50 ms | 1 sentence p50 / mean ms | 1 sentence CPU p50 ms | cosine vs fp32 mean / min |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    const cosines = r.vectors.map((v, i) => cosine(v, fp32[i]));
    console.log(
      `| ${r.variant} | ${mb(r.modelBytes)} | ${ms(r.createMs)} | ${mb(r.heapAfterCreate)} | ${mb(r.heapAfterRuns)} | ${ms(r.batchP50)} / ${ms(r.batchMean)} | ${ms(r.batchCpuP50)} | ${ms(r.singleP50)} / ${ms(r.singleMean)} | ${ms(r.singleCpuP50)} | ${mean(cosines).toFixed(5)} / ${Math.min(...cosines).toFixed(5)} |`,
    );
  }
}

const measureIndex = process.argv.indexOf('--measure');
if (measureIndex >= 0) {
  const arg = (name: string) => process.argv[process.argv.indexOf(name) + 1];
  const result = await measure(
    process.argv[measureIndex + 1],
    arg('--inputs'),
    Number(arg('--runs')),
    arg('--variant') as Variant,
  );
  console.log(JSON.stringify(result));
} else {
  await main();
}
