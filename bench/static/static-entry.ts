/**
 * A benchmark-only Workers entry for a static-only tenant: the app of the production static entry
 * (worker/src/index-static.ts: bundles/static-default, no ONNX Runtime) plus the BENCH_CACHE = "off" switch
 * (../compare/cache-switch.ts) and the in-isolate throughput route (isolate-bench.ts). Run through wrangler.static.toml.
 */
/// <reference path="../../worker/src/modules.d.ts" />

import { staticDefaultBundle } from '../../worker/src/bundle/static-default-bundle.js';
import { staticAppFor } from '../../worker/src/index-static.js';
import { noOrt } from '../../worker/src/runtime/no-ort.js';
import { withCacheSwitch } from '../compare/cache-switch.js';
import { withIsolateBench } from './isolate-bench.js';

export default withIsolateBench(withCacheSwitch(staticAppFor(undefined)), {
  bundle: staticDefaultBundle,
  runtime: { ort: noOrt },
});
