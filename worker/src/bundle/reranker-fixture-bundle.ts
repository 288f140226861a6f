/**
 * The tiny cross-encoder fixture (bundles/reranker-fixture, made by `npm run build`: seeded random weights, so its
 * scores mean nothing), compiled into the worker so /rerank and /v1/rerank can be tried and tested locally. A real
 * reranker is packed with `edge-embed pack` from a sequence-classification export.
 */
import manifest from '../../../bundles/reranker-fixture/manifest.json';
import model from '../../../bundles/reranker-fixture/model.onnx';
import tokenizer from '../../../bundles/reranker-fixture/tokenizer.json';
import type { BundleSource } from './source.js';

export const rerankerFixtureBundle: BundleSource = {
  manifest: async () => manifest,
  tokenizer: async () => tokenizer as object,
  model: async () => new Uint8Array(model),
};
