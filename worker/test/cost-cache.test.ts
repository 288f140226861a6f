/**
 * Cost-aware caching through the worker, inside workerd, with Miniflare's KV and Cache API and the compiled-in USE Lite
 * bundle. Each `isolate()` is a fresh app (its own LRU, policy memory, counters and unloaded model), as a new isolate
 * would be; they share KV and the data centre's Cache API. Texts carry a random tag so no test sees another's entries.
 */
import { describe, expect, it, vi } from 'vitest';
import { defaultBundle } from '../src/bundle/default-bundle.js';
import { cacheApiUrl } from '../src/cache/cache-api.js';
import { cacheKey } from '../src/cache/key.js';
import type { Env, KvNamespaceLike } from '../src/env.js';
import { createApp } from '../src/http/app.js';
import { workerdOrt } from '../src/runtime/ort-workerd.js';
import { workerdRuntime } from '../src/runtime/workerd.js';
import { call, testEnv } from './helpers.js';

const kv = testEnv.EMBED_CACHE as KvNamespaceLike;

interface CostInfo {
  cache_policy: string;
  cpu_ms_per_token: number;
  cpu_figure_from: string;
  cpu_figure_engine: string;
  model_load_cpu_ms: number;
  usd_per_million: { kv_reads: number; kv_writes: number; cpu_ms: number };
  estimated_usd_per_million_embeddings: number;
}

interface IsolateInfo {
  loaded: boolean;
  bundle_hash: string;
  counters: Record<string, number>;
  cost: CostInfo;
}

/**
 * A fresh isolate serving requests with these env overrides: ONNX Runtime only (the figures these tests assume), or
 * with `runtime` the full worker's engines.
 */
function isolate(env: Partial<Env>, runtime: Omit<Parameters<typeof createApp>[0], 'bundle'> = { ort: workerdOrt }) {
  const app = createApp({ bundle: defaultBundle, ...runtime });
  return {
    async embed(input: string[]): Promise<{ vectors: number[][]; promptTokens: number; hits: string | null }> {
      const response = await call('/v1/embeddings', { body: { input, model: 'any' } }, env, app);
      if (response.status !== 200) throw new Error(`status ${response.status}: ${await response.text()}`);
      const body = (await response.json()) as {
        data: Array<{ embedding: number[] }>;
        usage: { prompt_tokens: number };
      };
      return {
        vectors: body.data.map((item) => item.embedding),
        promptTokens: body.usage.prompt_tokens,
        hits: response.headers.get('x-cache-hits'),
      };
    },
    async info(): Promise<IsolateInfo> {
      return (await (await call('/info', {}, env, app)).json()) as IsolateInfo;
    },
  };
}

const tag = () => crypto.randomUUID().slice(0, 8);
const shortTexts = (count: number) => {
  const t = tag();
  return Array.from({ length: count }, (_, i) => `query ${t} number ${i}`);
};

async function keyOf(text: string): Promise<string> {
  const hash = (await defaultBundle.manifest()) as { contentHash: string };
  return cacheKey(hash.contentHash, { truncationDirection: 'right' }, { text });
}

/** What a heavy model would cost per token: a KV hit then saves more than its read, and a write pays after 3 uses. */
const HEAVY = { CPU_MS_PER_TOKEN: '20' };

