/**
 * A cap on the embedding requests in flight in one isolate (MAX_CONCURRENT_INFERENCES), as text-embeddings-inference's
 * --max-concurrent-requests: the model runs on one WASM thread, so requests past the cap would only queue behind it,
 * holding their bodies and inputs in memory. They are refused with 503 overloaded and Retry-After instead. Counted are
 * the POST routes that may run the model (a request served from the cache holds its slot only briefly).
 */
import type { MiddlewareHandler } from 'hono';
import { ApiError } from '../../errors.js';
import type { AppEnv } from '../context.js';

/** The routes that may run the model (with TEI's aliases /, /invocations and /embeddings); /tokenize never does. */
export const INFERENCE_PATHS: ReadonlySet<string> = new Set([
  '/v1/embeddings',
  '/embeddings',
  '/embed',
  '/',
  '/invocations',
  '/similarity',
  '/v1/rank',
]);

/** In-flight embedding requests of this isolate, for /info and /metrics. */
export interface InferenceSlots {
  inFlight: number;
  refused: number;
}

/**
 * @example const slots = { inFlight: 0, refused: 0 }; app.use(inferenceSlots(slots))
 */
export function inferenceSlots(slots: InferenceSlots): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (c.req.method !== 'POST' || !INFERENCE_PATHS.has(c.req.path)) return next();
    const { maxConcurrentInferences } = c.get('config');
    if (slots.inFlight >= maxConcurrentInferences) {
      slots.refused++;
      throw new ApiError(
        'overloaded',
        `the model is busy: ${maxConcurrentInferences} requests are already in flight in this instance; retry shortly`,
        // A slot frees as soon as one request's inference ends: a second is a fair wait.
        { retryAfterSeconds: 1 },
      );
    }
    slots.inFlight++;
    try {
      await next();
    } finally {
      slots.inFlight--;
    }
  };
}
