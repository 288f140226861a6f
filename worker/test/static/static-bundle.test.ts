/**
 * A static bundle served by the worker inside workerd: the same API and cache, no ONNX Runtime (the app gets an ORT
 * whose every session creation fails and is counted), and two-stage ranking on the default worker: the static bundle
 * orders every document, the transformer re-scores the static top k.
 */
import { describe, expect, it } from 'vitest';
import { staticDefaultBundle } from '../../src/bundle/static-default-bundle.js';
import { cacheApiUrl } from '../../src/cache/cache-api.js';
import { cacheKey } from '../../src/cache/key.js';
import type { Env } from '../../src/env.js';
import { createApp } from '../../src/http/app.js';
import { wasmHeapBytes } from '../../src/runtime/ort-workerd.js';
import { call } from '../helpers.js';

let sessions = 0;
const noOrt = {
  Tensor: undefined as never,
  createSession: async () => {
    sessions++;
    throw new Error('a static bundle must not load ONNX Runtime');
  },
};
const staticApp = createApp({ bundle: staticDefaultBundle, ort: noOrt, wasmHeapBytes });

interface RankBody {
  results: Array<{ index: number; score: number; stage?: 'static' | 'transformer' }>;
  usage: { prompt_tokens: number };
}

async function rank(body: unknown, app?: typeof staticApp, env: Partial<Env> = {}): Promise<RankBody> {
  const response = await call('/v1/rank', { body }, env, app);
  if (response.status !== 200) throw new Error(`status ${response.status}: ${await response.text()}`);
  return (await response.json()) as RankBody;
}

const query = 'How do I bake a chocolate cake?';
const documents = [
  'The stock market closed lower on Friday after weak earnings reports.',
  'Preheat the oven, then mix flour, sugar, eggs and cocoa into a smooth cake batter.',
  'The home team won the football championship in extra time.',
  'Chocolate desserts need good cocoa and patience.',
  'Bake the bread for forty minutes until golden.',
  'The committee postponed its decision until next Tuesday.',
  'A recipe for a moist chocolate sponge with ganache.',
];

describe('a static bundle in the worker', () => {
  it('answers /v1/embeddings with unit vectors of its dimensions, cached like any bundle, without ORT', async () => {
    const info = (await (await call('/info', {}, {}, staticApp)).json()) as {
      kind: string;
      dimensions: number;
      wasm_heap_bytes: number | null;
    };
    expect(info.kind).toBe('static');
    const request = { body: { input: ['static vectors: a cat sat on the mat', 'and a dog'], model: 'any' } };
    const first = await call('/v1/embeddings', request, {}, staticApp);
    expect(first.status).toBe(200);
    expect(first.headers.get('x-cache-misses')).toBe('2');
    const body = (await first.json()) as { data: Array<{ embedding: number[] }> };
    for (const { embedding } of body.data) {
      expect(embedding.length).toBe(info.dimensions);
      expect(Math.hypot(...embedding)).toBeCloseTo(1, 4);
    }
    const second = await call('/v1/embeddings', request, {}, staticApp);
    expect(second.headers.get('x-cache-hits')).toBe('2');
    const after = (await (await call('/info', {}, {}, staticApp)).json()) as {
      loaded: boolean;
      wasm_heap_bytes: number | null;
      counters: { inferences: number };
    };
    expect(after.loaded).toBe(true);
    expect(after.counters.inferences).toBeGreaterThan(0);
    expect(sessions).toBe(0);
    expect(after.wasm_heap_bytes).toBe(0);
  });

  it('ranks with its own vectors, and refuses rerank_top_k (it has no transformer to re-score with)', async () => {
    const { results } = await rank({ query, documents }, staticApp);
    expect(results.map((r) => r.stage)).toEqual(documents.map(() => undefined));
    const refused = await call('/v1/rank', { body: { query, documents, rerank_top_k: 2 } }, {}, staticApp);
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: { param: string } }).error.param).toBe('rerank_top_k');
    expect(sessions).toBe(0);
  });
});