describe('cost-aware caching in the worker', () => {
  it('makes no KV writes for a fast model with short unique texts under `cost`; `always` writes each miss once', async () => {
    const cost = isolate({ CACHE_POLICY: 'cost' });
    await cost.embed(shortTexts(1)); // loads the model
    const before = (await cost.info()).counters;
    const texts = [...shortTexts(4), ...shortTexts(4)];
    await cost.embed(texts.slice(0, 4));
    await cost.embed(texts.slice(4));
    const after = (await cost.info()).counters;
    expect(after.kvWrites).toBe(0);
    expect(after.kvReads - before.kvReads).toBe(0);
    expect(after.misses - before.misses).toBe(8);
    for (const text of texts) expect(await kv.get(await keyOf(text), 'arrayBuffer')).toBeNull();

    const always = isolate({ CACHE_POLICY: 'always' });
    const same = [...shortTexts(4), ...shortTexts(4)];
    await always.embed(same.slice(0, 4));
    await always.embed(same.slice(4));
    await always.embed(same);
    const counted = (await always.info()).counters;
    expect(counted).toMatchObject({
      kvReads: 8,
      kvWrites: 8,
      misses: 8,
      lruHits: 8,
      cacheApiHits: 0,
      cacheApiMisses: 0,
    });
    for (const text of same) expect(await kv.get(await keyOf(text), 'arrayBuffer')).not.toBeNull();
  });

  it('gives the same vectors under every policy, computed or from any cache tier', async () => {
    const texts = [...shortTexts(3), `a longer passage ${tag()} about rivers, stones and quiet markets at night`];
    const reference = (await isolate({ CACHE_POLICY: 'off' }).embed(texts)).vectors;
    for (const policy of ['cost', 'always', 'off'] as const) {
      const first = isolate({ CACHE_POLICY: policy });
      expect((await first.embed(texts)).vectors).toEqual(reference);
      const again = await first.embed(texts);
      expect(again.hits).toBe('4');
      expect(again.vectors).toEqual(reference);
    }
    // A fresh isolate under `cost` finds them in the Cache API; under `always`, in KV.
    const fromCacheApi = isolate({ CACHE_POLICY: 'cost' });
    expect((await fromCacheApi.embed(texts)).vectors).toEqual(reference);
    expect((await fromCacheApi.info()).counters).toMatchObject({ cacheApiHits: 4, inferences: 0 });
    const fromKv = isolate({ CACHE_POLICY: 'always' });
    expect((await fromKv.embed(texts)).vectors).toEqual(reference);
    expect((await fromKv.info()).counters).toMatchObject({ kvHits: 4, inferences: 0 });
  });

  it('writes a text asked for past the admission threshold once; a fresh isolate elsewhere then serves it from KV without loading the model', async () => {
    const text = `a question ${tag()} that many users of this service keep asking again and again`;
    const env = { CACHE_POLICY: 'cost', ...HEAVY };
    const a = isolate(env);
    const computed = (await a.embed([text])).vectors;
    await a.embed([text]);
    expect((await a.info()).counters.kvWrites).toBe(0);
    await a.embed([text]); // the third access: promoted to KV after a check read finds nothing
    await a.embed([text]);
    await a.embed([text]);
    expect((await a.info()).counters).toMatchObject({ kvWrites: 1, lruHits: 4, misses: 1, inferences: 1 });
    const key = await keyOf(text);
    expect(await kv.get(key, 'arrayBuffer')).not.toBeNull();

    // Another data centre: its Cache API never had the text.
    await caches.default.delete(new Request(cacheApiUrl(key)));
    const elsewhere = isolate(env);
    const served = await elsewhere.embed([text]);
    expect(served.hits).toBe('1');
    expect(served.vectors).toEqual(computed);
    const info = await elsewhere.info();
    expect(info.loaded).toBe(false);
    expect(info.counters).toMatchObject({ kvReads: 1, kvHits: 1, kvWrites: 0, modelLoads: 0, inferences: 0 });
  });

  it('keeps to the daily KV write budget across requests, and starts again the next UTC day', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(new Date('2026-12-01T23:50:00Z'));
      const env = { CACHE_POLICY: 'cost', CPU_MS_PER_TOKEN: '100', KV_ADMIT_AFTER: '1', KV_WRITE_BUDGET_PER_DAY: '2' };
      const budgeted = isolate(env);
      const long = () => `a passage ${tag()} long enough that a heavy model would rather read it than embed it twice`;
      await budgeted.embed([long(), long()]);
      await budgeted.embed([long(), long()]);
      await budgeted.embed([long()]);
      expect((await budgeted.info()).counters).toMatchObject({ kvWrites: 2, kvWritesOverBudget: 3 });

      vi.setSystemTime(new Date('2026-12-02T00:10:00Z'));
      await budgeted.embed([long(), long(), long()]);
      expect((await budgeted.info()).counters).toMatchObject({ kvWrites: 4, kvWritesOverBudget: 4 });
    } finally {
      vi.useRealTimers();
    }
  });

  it('answers normally when every KV write fails', async () => {
    const failing: KvNamespaceLike = {
      get: () => Promise.resolve(null),
      put: () => Promise.reject(new Error('KV put() limit exceeded for the day')),
    };
    const texts = shortTexts(3);
    const reference = (await isolate({ CACHE_POLICY: 'off' }).embed(texts)).vectors;
    for (const env of [
      { CACHE_POLICY: 'always', EMBED_CACHE: failing },
      { CACHE_POLICY: 'cost', KV_ADMIT_AFTER: '1', CPU_MS_PER_TOKEN: '100', EMBED_CACHE: failing },
    ]) {
      const app = isolate(env);
      expect((await app.embed(texts)).vectors).toEqual(reference);
      const { counters } = await app.info();
      expect(counters.kvWrites).toBe(3);
      expect(counters.kvErrors).toBe(3);
    }
  });

  it('counts a scripted sequence of requests exactly, and prices it', async () => {
    const [a, b] = shortTexts(2);
    const first = isolate({ CACHE_POLICY: 'cost' });
    // Fresh: one KV read may spare the model load (it finds nothing), then inference.
    const r1 = await first.embed([a]);
    // `a` from the LRU; `b` computed, with no KV read and no Cache API lookup now that the model is loaded (a short
    // text is recomputed faster than it is looked up).
    const r2 = await first.embed([a, b, b]);
    await first.embed([b]);
    const tokensA = r1.promptTokens;
    const tokensB = (r2.promptTokens - tokensA) / 2;
    const info = await first.info();
    expect(info.counters).toMatchObject({
      embeddings: 5,
      lruHits: 2,
      cacheApiHits: 0,
      cacheApiMisses: 1,
      kvReads: 1,
      kvHits: 0,
      kvWrites: 0,
      misses: 2,
      inferences: 2,
      embeddedSequences: 2,
      inferenceTokens: tokensA + tokensB,
      modelLoads: 1,
    });
    const { cost } = info;
    expect(cost.cache_policy).toBe('cost');
    expect(cost.cpu_figure_from).toBe('bundle size');
    expect(cost.cpu_figure_engine).toBe('ort');
    expect(cost.usd_per_million).toEqual({ kv_reads: 0.5, kv_writes: 5, cpu_ms: 0.02 });
    const usd = 1 * 0.5e-6 + ((tokensA + tokensB) * cost.cpu_ms_per_token + cost.model_load_cpu_ms) * 0.02e-6;
    expect(cost.estimated_usd_per_million_embeddings).toBeCloseTo((usd / 5) * 1e6, 9);

    // A second isolate in the same data centre: `a` from the Cache API, nothing loaded, nothing billed but the request.
    const second = isolate({ CACHE_POLICY: 'cost', CPU_MS_PER_TOKEN: '0.5' });
    await second.embed([a]);
    const secondInfo = await second.info();
    expect(secondInfo.loaded).toBe(false);
    expect(secondInfo.counters).toMatchObject({
      embeddings: 1,
      cacheApiHits: 1,
      kvReads: 0,
      inferences: 0,
      modelLoads: 0,
    });
    expect(secondInfo.cost).toMatchObject({ cpu_ms_per_token: 0.5, cpu_figure_from: 'CPU_MS_PER_TOKEN' });
    expect(secondInfo.cost.estimated_usd_per_million_embeddings).toBe(0);
  });

  it('prices inference with the figures of the engine that runs it: the plan engine before and after its load', async () => {
    const manifest = (await defaultBundle.manifest()) as { bytes: { layers: number; total: number } };
    const mb = (bytes: number) => bytes / (1024 * 1024);
    const plan = isolate({ CACHE_POLICY: 'cost' }, workerdRuntime);
    const before = (await plan.info()).cost;
    expect(before).toMatchObject({ cpu_figure_from: 'bundle size', cpu_figure_engine: 'plan' });
    expect(before.cpu_ms_per_token).toBeCloseTo(mb(manifest.bytes.layers) * 0.013, 9);
    expect(before.model_load_cpu_ms).toBeCloseTo(mb(manifest.bytes.total) * 6, 9);
    await plan.embed(shortTexts(1));
    const { cpu_ms_per_token, model_load_cpu_ms, cpu_figure_engine } = before;
    expect((await plan.info()).cost).toMatchObject({ cpu_ms_per_token, model_load_cpu_ms, cpu_figure_engine });

    const ort = isolate({ CACHE_POLICY: 'cost', ENGINE: 'ort' }, workerdRuntime);
    const ortCost = (await ort.info()).cost;
    expect(ortCost.cpu_figure_engine).toBe('ort');
    expect(ortCost.cpu_ms_per_token).toBeCloseTo(mb(manifest.bytes.layers) * 0.06, 9);
  });
});
