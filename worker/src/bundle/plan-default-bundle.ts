/// <reference path="./bin-module.d.ts" />
/**
 * The default bundle (bundles/default, made by `npm run build`) as the plan engine reads it: the manifest, the tokenizer
 * and the encoder plan (plan.bin through wrangler's Data rule for *.bin, an ArrayBuffer), with the static bundle as its
 * first ranking stage, and no model.onnx. The worker built without ONNX Runtime (index-plan.ts, the default entry)
 * compiles in this; the full worker adds model.onnx and the reranker fixture to it (default-bundle.ts).
 */
import manifest from '../../../bundles/default/manifest.json';
import planWeights from '../../../bundles/default/plan.bin';
import plan from '../../../bundles/default/plan.json';
import tokenizer from '../../../bundles/default/tokenizer.json';
import { WHERE_ORT_IS } from '../runtime/no-ort.js';
import { type BundleSource, BundleUnavailableError } from './source.js';
import { staticDefaultBundle } from './static-default-bundle.js';

/** @example createApp({ bundle: planDefaultBundle, ort: planOnlyOrt, planKernels: planKernels() }) */
export const planDefaultBundle: BundleSource = {
  manifest: async () => manifest,
  tokenizer: async () => tokenizer as object,
  model: async () => {
    throw new BundleUnavailableError(
      `this worker is built without ONNX Runtime and model.onnx (worker/src/index-plan.ts, the default entry): only the bundle's plan runs (ENGINE auto or plan). ${WHERE_ORT_IS}`,
    );
  },
  planFiles: async () => ({ plan, weights: async () => new Uint8Array(planWeights) }),
  staticCompanion: staticDefaultBundle,
};
