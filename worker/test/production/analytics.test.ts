/**
 * Workers Analytics Engine: with the ANALYTICS binding (Miniflare's, from vitest.workers.config.ts) every request
 * writes one data point, refusals included; without it the API answers the same and nothing is written. Miniflare's
 * local dataset keeps no data points, so the tests watch the writes through a wrapper that records each point and
 * passes it on to the real binding.
 */
import { describe, expect, it } from 'vitest';
import type { Env } from '../../src/env.js';
import {
  ANALYTICS_BLOBS,
  ANALYTICS_DOUBLES,
  type AnalyticsDataPoint,
  type AnalyticsDataset,
  analyticsDataPoint,
  type RequestFacts,
} from '../../src/http/middleware/analytics.js';
import { call, info, testEnv } from '../helpers.js';

/** The binding from the test env, wrapped so the test sees what reaches it. */
function recordingDataset(): { dataset: AnalyticsDataset; points: Array<Record<string, string | number>> } {
  const real = testEnv.ANALYTICS;
  if (real === undefined) throw new Error('vitest.workers.config.ts binds no ANALYTICS dataset');
  const points: Array<Record<string, string | number>> = [];
  const dataset = {
    writeDataPoint(point: AnalyticsDataPoint) {
      real.writeDataPoint(point);
      points.push(named(point));
    },
  };
  return { dataset, points };
}

/** A data point with its blobs and doubles under their field names, as docs/operations.md lists them. */
function named(point: AnalyticsDataPoint): Record<string, string | number> {
  const out: Record<string, string | number> = { index: point.indexes[0] };
  ANALYTICS_BLOBS.forEach((field, i) => {
    out[field] = point.blobs[i];
  });
  ANALYTICS_DOUBLES.forEach((field, i) => {
    out[field] = point.doubles[i];
  });
  return out;
}

describe('Analytics Engine data points', () => {
  it('is a real binding in workerd', () => {
    expect(typeof testEnv.ANALYTICS?.writeDataPoint).toBe('function');
  });

  it('writes one point per request: route, status, tenant, bundle, counts and times', async () => {
    const { dataset, points } = recordingDataset();
    const env: Partial<Env> = { ANALYTICS: dataset, TENANT_ID: 'acme' };
    const texts = ['analytics one', 'analytics two', 'analytics one'];
    const first = await call('/v1/embeddings', { body: { input: texts } }, env);
    expect(first.status).toBe(200);
    const again = await call('/v1/embeddings', { body: { input: texts } }, env);
    await call('/v1/embeddings', { body: { input: '' } }, env);
    await call('/nowhere', {}, env);
    await call('/health', {}, env);
    expect(points).toHaveLength(5);

    const { bundle_hash, model_id } = await info();
    expect(points[0]).toMatchObject({
      index: 'acme',
      route: '/v1/embeddings',
      method: 'POST',
      status: 200,
      tenant: 'acme',
      model: model_id,
      bundleHash: bundle_hash,
      error: '',
      inputs: 3,
      cacheHits: Number(first.headers.get('x-cache-hits')),
      cacheMisses: Number(first.headers.get('x-cache-misses')),
    });
    expect(points[0].cacheMisses).toBe(2);
    expect(points[0].tokens).toBeGreaterThan(3);
    expect(points[0].inferenceMs).toBeGreaterThan(0);
    expect(points[0].durationMs).toBeGreaterThanOrEqual(Number(points[0].inferenceMs));
    // The repeat is served from the cache: no inference.
    expect(points[1]).toMatchObject({ cacheHits: Number(again.headers.get('x-cache-hits')), cacheMisses: 0 });
    expect(points[1].inferenceMs).toBe(0);
    expect(points[2]).toMatchObject({ route: '/v1/embeddings', status: 400, error: 'invalid_request', inputs: 0 });
    expect(points[3]).toMatchObject({ route: 'other', method: 'GET', status: 404, error: 'not_found' });
    expect(points[4]).toMatchObject({ route: '/health', status: 200, bundleHash: '' });
  });

  it('writes a point for a refusal by the middleware, and for an invalid config', async () => {
    const { dataset, points } = recordingDataset();
    await call('/v1/models', {}, { ANALYTICS: dataset, API_KEYS: 'analytics-key' });
    await call('/v1/models', {}, { ANALYTICS: dataset, MAX_INPUTS: 'many' });
    expect(points).toMatchObject([
      { route: '/v1/models', status: 401, error: 'unauthorized', index: 'default' },
      { route: '/v1/models', status: 500, error: 'config_invalid', tenant: '' },
    ]);
  });

  it('answers the same without the binding', async () => {
    const response = await call('/v1/embeddings', { body: { input: 'no analytics' } }, { ANALYTICS: undefined });
    expect(response.status).toBe(200);
  });

  it("keeps within Analytics Engine's limits: 20 blobs, 20 doubles, one index of at most 96 bytes", () => {
    const facts: RequestFacts = {
      route: '/v1/embeddings',
      method: 'POST',
      status: 200,
      tenant: 't'.repeat(200),
      model: 'm',
      bundleHash: 'a'.repeat(64),
      error: '',
      durationMs: 1.5,
      inputs: 1,
      tokens: 2,
      cacheHits: 0,
      cacheMisses: 1,
      inferenceMs: 1,
    };
    const point = analyticsDataPoint(facts);
    expect(point.blobs.length).toBeLessThanOrEqual(20);
    expect(point.doubles.length).toBeLessThanOrEqual(20);
    expect(point.indexes).toHaveLength(1);
    expect(new TextEncoder().encode(point.indexes[0]).length).toBeLessThanOrEqual(96);
    expect(named(point)).toMatchObject({ route: '/v1/embeddings', status: 200, durationMs: 1.5, cacheMisses: 1 });
  });
});
