/**
 * The first middleware: reads the request's config from the env's vars (a bad var fails the request with a 500 config_invalid naming it, logged once),
 * and writes one JSON log line per request with its status, time and what the routes noted in `c.var.log`.
 */
import type { MiddlewareHandler } from 'hono';
import { ConfigInvalidError, readConfig } from '../../config.js';
import { ApiError } from '../../errors.js';
import type { AppEnv, RequestLog } from '../context.js';

/** @example app.use(requestLog(() => performance.now())) */
export function requestLog(now: () => number): MiddlewareHandler<AppEnv> {
  const logged = new Set<string>();
  return async (c, next) => {
    const started = now();
    const log: RequestLog = {};
    c.set('log', log);
    try {
      c.set('config', readConfig(c.env ?? {}));
    } catch (error) {
      if (!(error instanceof ConfigInvalidError)) throw error;
      // One log line per isolate and problem, not one per request: every request fails the same way until a redeploy.
      if (!logged.has(error.message)) {
        logged.add(error.message);
        console.error(JSON.stringify({ level: 'error', event: 'config_invalid', message: error.message }));
      }
      throw new ApiError('config_invalid', `the deployment's config is invalid: ${error.message}`);
    }
    await next();
    console.log(
      JSON.stringify({
        level: c.res.status >= 500 ? 'error' : 'info',
        event: 'request',
        method: c.req.method,
        path: c.req.path,
        status: c.res.status,
        ms: Math.round((now() - started) * 10) / 10,
        ...log,
      }),
    );
  };
}
