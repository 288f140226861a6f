/**
 * The ONNX Runtime of a worker built without one (index-static.ts): a static bundle never asks for a session, and a
 * transformer bundle that does (say, a BUNDLE_HASH naming one) gets a 503 saying why instead of a crash.
 */
import type { OrtRuntime } from '../../../bundle-runtime/ort-engine.js';
import { BundleUnavailableError } from '../bundle/source.js';

const refusal = () =>
  new BundleUnavailableError(
    'this worker is built for static bundles only (worker/src/index-static.ts, no ONNX Runtime); the bundle is a transformer',
  );

/** @example createApp({ bundle: staticDefaultBundle, ort: noOrt }) */
export const noOrt: OrtRuntime = {
  get Tensor(): OrtRuntime['Tensor'] {
    throw refusal();
  },
  async createSession() {
    throw refusal();
  },
};
