/**
 * Bearer API keys. Both sides are hashed to fixed-length SHA-256 digests and compared without early exit, against every
 * configured key, so neither a key's contents nor its length leak through timing. Without API_KEYS the API is open.
 */
import type { MiddlewareHandler } from 'hono';
import { ApiError } from '../../errors.js';
import type { AppEnv } from '../context.js';

async function digest(value: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(value)));
}

/**
 * True when the Authorization header carries one of the keys.
 * @example await isAuthorized('Bearer sk-1', ['sk-1', 'sk-2']) // true
 */
export async function isAuthorized(authorization: string | undefined, keys: readonly string[]): Promise<boolean> {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  const presented = await digest(match?.[1] ?? '');
  let authorized = false;
  for (const key of keys) {
    const expected = await digest(key);
    let difference = 0;
    for (let i = 0; i < expected.length; i++) difference |= expected[i] ^ presented[i];
    if (difference === 0) authorized = true;
  }
  return match !== null && authorized;
}

/**
 * The paths that need no key, as in TEI: the health checks /health and /ping, GET / (the page for a browser, which
 * holds no data and sends the key typed into it; the health check otherwise) and the API's description, /openapi.json
 * and its page /docs.
 * @example isOpenPath('GET', '/health') // true
 */
export function isOpenPath(method: string, path: string): boolean {
  const described = path === '/openapi.json' || path === '/docs';
  return path === '/health' || path === '/ping' || described || (path === '/' && method === 'GET');
}

/**
 * Refuses a request without a configured key (401), except on the open paths above. Logs once per app whether keys are
 * configured.
 * @example app.use(apiKeyAuth())
 */
export function apiKeyAuth(): MiddlewareHandler<AppEnv> {
  let announced = false;
  return async (c, next) => {
    const { apiKeys } = c.get('config');
    if (!announced) {
      announced = true;
      const message =
        apiKeys.length === 0
          ? 'no API_KEYS configured: the API is open to anyone'
          : `${apiKeys.length} API key(s) configured`;
      console.log(JSON.stringify({ level: apiKeys.length === 0 ? 'warn' : 'info', event: 'auth', message }));
    }
    if (apiKeys.length === 0 || isOpenPath(c.req.method, c.req.path)) return next();
    if (!(await isAuthorized(c.req.header('authorization'), apiKeys))) {
      throw new ApiError('unauthorized', 'missing or invalid API key; send "Authorization: Bearer <key>"');
    }
    return next();
  };
}
