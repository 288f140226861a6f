/**
 * The encoder plan `npm run build` writes for bundles/reranker-fixture (the packed cross-encoder), run by the
 * TypeScript reference executor, against the same bundle's model.onnx run by ONNX Runtime (onnxruntime-web WASM in
 * Node, as the worker runs it): 300 (query, document) pairs, each token with its type (0 for the query, 1 for the
 * document), 30 of them with the document cut to the model's 128 tokens from either end, must get the graph's logits.
 *
 * The bounds come from measuring this bundle over these pairs (logits' standard deviation 2.3). The plan and
 * onnxruntime-node (native) agree on every pair to 3e-6; onnxruntime-web agrees with both to 2e-6 on 299 pairs and
 * differs by 0.05 on one, where a token's activation rounds the other way in its int8 quantization in the WASM build.
 * So: at most 1% of pairs may differ by more than 1e-3, and none by more than 0.1 (twice that one pair). A misread
 * plan misses both by far: with every token given type 0 (the document's token-type row dropped), 298 of the 300 pairs
 * differ by more than 1e-3, by up to 1.38 (median 0.29), and Spearman falls to 0.979.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseEncoderPlan, tokenTypeRows } from '../../bundle-format/encoder-plan.js';
import { parseCrossEncoderManifest } from '../../bundle-format/manifest.js';
import { CrossEncoder } from '../../bundle-runtime/cross-encoder.js';
import { Embedder } from '../../bundle-runtime/embedder.js';
import type { InferenceEngine } from '../../bundle-runtime/engine.js';
import { createOrtEngine } from '../../bundle-runtime/ort-engine.js';
import { createPlanReferenceEngine } from '../../bundle-runtime/plan-reference.js';
import { BundleTokenizer, type TokenizedPair } from '../../bundle-runtime/tokenizer.js';
import { spearman } from '../../model-packager/src/eval/correlation.js';
import { bertBaseUncasedVocab } from '../../model-packager/src/fixtures/bert-vocab.js';
import { mulberry32 } from '../../model-packager/src/fixtures/random.js';
import { samplePairs } from '../../model-packager/src/measure/pair-fidelity.js';
import { SAMPLE_SENTENCES } from '../../model-packager/src/measure/sample-sentences.js';
import { nodeOrt } from '../../model-packager/src/runtime/ort-node.js';
import { needs } from '../support/requirements.js';

const dir = join(import.meta.dirname, '../../bundles/reranker-fixture');
const MAX_LOGIT_DIFF = 0.1;
const CLOSE = 1e-3;

/** Seeded texts of whole vocabulary words, `min` to `max` words long. */
function randomTexts(seed: number, count: number, min: number, max: number): string[] {
  const words = bertBaseUncasedVocab().filter((word) => /^[a-z]{3,}$/.test(word));
  const next = mulberry32(seed);
  const pick = () => words[Math.floor(next() * words.length)];
  return Array.from({ length: count }, () =>
    Array.from({ length: min + Math.floor(next() * (max - min + 1)) }, pick).join(' '),
  );
}

/** 240 pairs of random words, 30 of everyday sentences, 30 whose document is cut (15 from each end). */
function pairs(tokenizer: BundleTokenizer, maxTokens: number): TokenizedPair[] {
  const queries = randomTexts(1, 270, 1, 8);
  const documents = randomTexts(2, 240, 3, 60);
  const short = documents.map((d, i) => tokenizer.encodePair(queries[i], d, maxTokens, 'right'));
  const everyday = samplePairs(SAMPLE_SENTENCES, 30).map(([q, d]) => tokenizer.encodePair(q, d, maxTokens, 'right'));
  const long = randomTexts(3, 30, 150, 300);
  const cut = long.map((d, i) => tokenizer.encodePair(queries[240 + i], d, maxTokens, i % 2 ? 'left' : 'right'));
  return [...short, ...everyday, ...cut];
}

describe.skipIf(needs(existsSync(join(dir, 'plan.json')), `${dir}/plan.json (npm run build)`))(
  'the encoder plan of bundles/reranker-fixture (a cross-encoder)',
  () => {
    it("scores 300 pairs, 30 cut to max tokens, with the graph's logits (Spearman >= 0.999, 99% within 1e-3, all within 0.1)", async () => {
      const manifest = parseCrossEncoderManifest(JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')));
      const weights = new Uint8Array(await readFile(join(dir, 'plan.bin')));
      const plan = parseEncoderPlan(JSON.parse(await readFile(join(dir, 'plan.json'), 'utf8')), weights.length);
      expect(tokenTypeRows(plan)).toBe(2);
      const tokenizer = new BundleTokenizer(JSON.parse(await readFile(join(dir, 'tokenizer.json'), 'utf8')), {});
      const spec = { maxTokens: manifest.maxTokens, activation: manifest.crossEncoder.activation };
      const scorer = (engine: InferenceEngine) => new CrossEncoder(new Embedder(engine), tokenizer, spec);
      const graph = scorer(await createOrtEngine(nodeOrt, await readFile(join(dir, 'model.onnx')), manifest));
      const planSide = scorer(createPlanReferenceEngine(plan, weights));
      try {
        const tokenized = pairs(tokenizer, manifest.maxTokens);
        expect(
          tokenized.filter((p) => p.ids.length === manifest.maxTokens && p.fullLength > p.ids.length),
        ).toHaveLength(30);
        const graphScores = await graph.rawScores(tokenized);
        const planScores = await planSide.rawScores(tokenized);
        const diffs = planScores.map((s, i) => Math.abs(s - graphScores[i]));
        expect(spearman(graphScores, planScores)).toBeGreaterThanOrEqual(0.999);
        expect(Math.max(...diffs)).toBeLessThanOrEqual(MAX_LOGIT_DIFF);
        expect(diffs.filter((d) => d > CLOSE).length).toBeLessThanOrEqual(3);
        expect(diffs.slice(270).filter((d) => d > CLOSE).length).toBeLessThanOrEqual(1);
        // A pair scored alone gets what it got in its micro-batch.
        expect(await planSide.rawScores([tokenized[280]])).toEqual([planScores[280]]);
      } finally {
        await graph.release();
      }
    });
  },
);
