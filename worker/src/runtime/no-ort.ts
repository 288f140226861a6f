/**
 * The ONNX Runtime of a worker built without one (index-static.ts, index-plan.ts): a static bundle or an encoder plan
 * never asks for a session, and a bundle that does (say, a BUNDLE_HASH naming a transformer without a plan) gets a 503
 * saying why instead of a crash.
 */
import type { OrtRuntime } from '../../../bundle-runtime/ort-engine.js';
import { BundleUnavailableError } from '../bundle/source.js';

/** Where ONNX Runtime is, for the 503s of the entries built without it. */
export const WHERE_ORT_IS =
  'ONNX Runtime is in worker/src/index-kv.ts, which serves a bundle from KV (`npm run tenant -- add <name> --bundle <dir> --engine ort`), and locally in `ENGINE=ort npm start` (worker/src/index.ts, too big to deploy)';

/** An OrtRuntime whose every use is a BundleUnavailableError with this message. */
function refusingOrt(message: string): OrtRuntime {
  const refusal = () => new BundleUnavailableError(message);
  return {
    get Tensor(): OrtRuntime['Tensor'] {
      throw refusal();
    },
    async createSession() {
      throw refusal();
    },
  };
}

/** @example createApp({ bundle: staticDefaultBundle, ort: noOrt }) */
export const noOrt: OrtRuntime = refusingOrt(
  'this worker is built for static bundles only (worker/src/index-static.ts, no ONNX Runtime); the bundle is a transformer',
);

/** @example createApp({ bundle: planDefaultBundle, ort: planOnlyOrt, planKernels: planKernels() }) */
export const planOnlyOrt: OrtRuntime = refusingOrt(
  `this worker is built without ONNX Runtime (worker/src/index-plan.ts, the default entry, or index-kv-plan.ts): it runs encoder plans and static bundles; this bundle needs ONNX Runtime (no usable plan, or ENGINE=ort). ${WHERE_ORT_IS}`,
);
