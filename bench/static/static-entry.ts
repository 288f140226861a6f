/**
 * A benchmark-only Workers entry for a static-only tenant: the worker's app around the compiled-in static bundle
 * (bundles/static-default) and nothing else. It imports neither worker/src/index.ts nor worker/src/bundle/default-bundle.ts,
 * because both pull in ONNX Runtime's wasm (index.ts through runtime/ort-workerd.ts) and the transformer's model.onnx
 * (default-bundle.ts) whatever EDGE_EMBED_BUNDLE selects. A static bundle never asks for an ORT session, so the runtime
 * here refuses. Plus the BENCH_CACHE = "off" switch (../compare/cache-switch.ts). Run through wrangler.static.toml.
 */
/// <reference path="../../worker/src/modules.d.ts" />

import type { OrtRuntime } from '../../bundle-runtime/ort-engine.js';
import { staticDefaultBundle } from '../../worker/src/bundle/static-default-bundle.js';
import { createApp } from '../../worker/src/http/app.js';
import { withCacheSwitch } from '../compare/cache-switch.js';

const noOrt: OrtRuntime = {
  get Tensor(): OrtRuntime['Tensor'] {
    throw new Error('this worker serves a static bundle only; it has no ONNX Runtime');
  },
  async createSession() {
    throw new Error('this worker serves a static bundle only; it has no ONNX Runtime');
  },
};

export default withCacheSwitch(createApp({ bundle: staticDefaultBundle, ort: noOrt }));
