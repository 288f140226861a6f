/**
 * Counts every answered request by route, method and status, for GET /metrics (te_request_count). A path no route
 * serves counts as "other", so a scan of random paths cannot grow the table without bound.
 */
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../context.js';

/** Requests answered by this isolate, keyed by route, method and status. */
export class RequestCounts {
  private readonly counts = new Map<string, { route: string; method: string; status: number; count: number }>();

  add(route: string, method: string, status: number): void {
    const key = `${method} ${route} ${status}`;
    const entry = this.counts.get(key);
    if (entry === undefined) this.counts.set(key, { route, method, status, count: 1 });
    else entry.count++;
  }

  entries(): Array<{ route: string; method: string; status: number; count: number }> {
    return [...this.counts.values()];
  }
}

/**
 * Runs around everything else, so refusals by other middleware (401, 413, 429) are counted with their status.
 * @example app.use(requestCounts(counts, (path) => knownPaths.has(path)))
 */
export function requestCounts(counts: RequestCounts, isRoute: (path: string) => boolean): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    try {
      await next();
    } finally {
      counts.add(isRoute(c.req.path) ? c.req.path : 'other', c.req.method, c.res.status);
    }
  };
}
