/**
 * The ALBERT family end to end: `edge-embed fixture --preset albert` (4 layers reading one shared set of weights,
 * factorised 32-wide embeddings projected to 128) packs with one int8 copy of each shared weight, so adding layers
 * adds nodes but no weights; it stays within cosine 0.99 of the fp32 graph on in-corpus text and is served by the
 * worker app in Node.
 */
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cosine } from '../../bundle-runtime/similarity.js';
import { bundleEmbedder, modelDirEmbedder } from '../../model-packager/src/eval/embedders.js';
import { FIXTURE_PRESETS, writeBertFixture } from '../../model-packager/src/fixtures/bert-fixture.js';
import type { GraphProto, NodeProto } from '../../model-packager/src/onnx/proto.js';
import { readOnnxModel } from '../../model-packager/src/onnx/read-model.js';
import { packModel } from '../../model-packager/src/pack.js';
import { fixtureCli, workerOn } from './support.js';

const CORPUS = [
  'The quick brown fox jumps over the lazy dog.',
  'A river runs quietly past the old stone market.',
  'Lanterns glow in the harbor while ships come home.',
  'Copper signals travel along the meadow at night.',
  'She poured tea and talked about orbit mechanics.',
  'Children played football in the park until the sun went down.',
];
// ~2,000 tokens are kept whatever the corpus (every character with its ## form), so leave room for the corpus's.
const MAX_VOCAB = 3000;

let work: string;
const dir = (name: string) => join(work, name);

/** Packs a fixture folder into `<name>-bundle` and returns the bundle folder. */
async function pack(name: string, quantization: 'int8-compute' | 'none' = 'int8-compute'): Promise<string> {
  const out = dir(`${name}-${quantization}-bundle`);
  await packModel({ modelDir: dir(name), outDir: out, corpus: [dir('corpus.txt')], maxVocab: MAX_VOCAB, quantization });
  return out;
}

const modelBytes = async (bundle: string) => (await stat(join(bundle, 'model.onnx'))).size;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'family-albert-'));
  await writeFile(dir('corpus.txt'), `${CORPUS.join('\n')}\n`);
  await fixtureCli([dir('albert'), '--preset', 'albert']);
  await writeBertFixture(dir('albert-1'), { ...FIXTURE_PRESETS.albert, layers: 1 });
  await writeBertFixture(dir('bert-4'), { ...FIXTURE_PRESETS.albert, family: 'bert' });
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('ALBERT fixture (edge-embed fixture --preset albert)', () => {
  it('reads one set of layer weights from every layer, behind a 32-wide embedding projected to 128', async () => {
    const graph = (await readOnnxModel(join(dir('albert'), 'model.onnx'))).graph as GraphProto;
    const weights = (graph.node as NodeProto[])
      .filter((node) => node.opType === 'MatMul' && graph.initializer.some((t) => t.name === node.input[1]))
      .map((node) => node.input[1]);
    expect(weights.length).toBe(4 * 6 + 1);
    expect(new Set(weights).size).toBe(6 + 1);
    const table = graph.initializer.find((t) => t.name === 'embeddings.word_embeddings.weight');
    expect(table?.dims?.map(Number)).toEqual([30522, 32]);
  });
});

describe('ALBERT fixture packed', () => {
  it('stores each shared weight once: 3 more shared layers cost far less than one unshared layer', async () => {
    const [albert4, albert1, bert4] = await Promise.all([pack('albert'), pack('albert-1'), pack('bert-4')]);
    const shared = (await modelBytes(albert4)) - (await modelBytes(albert1));
    // One layer's int8 weights: q, k, v, output (128 x 128) and the feed-forward pair (128 x 512 each).
    const layerWeights = 4 * 128 * 128 + 2 * 128 * 512;
    expect(shared).toBeLessThan(layerWeights / 2);
    // The same shape without sharing carries all four layers' weights.
    expect((await modelBytes(bert4)) - (await modelBytes(albert4))).toBeGreaterThan(3 * layerWeights);
    const manifest = JSON.parse(await readFile(join(albert4, 'manifest.json'), 'utf8'));
    expect(manifest.fidelity.meanCosine).toBeGreaterThanOrEqual(0.99);
  });

  it('keeps cosine >= 0.99 to the fp32 graph on in-corpus text and is served by the worker with the same vectors', async () => {
    const bundle = dir('albert-int8-compute-bundle');
    const reference = await modelDirEmbedder(dir('albert'));
    const packed = await bundleEmbedder(bundle);
    const a = await reference.embed(CORPUS);
    const b = await packed.embed(CORPUS);
    await reference.close();
    await packed.close();
    const cosines = a.map((vector, i) => cosine(vector, b[i]));
    expect(Math.min(...cosines)).toBeGreaterThanOrEqual(0.99);
    expect(cosine(a[0], a[1])).toBeLessThan(0.95);

    const response = await workerOn(bundle).post('/embed', { inputs: CORPUS });
    expect(response.status).toBe(200);
    const served = (await response.json()) as number[][];
    served.forEach((vector, i) => {
      expect(cosine(vector, b[i]), CORPUS[i]).toBeGreaterThan(0.9999);
    });
  });
});
