/**
 * A benchmark-only Workers entry: the worker's own app (worker/src/http/app.ts) and workerd engines (the encoder plan and
 * ORT, chosen by the ENGINE var), serving the packed MiniLM-sized fixture (bundles/minilm-fixture) instead of the
 * compiled-in default bundle; BENCH_CACHE = "off" turns the cache off (cache-switch.ts). Run by bench/compare.ts through
 * bench/compare/wrangler.minilm.toml; worker/src is unchanged.
 */
/// <reference path="../../worker/src/modules.d.ts" />
/// <reference path="../../worker/src/bundle/bin-module.d.ts" />
import manifest from '../../bundles/minilm-fixture/manifest.json';
import model from '../../bundles/minilm-fixture/model.onnx';
import planWeights from '../../bundles/minilm-fixture/plan.bin';
import plan from '../../bundles/minilm-fixture/plan.json';
import tokenizer from '../../bundles/minilm-fixture/tokenizer.json';
import type { BundleSource } from '../../worker/src/bundle/source.js';
import { createApp } from '../../worker/src/http/app.js';
import { workerdRuntime } from '../../worker/src/runtime/workerd.js';
import { withCacheSwitch } from './cache-switch.js';

const minilmBundle: BundleSource = {
  manifest: async () => manifest,
  tokenizer: async () => tokenizer as object,
  model: async () => new Uint8Array(model),
  planFiles: async () => ({ plan, weights: async () => new Uint8Array(planWeights) }),
};

export default withCacheSwitch(createApp({ bundle: minilmBundle, ...workerdRuntime }));
