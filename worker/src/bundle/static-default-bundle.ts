/// <reference path="./bin-module.d.ts" />
/**
 * The static bundle distilled from the default one (bundles/static-default, made by `npm run build`), compiled into the
 * worker: embeddings.bin through wrangler's default Data rule (an ArrayBuffer), the JSON files as modules.
 */
import embeddings from '../../../bundles/static-default/embeddings.bin';
import manifest from '../../../bundles/static-default/manifest.json';
import tokenizer from '../../../bundles/static-default/tokenizer.json';
import type { BundleSource } from './source.js';

export const staticDefaultBundle: BundleSource = {
  manifest: async () => manifest,
  tokenizer: async () => tokenizer as object,
  model: async () => new Uint8Array(embeddings),
};
