/**
 * A benchmark-only Workers entry for a static-only tenant: the app of the production static entry
 * (worker/src/index-static.ts: bundles/static-default, no ONNX Runtime) plus the BENCH_CACHE = "off" switch
 * (../compare/cache-switch.ts). Run through wrangler.static.toml.
 */
/// <reference path="../../worker/src/modules.d.ts" />

import { staticAppFor } from '../../worker/src/index-static.js';
import { withCacheSwitch } from '../compare/cache-switch.js';

export default withCacheSwitch(staticAppFor(undefined));
