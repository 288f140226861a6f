/**
 * Refuses a POST whose body is not declared as UTF-8 JSON with 415 unsupported_media_type, as text-embeddings-inference
 * does: every POST route reads a JSON body, and a form, a text/plain body or another charset would otherwise be parsed
 * as if it were one.
 */
import type { MiddlewareHandler } from 'hono';
import { ApiError } from '../../errors.js';
import type { AppEnv } from '../context.js';

/**
 * True for `application/json` (or a `+json` type) with no charset or a UTF-8 one.
 * @example isJsonContentType('application/json; charset=utf-8') // true
 */
export function isJsonContentType(header: string | undefined): boolean {
  if (header === undefined) return false;
  const [mediaType, ...parameters] = header.split(';').map((part) => part.trim().toLowerCase());
  if (mediaType !== 'application/json' && !/^application\/[a-z0-9.+-]+\+json$/.test(mediaType)) return false;
  const charset = parameters.find((parameter) => parameter.startsWith('charset='))?.slice('charset='.length);
  return charset === undefined || ['utf-8', 'utf8', '"utf-8"'].includes(charset);
}

/** @example app.use(jsonContentType()) */
export function jsonContentType(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (c.req.method !== 'POST') return next();
    const header = c.req.header('content-type');
    if (!isJsonContentType(header)) {
      const got = header === undefined ? 'no Content-Type' : `Content-Type "${header}"`;
      throw new ApiError(
        'unsupported_media_type',
        `the request body must be JSON: send "Content-Type: application/json" (got ${got})`,
      );
    }
    return next();
  };
}
