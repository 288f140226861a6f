/**
 * A cap on the embedding requests in flight in one isolate (MAX_CONCURRENT_INFERENCES), as text-embeddings-inference's
 * --max-concurrent-requests: the model runs on one WASM thread, so requests past the cap would only queue behind it,
 * holding their inputs in memory. They are refused with 503 overloaded and Retry-After instead. Which requests count
 * is not a list of paths: a request takes its slot when it reaches the embedding core (`embed` in context.ts calls
 * `holdInferenceSlot`), whichever route it came by, and keeps it until it is answered. So /tokenize and /decode never
 * count, a request refused while its body is checked never holds a slot, and a new route that embeds is counted
 * without being listed. A request served from the cache holds its slot only briefly.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { ApiError } from '../../errors.js';
import type { AppEnv } from '../context.js';

/** In-flight embedding requests of this isolate, for /info and /metrics. */
export interface InferenceSlots {
  inFlight: number;
  refused: number;
}

/**
 * Takes the request's slot (once, however often it embeds), or refuses it with 503 overloaded past the cap. A request
 * that runs a model without `embed` calls this first. Without the middleware (a bare test app) it does nothing.
 * @example holdInferenceSlot(c); const result = await embedInputs(...)
 */
export function holdInferenceSlot(c: Context<AppEnv>): void {
  c.get('holdInferenceSlot')?.();
}

/**
 * @example const slots = { inFlight: 0, refused: 0 }; app.use(inferenceSlots(slots))
 */
export function inferenceSlots(slots: InferenceSlots): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    let held = false;
    c.set('holdInferenceSlot', () => {
      if (held) return;
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
      held = true;
    });
    try {
      await next();
    } finally {
      if (held) slots.inFlight--;
    }
  };
}
