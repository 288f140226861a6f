/**
 * Refuses a POST body larger than MAX_BODY_BYTES with 413 body_too_large, before any route reads it (Hono's
 * bodyLimit, with the limit read from the request's config).
 */
import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { ApiError } from '../../errors.js';
import type { AppEnv } from '../context.js';

/** @example app.use(postBodyLimit()) */
export function postBodyLimit(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (c.req.method !== 'POST') return next();
    const maxSize = c.get('config').maxBodyBytes;
    return bodyLimit({
      maxSize,
      onError: () => {
        throw new ApiError('body_too_large', `the request body is larger than the limit of ${maxSize} bytes`);
      },
    })(c, next);
  };
}
