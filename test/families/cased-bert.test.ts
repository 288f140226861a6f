/**
 * Cased BERT end to end: `edge-embed fixture --preset cased-bert` (a cased WordPiece vocabulary, no lower-casing, no
 * accent stripping) keeps case through the packager's tokenizer reader, pruning and the worker: "Apple" and "apple"
 * are different pieces and different vectors, text whose tokenization uses only kept tokens keeps its pieces and
 * vectors, the int8 bundle stays within cosine 0.99 of the fp32 graph and /tokenize offsets slice the input back.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cosine } from '../../bundle-runtime/similarity.js';
import type { TokenWithOffsets } from '../../bundle-runtime/tokenizer.js';
import { bundleEmbedder, modelDirEmbedder } from '../../model-packager/src/eval/embedders.js';
import { packModel } from '../../model-packager/src/pack.js';
import { fixtureCli, workerOn } from './support.js';

const CORPUS = [
  'Apple sells apple pie in Paris.',
  'The Quick Brown Fox met the quick brown fox.',
  'NASA and the UN met in New York on Monday.',
  'Émile ate crème brûlée at the Café in São Paulo.',
  'McDonald and iPhone users prefer CamelCase names.',
  'Lanterns glow in the harbor while ships come home.',
];
// The cased vocabulary keeps ~3,000 single characters and their ## forms whatever the corpus.
const MAX_VOCAB = 4000;

let work: string;
const dir = (name: string) => join(work, name);
type TokenizerJson = {
  normalizer: Record<string, unknown> & { normalizers?: unknown[] };
  model: { vocab: Record<string, number> };
};
const readJson = async (path: string) => JSON.parse(await readFile(path, 'utf8'));

async function pack(name: string, quantization: 'int8-compute' | 'none'): Promise<string> {
  const out = dir(name);
  await packModel({
    modelDir: dir('cased'),
    outDir: out,
    corpus: [dir('corpus.txt')],
    maxVocab: MAX_VOCAB,
    quantization,
  });
  return out;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'family-cased-bert-'));
  await writeFile(dir('corpus.txt'), `${CORPUS.join('\n')}\n`);
  await fixtureCli([dir('cased'), '--preset', 'cased-bert']);
  await pack('int8', 'int8-compute');
  await pack('fp32-pruned', 'none');
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('cased BERT fixture (edge-embed fixture --preset cased-bert)', () => {
  it('neither lower-cases nor strips accents, and splits "Apple" and "apple" into different pieces', async () => {
    const json = (await readJson(join(dir('cased'), 'tokenizer.json'))) as TokenizerJson;
    expect(json.normalizer).toMatchObject({ type: 'BertNormalizer', lowercase: false, strip_accents: null });
    expect((await readJson(join(dir('cased'), 'tokenizer_config.json'))).do_lower_case).toBe(false);
    const tokenizer = new Tokenizer(json, {});
    const pieces = (text: string) => tokenizer.encode(text, { add_special_tokens: false }).tokens;
    expect(pieces('Apple apple')).toEqual(['Apple', 'apple']);
    // Uncased BERT reads "cafe" here; the cased one keeps the accent, spelt from pieces.
    expect(pieces('Café')).toEqual(['Caf', '##é']);
    expect(pieces('iPhone')).toEqual(['i', '##P', '##hone']);
    expect(tokenizer.encode('Apple').ids).toEqual([101, json.model.vocab.Apple, 102]);
  });
});

describe('cased BERT packed', () => {
  it('keeps case through the tokenizer the packer writes, and through the vocab.txt-only reader', async () => {
    const bundled = new Tokenizer(await readJson(join(dir('int8'), 'tokenizer.json')), {});
    const tokens = (t: Tokenizer, text: string) => t.encode(text, { add_special_tokens: false }).tokens;
    expect(tokens(bundled, 'Apple apple Café')).toEqual(['Apple', 'apple', 'Caf', '##é']);
    // An export with only vocab.txt and do_lower_case false must not get a lower-casing tokenizer either.
    const vocabOnly = dir('vocab-only');
    await fixtureCli([vocabOnly, '--preset', 'cased-bert']);
    await rm(join(vocabOnly, 'tokenizer.json'));
    await packModel({
      modelDir: vocabOnly,
      outDir: dir('vocab-only-bundle'),
      corpus: [dir('corpus.txt')],
      maxVocab: MAX_VOCAB,
    });
    const fromVocab = new Tokenizer(await readJson(join(dir('vocab-only-bundle'), 'tokenizer.json')), {});
    for (const text of CORPUS) expect(tokens(fromVocab, text), text).toEqual(tokens(bundled, text));
  });

  it('lower-cases first when sentence_bert_config.json says do_lower_case, as sentence-transformers does', async () => {
    const folder = dir('st-lowercase');
    await fixtureCli([folder, '--preset', 'cased-bert']);
    const stConfig = join(folder, 'sentence_bert_config.json');
    await writeFile(stConfig, JSON.stringify({ ...(await readJson(stConfig)), do_lower_case: true }));
    const out = dir('st-lowercase-bundle');
    await packModel({ modelDir: folder, outDir: out, corpus: [dir('corpus.txt')], maxVocab: MAX_VOCAB });
    const json = (await readJson(join(out, 'tokenizer.json'))) as TokenizerJson;
    expect(json.normalizer.normalizers).toEqual([
      { type: 'Lowercase' },
      expect.objectContaining({ type: 'BertNormalizer', lowercase: false }),
    ]);
    const pieces = new Tokenizer(json, {}).encode('Apple Café', { add_special_tokens: false }).tokens;
    // Lower-cased, accents kept (Python's str.lower()).
    expect(pieces).toEqual(['apple', 'caf', '##é']);
    const { post } = workerOn(out);
    const [upper, lower] = (await (await post('/embed', { inputs: ['Apple', 'apple'] })).json()) as number[][];
    expect(cosine(upper, lower)).toBeGreaterThan(0.9999);
    // The fp32 reference reads the folder the same way, so the packed vectors still match it.
    const reference = await modelDirEmbedder(folder);
    const [fromReference] = await reference.embed(['Apple']);
    await reference.close();
    expect(cosine(fromReference, upper)).toBeGreaterThan(0.99);
  });

  it('gives text whose tokenization uses only kept tokens the same pieces and the fp32 vectors', async () => {
    const original = new Tokenizer(await readJson(join(dir('cased'), 'tokenizer.json')), {});
    const json = (await readJson(join(dir('fp32-pruned'), 'tokenizer.json'))) as TokenizerJson;
    const pruned = new Tokenizer(json, {});
    const manifest = await readJson(join(dir('fp32-pruned'), 'manifest.json'));
    expect(manifest.vocabulary.after).toBeLessThanOrEqual(MAX_VOCAB);
    expect(manifest.vocabulary.before).toBeGreaterThan(50000);
    const words = CORPUS.join(' ').split(' ');
    const recombined = [0, 1, 2].map((k) => words.filter((_, i) => i % 3 === k).join(' '));
    const texts = [...CORPUS, ...recombined];
    for (const text of texts) {
      const before = original.encode(text).tokens;
      expect(
        before.every((token) => token in json.model.vocab),
        text,
      ).toBe(true);
      expect(pruned.encode(text).tokens, text).toEqual(before);
    }
    const reference = await modelDirEmbedder(dir('cased'));
    const packed = await bundleEmbedder(dir('fp32-pruned'));
    const [a, b] = [await reference.embed(texts), await packed.embed(texts)];
    await reference.close();
    await packed.close();
    a.forEach((vector, i) => {
      expect(cosine(vector, b[i]), texts[i]).toBeGreaterThan(0.99999);
    });
  });

  it('keeps cosine >= 0.99 to the fp32 graph in int8, and "Apple" and "apple" get different vectors', async () => {
    const reference = await modelDirEmbedder(dir('cased'));
    const packed = await bundleEmbedder(dir('int8'));
    const [a, b] = [await reference.embed(CORPUS), await packed.embed(CORPUS)];
    const [upper, lower] = await packed.embed(['Apple', 'apple']);
    await reference.close();
    await packed.close();
    expect(Math.min(...a.map((vector, i) => cosine(vector, b[i])))).toBeGreaterThanOrEqual(0.99);
    expect(cosine(upper, lower)).toBeLessThan(0.99);
  });

  it('is served by the worker with case-sensitive vectors and /tokenize offsets that slice the input', async () => {
    const { post } = workerOn(dir('int8'));
    const response = await post('/embed', { inputs: ['Apple', 'apple', 'Apple'] });
    expect(response.status).toBe(200);
    const [upper, lower, again] = (await response.json()) as number[][];
    expect(cosine(upper, again)).toBeGreaterThan(0.9999);
    expect(cosine(upper, lower)).toBeLessThan(0.99);

    for (const text of [...CORPUS, 'Émile  ÉCOLE — naïve Ünïcode 👍 東京']) {
      const [tokens] = (await (
        await post('/tokenize', { inputs: text, add_special_tokens: false })
      ).json()) as TokenWithOffsets[][];
      for (const token of tokens) {
        const slice = text.slice(token.start ?? 0, token.stop ?? 0);
        if (token.text === '[UNK]') expect(slice.trim(), text).not.toBe('');
        else expect(slice, JSON.stringify(token)).toBe(token.text.replace(/^##(?=.)/, ''));
      }
    }
  });
});
