/**
 * Rate limiting per API key and tenant: RATE_LIMIT_REQUESTS per RATE_LIMIT_PERIOD_SECONDS, counted by Workers' Rate
 * Limiting binding (RATE_LIMITER) when bound, otherwise by this isolate alone (a fixed window per key that starts at
 * its first request; each isolate counts separately, so the effective limit grows with the isolates serving a key).
 * The key is the tenant and a hash of the API key (the client IP when the API is open), so a key's count never leaks
 * to another key or another tenant. Over the limit: 429 rate_limit_exceeded with Retry-After, as OpenAI answers.
 */
import type { MiddlewareHandler } from 'hono';
import { sha256Hex } from '../../../../bundle-format/hash.js';
import { ApiError } from '../../errors.js';
import type { AppEnv } from '../context.js';
import { isOpenPath } from './auth.js';

/** Keys tracked before expired windows are swept, so an isolate's memory stays bounded under many keys. */
const SWEEP_AT = 10_000;

/**
 * Fixed windows per key, in this isolate.
 * @example new IsolateRateLimiter().take('k', 2, 60_000, 0) // { allowed: true, retryAfterMs: 0 }
 */
export class IsolateRateLimiter {
  private readonly windows = new Map<string, { startedMs: number; count: number }>();

  take(key: string, limit: number, periodMs: number, nowMs: number): { allowed: boolean; retryAfterMs: number } {
    let window = this.windows.get(key);
    if (window === undefined || nowMs - window.startedMs >= periodMs) {
      if (this.windows.size >= SWEEP_AT) this.sweep(periodMs, nowMs);
      window = { startedMs: nowMs, count: 0 };
      this.windows.set(key, window);
    }
    if (window.count >= limit) return { allowed: false, retryAfterMs: window.startedMs + periodMs - nowMs };
    window.count++;
    return { allowed: true, retryAfterMs: 0 };
  }

  private sweep(periodMs: number, nowMs: number): void {
    for (const [key, window] of this.windows) if (nowMs - window.startedMs >= periodMs) this.windows.delete(key);
  }
}

/** The limiter key: tenant, then the presented key's hash or the client's IP. */
async function limiterKey(tenantId: string | undefined, authorization: string | undefined, ip: string | undefined) {
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
  const who = bearer === undefined ? `ip:${ip ?? 'unknown'}` : `key:${(await sha256Hex(bearer)).slice(0, 32)}`;
  return `${tenantId ?? '-'}:${who}`;
}

/**
 * Runs after the API key check, so only accepted keys are counted. /health and the page are never limited.
 * @example app.use(rateLimit(() => Date.now()))
 */
export function rateLimit(nowMs: () => number = () => Date.now()): MiddlewareHandler<AppEnv> {
  const isolate = new IsolateRateLimiter();
  return async (c, next) => {
    const { rateLimitRequests: limit, rateLimitPeriodSeconds: period, tenantId } = c.get('config');
    if (limit === 0 || isOpenPath(c.req.method, c.req.path)) return next();
    const key = await limiterKey(tenantId, c.req.header('authorization'), c.req.header('cf-connecting-ip'));
    const binding = c.env?.RATE_LIMITER;
    let retryAfterSeconds: number | undefined;
    if (binding !== undefined) {
      // The binding does not say when its window ends: a whole period is the safe answer.
      if (!(await binding.limit({ key })).success) retryAfterSeconds = period;
    } else {
      const outcome = isolate.take(key, limit, period * 1000, nowMs());
      if (!outcome.allowed) retryAfterSeconds = Math.max(1, Math.ceil(outcome.retryAfterMs / 1000));
    }
    if (retryAfterSeconds !== undefined) {
      throw new ApiError(
        'rate_limit_exceeded',
        `Rate limit reached on requests: ${limit} per ${period} s for this API key. Try again in ${retryAfterSeconds} s.`,
        { retryAfterSeconds },
      );
    }
    return next();
  };
}
