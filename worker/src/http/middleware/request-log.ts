/**
 * The first middleware: reads the request's config from the env's vars (a bad var is logged and fails the request),
 * and writes one JSON log line per request with its status, time and what the routes noted in `c.var.log`.
 */
import type { MiddlewareHandler } from 'hono';
import { readConfig } from '../../config.js';
import type { AppEnv, RequestLog } from '../context.js';

/** @example app.use(requestLog(() => performance.now())) */
export function requestLog(now: () => number): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = now();
    const log: RequestLog = {};
    c.set('log', log);
    try {
      c.set('config', readConfig(c.env ?? {}));
    } catch (error) {
      console.error(JSON.stringify({ level: 'error', event: 'config_invalid', message: String(error) }));
      throw error;
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
