/**
 * The ONNX Runtime of a worker built without one (index-static.ts, index-plan.ts): a static bundle or an encoder plan
 * never asks for a session, and a bundle that does (say, a BUNDLE_HASH naming a transformer without a plan) gets a 503
 * saying why instead of a crash.
 */
import type { OrtRuntime } from '../../../bundle-runtime/ort-engine.js';
import { BundleUnavailableError } from '../bundle/source.js';

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
  'this worker is built without ONNX Runtime (worker/src/index-plan.ts): it runs encoder plans and static bundles; this bundle needs ONNX Runtime (no usable plan, or ENGINE=ort)',
);
