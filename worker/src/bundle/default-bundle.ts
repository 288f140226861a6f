/**
 * The bundles compiled into the full worker (index.ts; bundles/default and bundles/static-default, made by `npm run
 * build`): model.onnx and embeddings.bin through wrangler's Data rules (ArrayBuffers), the JSON files as modules; the
 * default bundle's manifest, tokenizer and encoder plan come from plan-default-bundle.ts, which the ORT-free entry
 * shares. Nothing is parsed or validated here at import time.
 *
 * `defaultBundle` is what the full worker serves: the transformer, with the static bundle as its first ranking stage
 * and the tiny cross-encoder fixture (bundles/reranker-fixture) as its reranker. (`BUNDLE=static-default npm start`
 * serves the static bundle alone through index-static.ts.)
 */
import model from '../../../bundles/default/model.onnx';
import type { COMPILED_BUNDLE_NAMES } from '../models/spec.js';
import { planDefaultBundle } from './plan-default-bundle.js';
import { rerankerFixtureBundle } from './reranker-fixture-bundle.js';
import type { BundleSource } from './source.js';
import { staticDefaultBundle } from './static-default-bundle.js';

export const defaultBundle: BundleSource = {
  ...planDefaultBundle,
  model: async () => new Uint8Array(model),
  reranker: rerankerFixtureBundle,
};

/** The compiled-in bundles by the name a MODELS source gives them (models/spec.ts's COMPILED_BUNDLE_NAMES). */
export const compiledBundles: Readonly<Record<(typeof COMPILED_BUNDLE_NAMES)[number], BundleSource>> = {
  default: defaultBundle,
  'static-default': staticDefaultBundle,
  'reranker-fixture': rerankerFixtureBundle,
};
