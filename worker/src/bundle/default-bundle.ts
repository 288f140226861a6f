/**
 * The default bundle (bundles/default, made by `npm run build`), compiled into the worker: model.onnx through
 * wrangler's Data rule (an ArrayBuffer), the JSON files as modules. Nothing is parsed or validated here at import time.
 */
import manifest from '../../../bundles/default/manifest.json';
import model from '../../../bundles/default/model.onnx';
import tokenizer from '../../../bundles/default/tokenizer.json';
import type { BundleSource } from './source.js';

export const defaultBundle: BundleSource = {
  manifest: async () => manifest,
  tokenizer: async () => tokenizer as object,
  model: async () => new Uint8Array(model),
};
