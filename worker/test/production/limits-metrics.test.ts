/**
 * Rate limits per API key and tenant (Workers' Rate Limiting binding from wrangler.toml, simulated by Miniflare, and the
 * per-isolate fallback), the cap on concurrent embedding requests, the limits in /info, and GET /metrics parsed with a
 * Prometheus text parser, its counters moving as requests are made.
 */
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { describe, expect, it } from 'vitest';
import { defaultBundle } from '../../src/bundle/default-bundle.js';
import type { Env } from '../../src/env.js';
import { type App, createApp } from '../../src/http/app.js';
import { workerdOrt } from '../../src/runtime/ort-workerd.js';
import { call, mixedTexts } from '../helpers.js';

const as = (key: string, body: unknown = undefined) => ({
  ...(body === undefined ? {} : { body }),
  headers: { authorization: `Bearer ${key}` },
});

/** Requests GET /v1/models with the key until one is refused (at most `max`); the responses. */
async function untilRefused(key: string, env: Partial<Env>, max: number, app?: App): Promise<Response[]> {
  const responses: Response[] = [];
  for (let i = 0; i < max; i++) {
    const response = await call('/v1/models', as(key), env, app);
    responses.push(response);
    if (response.status !== 200) break;
  }
  return responses;
}

describe('rate limits (the per-isolate fallback, RATE_LIMITER unbound)', () => {
  const keys = 'rl-key-a,rl-key-b';
  const acme: Partial<Env> = { API_KEYS: keys, TENANT_ID: 'acme', RATE_LIMIT_REQUESTS: '3', RATE_LIMITER: undefined };
  const globex: Partial<Env> = { ...acme, TENANT_ID: 'globex' };

  it('refuses a key over its rate with 429, Retry-After and OpenAI’s body; another key is unaffected', async () => {
    const responses = await untilRefused('rl-key-a', acme, 10);
    expect(responses.map((response) => response.status)).toEqual([200, 200, 200, 429]);
    const refused = responses[3];
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    const body = (await refused.json()) as { error: Record<string, unknown> };
    expect(body.error).toMatchObject({ type: 'requests', code: 'rate_limit_exceeded', param: null });
    expect(String(body.error.message)).toContain('Rate limit reached');
    // Refused requests are not served: the embedding route is refused too.
    expect((await call('/v1/embeddings', as('rl-key-a', { input: 'limited' }), acme)).status).toBe(429);

    expect((await call('/v1/models', as('rl-key-b'), acme)).status).toBe(200);
  });

  it("does not leak a tenant's count to another tenant with the same key", async () => {
    const tenantA = { ...acme, API_KEYS: 'shared-key' };
    const tenantB = { ...globex, API_KEYS: 'shared-key' };
    expect((await untilRefused('shared-key', tenantA, 10)).map((response) => response.status)).toEqual([
      200, 200, 200, 429,
    ]);
    expect((await call('/v1/models', as('shared-key'), tenantB)).status).toBe(200);
  });

  it('never limits /health or the page, and is off by default', async () => {
    const tight = { ...acme, API_KEYS: 'rl-key-c', RATE_LIMIT_REQUESTS: '1' };
    for (let i = 0; i < 3; i++) expect((await call('/health', {}, tight)).status).toBe(200);
    const open = { API_KEYS: 'rl-key-d', RATE_LIMITER: undefined };
    for (let i = 0; i < 5; i++) expect((await call('/v1/models', as('rl-key-d'), open)).status).toBe(200);
  });
});

describe('rate limits through the RATE_LIMITER binding (wrangler.toml, simulated by Miniflare)', () => {
  it('counts across isolates: the 61st request of a key in the minute is refused; another key is unaffected', async () => {
    const env: Partial<Env> = { API_KEYS: 'bind-key-a,bind-key-b', RATE_LIMIT_REQUESTS: '60' };
    // The binding counts in fixed windows of the clock's minutes: a run that straddles one starts over once.
    for (let attempt = 0; ; attempt++) {
      const minute = Math.floor(Date.now() / 60_000);
      const tenant = { ...env, TENANT_ID: `bind${attempt}` };
      const first = await untilRefused('bind-key-a', tenant, 60);
      // Another app stands for another isolate: its own fallback counter would start at 0, the binding's does not.
      const rest = await untilRefused('bind-key-a', tenant, 10, createApp({ bundle: defaultBundle, ort: workerdOrt }));
      const responses = [...first, ...rest];
      if (Math.floor(Date.now() / 60_000) !== minute && attempt === 0) continue;
      expect(first.map((response) => response.status)).toEqual(first.map(() => 200));
      expect(responses.filter((response) => response.status === 200)).toHaveLength(60);
      const refused = rest[0];
      expect(refused.status).toBe(429);
      expect(refused.headers.get('retry-after')).toBe('60');
      expect((await call('/v1/models', as('bind-key-b'), tenant)).status).toBe(200);
      const info = (await (await call('/info', as('bind-key-b'), env)).json()) as { limits: Record<string, unknown> };
      expect(info.limits).toMatchObject({
        rate_limit_requests: 60,
        rate_limit_period_seconds: 60,
        rate_limiter: 'binding',
      });
      break;
    }
  });
});

