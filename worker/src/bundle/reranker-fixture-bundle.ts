/// <reference path="./bin-module.d.ts" />
/**
 * The tiny cross-encoder fixture (bundles/reranker-fixture, made by `npm run build`: seeded random weights, so its
 * scores mean nothing), compiled into the worker so /rerank and /v1/rerank can be tried and tested locally: model.onnx
 * for ONNX Runtime, and its version-2 encoder plan (plan.json, plan.bin through wrangler's Data rule for *.bin) with the
 * query and document token-type rows, which the plan engine runs under ENGINE=auto or plan. A real reranker is packed
 * with `edge-embed pack` from a sequence-classification export.
 */
import manifest from '../../../bundles/reranker-fixture/manifest.json';
import model from '../../../bundles/reranker-fixture/model.onnx';
import planWeights from '../../../bundles/reranker-fixture/plan.bin';
import plan from '../../../bundles/reranker-fixture/plan.json';
import tokenizer from '../../../bundles/reranker-fixture/tokenizer.json';
import type { BundleSource } from './source.js';

export const rerankerFixtureBundle: BundleSource = {
  manifest: async () => manifest,
  tokenizer: async () => tokenizer as object,
  model: async () => new Uint8Array(model),
  planFiles: async () => ({ plan, weights: async () => new Uint8Array(planWeights) }),
};