describe('two-stage ranking on the default worker', () => {
  it("re-ranks the static top k in the transformer's order and keeps the static order below", async () => {
    const k = 5;
    const staticOrder = (await rank({ query, documents }, staticApp)).results;
    const transformerOnly = (await rank({ query, documents })).results;
    const transformerScore = new Map(transformerOnly.map((r) => [r.index, r.score]));
    const twoStage = (await rank({ query, documents, rerank_top_k: k })).results;

    expect(twoStage.map((r) => r.stage)).toEqual([
      ...Array(k).fill('transformer'),
      ...Array(documents.length - k).fill('static'),
    ]);
    const staticTop = staticOrder.slice(0, k).map((r) => r.index);
    const wantTop = [...staticTop].sort((a, b) => transformerScore.get(b)! - transformerScore.get(a)! || a - b);
    // The stages disagree on these documents, so keeping the static order would fail this test.
    expect(wantTop).not.toEqual(staticTop);
    expect(twoStage.slice(0, k).map((r) => r.index)).toEqual(wantTop);
    for (const result of twoStage.slice(0, k)) expect(result.score).toBeCloseTo(transformerScore.get(result.index)!, 5);
    expect(twoStage.slice(k).map((r) => r.index)).toEqual(staticOrder.slice(k).map((r) => r.index));
    expect(twoStage.slice(k).map((r) => r.score)).toEqual(staticOrder.slice(k).map((r) => r.score));
  });

  it('re-scores everything when rerank_top_k covers all documents, and cuts to top_k after', async () => {
    const all = (await rank({ query, documents, rerank_top_k: 50, top_k: 2 })).results;
    expect(all.length).toBe(2);
    expect(all.every((r) => r.stage === 'transformer')).toBe(true);
    const transformerOnly = (await rank({ query, documents, top_k: 2 })).results;
    expect(all.map((r) => r.index)).toEqual(transformerOnly.map((r) => r.index));
  });

  it('refuses a rerank_top_k that is not a positive integer', async () => {
    const response = await call('/v1/rank', { body: { query, documents, rerank_top_k: 0 } });
    expect(response.status).toBe(400);
  });
});

describe('the tenant default RERANK_TOP_K', () => {
  const tenant = { RERANK_TOP_K: '3' };
  const stages = (body: RankBody) => body.results.map((r) => r.stage);

  it('ranks a request without rerank_top_k in two stages with k from the var; the request’s own k wins', async () => {
    const byDefault = await rank({ query, documents }, undefined, tenant);
    const explicit = await rank({ query, documents, rerank_top_k: 3 }, undefined);
    expect(stages(byDefault)).toEqual([...Array(3).fill('transformer'), ...Array(documents.length - 3).fill('static')]);
    expect(byDefault.results).toEqual(explicit.results);
    const own = await rank({ query, documents, rerank_top_k: 1 }, undefined, tenant);
    expect(stages(own).filter((stage) => stage === 'transformer').length).toBe(1);
    expect(stages(await rank({ query, documents }))).toEqual(documents.map(() => undefined));
  });

  it('is reported by /info with whether the worker can rank in two stages; a static-only worker ranks in one', async () => {
    const infoOf = async (app?: typeof staticApp) =>
      (await (await call('/info', {}, tenant, app)).json()) as { rerank_top_k: number; two_stage_ranking: boolean };
    expect(await infoOf()).toMatchObject({ rerank_top_k: 3, two_stage_ranking: true });
    expect(await infoOf(staticApp)).toMatchObject({ rerank_top_k: 3, two_stage_ranking: false });
    const unset = (await (await call('/info')).json()) as { rerank_top_k: number | null };
    expect(unset.rerank_top_k).toBeNull();
    expect(stages(await rank({ query, documents }, staticApp, tenant))).toEqual(documents.map(() => undefined));
  });

  it('answers 500 config_invalid for a RERANK_TOP_K that is not a positive integer', async () => {
    const response = await call('/v1/rank', { body: { query, documents } }, { RERANK_TOP_K: '0' });
    expect(response.status).toBe(500);
    const body = (await response.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('config_invalid');
    expect(body.error.message).toContain('RERANK_TOP_K');
  });
});

describe('caching a static bundle under the default cost policy', () => {
  const cachedInCacheApi = async (contentHash: string, text: string) => {
    const key = await cacheKey(contentHash, { truncationDirection: 'right' }, { text });
    return (await caches.default.match(new Request(cacheApiUrl(key)))) !== undefined;
  };

  it('keeps its vectors in the isolate: no Cache API or KV work, even in a fresh isolate; the transformer’s go to the Cache API', async () => {
    const fresh = createApp({ bundle: staticDefaultBundle, ort: noOrt });
    const text = 'a static vector costs less than any lookup';
    const request = { body: { input: [text], model: 'any' } };
    expect((await call('/v1/embeddings', request, {}, fresh)).headers.get('x-cache-misses')).toBe('1');
    expect((await call('/v1/embeddings', request, {}, fresh)).headers.get('x-cache-hits')).toBe('1');
    const info = (await (await call('/info', {}, {}, fresh)).json()) as {
      bundle_hash: string;
      counters: Record<string, number>;
      cost: { cache_policy: string };
    };
    expect(info.cost.cache_policy).toBe('off');
    expect(info.counters).toMatchObject({ lruHits: 1, cacheApiHits: 0, cacheApiMisses: 0, kvReads: 0, kvWrites: 0 });
    expect(await cachedInCacheApi(info.bundle_hash, text)).toBe(false);

    const transformerText = 'a transformer vector is worth keeping';
    await call('/v1/embeddings', { body: { input: [transformerText] } });
    const transformerHash = ((await (await call('/info')).json()) as { bundle_hash: string }).bundle_hash;
    expect(await cachedInCacheApi(transformerHash, transformerText)).toBe(true);
  });
});
