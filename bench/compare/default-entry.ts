/**
 * A benchmark-only Workers entry: the worker's app with its compiled-in default bundle (bundles/default, USE Lite), as
 * worker/src/index.ts serves it (both engines, chosen by the ENGINE var), plus the BENCH_CACHE = "off" switch
 * (cache-switch.ts) and bench:static's in-isolate throughput route (../static/isolate-bench.ts). Run through
 * bench/compare/wrangler.default.toml.
 */
/// <reference path="../../worker/src/modules.d.ts" />

import { defaultBundle } from '../../worker/src/bundle/default-bundle.js';
import { createApp } from '../../worker/src/http/app.js';
import { workerdRuntime } from '../../worker/src/runtime/workerd.js';
import { withIsolateBench } from '../static/isolate-bench.js';
import { withCacheSwitch } from './cache-switch.js';

export default withIsolateBench(withCacheSwitch(createApp({ bundle: defaultBundle, ...workerdRuntime })), {
  bundle: defaultBundle,
  runtime: workerdRuntime,
});