describe('MAX_CONCURRENT_INFERENCES', () => {
  it('refuses embedding requests past the cap with 503 overloaded and Retry-After, and frees the slot after', async () => {
    const env = { MAX_CONCURRENT_INFERENCES: '1' };
    const texts = mixedTexts('concurrency cap', 3);
    const responses = await Promise.all(texts.map((input) => call('/v1/embeddings', { body: { input } }, env)));
    const statuses = responses.map((response) => response.status);
    expect(statuses.filter((status) => status === 200)).toHaveLength(1);
    expect(statuses.filter((status) => status === 503)).toHaveLength(2);
    const refused = responses.find((response) => response.status === 503)!;
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('overloaded');
    expect((await call('/v1/embeddings', { body: { input: texts[1] } }, env)).status).toBe(200);
    const info = (await (await call('/info', {}, env)).json()) as { limits: Record<string, unknown> };
    expect(info.limits).toMatchObject({ max_concurrent_inferences: 1, inferences_in_flight: 0, rate_limiter: 'off' });
  });

  it('counts every request that reaches the embedding core, whichever route, never /tokenize or a refused body', async () => {
    const env = { MAX_CONCURRENT_INFERENCES: '1' };
    const texts = mixedTexts('slots on every route', 4);
    // A fresh app: the first request to embed holds its slot through the model load, long after the others arrive.
    const app = createApp({ bundle: defaultBundle, ort: workerdOrt });
    const [similarity, rank, tokenize, refused] = await Promise.all([
      call('/similarity', { body: { inputs: { source_sentence: texts[0], sentences: [texts[1]] } } }, env, app),
      call('/v1/rank', { body: { query: texts[2], documents: [texts[3]] } }, env, app),
      call('/tokenize', { body: { inputs: texts[0] } }, env, app),
      call('/v1/embeddings', { body: { input: '' } }, env, app),
    ]);
    // One of the two embedding routes got the one slot, the other was refused; the rest never asked for one.
    expect([similarity.status, rank.status].sort()).toEqual([200, 503]);
    expect([tokenize.status, refused.status]).toEqual([200, 400]);
    const info = (await (await call('/info', {}, env, app)).json()) as { limits: Record<string, unknown> };
    expect(info.limits).toMatchObject({ inferences_in_flight: 0 });
  });
});

describe('GET /metrics', () => {
  const env = { API_KEYS: 'metrics-key' };

  async function scrape(): Promise<Map<string, number>> {
    const response = await call('/metrics', as('metrics-key'), env);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const samples = new Map<string, number>();
    for (const family of parsePrometheusTextFormat(await response.text())) {
      for (const sample of family.metrics) {
        const labels = Object.entries(sample.labels ?? {})
          .map(([name, value]) => `${name}=${value}`)
          .sort()
          .join(',');
        samples.set(labels === '' ? family.name : `${family.name}{${labels}}`, Number(sample.value));
      }
    }
    return samples;
  }

  it('needs the API key when keys are set', async () => {
    expect((await call('/metrics', {}, env)).status).toBe(401);
  });

  it('parses as Prometheus text, and its counters move as requests are made', async () => {
    const before = await scrape();
    const ok = 'te_request_count{method=POST,route=/v1/embeddings,status=200}';
    const [text] = mixedTexts('metrics move', 1);
    expect((await call('/v1/embeddings', as('metrics-key', { input: [text, text] }), env)).status).toBe(200);
    expect((await call('/v1/embeddings', as('metrics-key', { input: text }), env)).status).toBe(200);
    expect((await call('/v1/embeddings', as('metrics-key', { input: '' }), env)).status).toBe(400);
    expect((await call('/nowhere', as('metrics-key'), env)).status).toBe(404);
    const after = await scrape();
    const moved = (name: string) => (after.get(name) ?? 0) - (before.get(name) ?? 0);
    expect(moved(ok)).toBe(2);
    expect(moved('te_request_count{method=POST,route=/v1/embeddings,status=400}')).toBe(1);
    expect(moved('te_request_count{method=GET,route=other,status=404}')).toBe(1);
    expect(moved('te_embed_count')).toBe(3);
    expect(moved('te_inference_count')).toBeGreaterThanOrEqual(1);
    expect(moved('te_inference_tokens')).toBeGreaterThan(0);
    expect(moved('te_cache_hit{tier=lru}')).toBe(1);
    expect(after.get('te_model_loaded')).toBe(1);
    for (const name of ['te_kv_reads', 'te_kv_writes', 'te_model_load_count', 'te_model_load_failure', 'te_cache_miss'])
      expect(after.has(name)).toBe(true);
  });
});
