/**
 * CORS for browsers calling the API from other origins (text-embeddings-inference's --cors-allow-origin), with Hono's
 * cors middleware, the origins read from the request's config (CORS_ALLOW_ORIGINS). Off by default. A request from an
 * origin not in the list passes through untouched: no CORS header at all, so the browser keeps the answer from the page.
 * It runs before the API key check, because a browser's preflight carries no Authorization header.
 */
import type { MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';
import type { AppEnv } from '../context.js';

/** Headers a page may read from an answer: the cache counts, timings, truncation and Retry-After. */
const EXPOSED_HEADERS = ['x-cache-hits', 'x-cache-misses', 'x-truncated-inputs', 'server-timing', 'retry-after'];

/**
 * True when CORS_ALLOW_ORIGINS lets this Origin in.
 * @example isAllowedOrigin('https://a.example', ['https://a.example']) // true
 */
export function isAllowedOrigin(origin: string | undefined, allowed: readonly string[]): boolean {
  return origin !== undefined && (allowed.includes('*') || allowed.includes(origin));
}

/** @example app.use(corsFromConfig()) */
export function corsFromConfig(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const allowed = c.get('config').corsAllowOrigins;
    if (!isAllowedOrigin(c.req.header('origin'), allowed)) return next();
    return cors({
      origin: allowed.includes('*') ? '*' : [...allowed],
      allowMethods: ['GET', 'POST', 'OPTIONS'],
      allowHeaders: ['authorization', 'content-type'],
      exposeHeaders: EXPOSED_HEADERS,
      maxAge: 600,
    })(c, next);
  };
}
