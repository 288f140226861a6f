/**
 * Fleet metrics in Workers Analytics Engine: when the env has the ANALYTICS binding (`[[analytics_engine_datasets]]`
 * in wrangler.toml), one data point per request with its route, status, tenant, model and bundle hash, input and token
 * counts, cache hits and misses, inference and total milliseconds. /metrics shows one isolate; these points add up
 * across every isolate and location, queried with SQL (docs/operations.md). Without the binding nothing is written.
 */
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../context.js';

/** What is known about a request once it is answered. */
export interface RequestFacts {
  route: string;
  method: string;
  status: number;
  tenant: string;
  model: string;
  bundleHash: string;
  /** The error kind (`invalid_request`, ...), empty for a success. */
  error: string;
  durationMs: number;
  inputs: number;
  tokens: number;
  cacheHits: number;
  cacheMisses: number;
  inferenceMs: number;
}

/** The data point's layout: blobN and doubleN in SQL are these fields, in this order (docs/operations.md). */
export const ANALYTICS_BLOBS = ['route', 'method', 'tenant', 'model', 'bundleHash', 'error'] as const;
export const ANALYTICS_DOUBLES = [
  'status',
  'durationMs',
  'inputs',
  'tokens',
  'cacheHits',
  'cacheMisses',
  'inferenceMs',
] as const;

/** Analytics Engine refuses an index longer than 96 bytes. */
const MAX_INDEX_BYTES = 96;

export interface AnalyticsDataPoint {
  blobs: string[];
  doubles: number[];
  indexes: string[];
}

/**
 * The one data point of a request. The index (Analytics Engine samples per index value) is the tenant, so a busy
 * tenant's volume never thins out another's.
 * @example analyticsDataPoint(facts).blobs[0] // '/v1/embeddings'
 */
export function analyticsDataPoint(facts: RequestFacts): AnalyticsDataPoint {
  return {
    blobs: ANALYTICS_BLOBS.map((field) => facts[field]),
    doubles: ANALYTICS_DOUBLES.map((field) => facts[field]),
    indexes: [(facts.tenant === '' ? 'default' : facts.tenant).slice(0, MAX_INDEX_BYTES)],
  };
}

/** The binding's one call (Workers' AnalyticsEngineDataset). */
export interface AnalyticsDataset {
  writeDataPoint(point: AnalyticsDataPoint): void;
}

/**
 * Runs around everything but the request counts, so refusals by other middleware are written with their status. A
 * failing write is logged, never the request's problem.
 * @example app.use(analytics(() => performance.now(), (path) => knownPaths.has(path)))
 */
export function analytics(now: () => number, isRoute: (path: string) => boolean): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = now();
    await next();
    const dataset = c.env?.ANALYTICS;
    if (dataset === undefined) return;
    const log = c.get('log') ?? {};
    const facts: RequestFacts = {
      route: isRoute(c.req.path) ? c.req.path : 'other',
      method: c.req.method,
      status: c.res.status,
      tenant: c.get('config')?.tenantId ?? '',
      model: log.model ?? '',
      bundleHash: log.bundleHash ?? '',
      error: log.error ?? '',
      durationMs: now() - started,
      inputs: log.inputs ?? 0,
      tokens: log.tokens ?? 0,
      cacheHits: log.cacheHits ?? 0,
      cacheMisses: log.cacheMisses ?? 0,
      inferenceMs: log.inferenceMs ?? 0,
    };
    try {
      dataset.writeDataPoint(analyticsDataPoint(facts));
    } catch (error) {
      console.error(JSON.stringify({ level: 'error', event: 'analytics_write_failed', message: String(error) }));
    }
  };
}
