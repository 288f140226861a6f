/**
 * Hedged lookups: with the model loaded, a miss does not wait for a slow KV read past HEDGE_AFTER_MS; a read that
 * answers in time is still served; a fresh isolate still waits for a cached answer rather than load the model. KV here
 * is Miniflare's, delayed by a fixed time, and KV_TIMEOUT_MS is far above it, so only hedging can cut the wait short.
 */
import { describe, expect, it } from 'vitest';
import { defaultBundle } from '../../src/bundle/default-bundle.js';
import type { KvNamespaceLike } from '../../src/env.js';
import { createApp } from '../../src/http/app.js';
import { workerdOrt } from '../../src/runtime/ort-workerd.js';
import { call, testEnv } from '../helpers.js';

const kv = testEnv.EMBED_CACHE as KvNamespaceLike;

/** Miniflare's KV, each read answered `ms` late. */
function delayedKv(ms: number): KvNamespaceLike & { reads: number } {
  const delayed = {
    reads: 0,
    async get(key: string, options: Parameters<KvNamespaceLike['get']>[1]) {
      delayed.reads++;
      await new Promise((resolve) => setTimeout(resolve, ms));
      return kv.get(key, options);
    },
    put: (key: string, value: ArrayBuffer, options?: { expirationTtl?: number }) => kv.put(key, value, options),
  };
  return delayed;
}

const freshApp = () => createApp({ bundle: defaultBundle, ort: workerdOrt });

async function embed(app: ReturnType<typeof freshApp>, input: string, env: Record<string, unknown>) {
  const response = await call('/v1/embeddings', { body: { input } }, env, app);
  expect(response.status).toBe(200);
  const body = (await response.json()) as { data: Array<{ embedding: number[] }> };
  return { response, vector: body.data[0].embedding };
}

async function info(app: ReturnType<typeof freshApp>) {
  return (await (await call('/info', {}, {}, app)).json()) as { loaded: boolean; counters: Record<string, number> };
}

// KV is read for every miss under `always`, so these tests do not depend on the cost policy's choice to read.
const base = { CACHE_POLICY: 'always', KV_TIMEOUT_MS: '60000' };

describe('hedged lookups', () => {
  it('computes a miss when KV has not answered by the deadline, with the vector a clean run gives', async () => {
    const app = freshApp();
    await embed(app, 'hedge: load the model first', { ...base, EMBED_CACHE: undefined });
    const slow = delayedKv(1500);
    const { response, vector } = await embed(app, 'hedge: a new text behind slow KV', {
      ...base,
      EMBED_CACHE: slow,
      HEDGE_AFTER_MS: '20',
    });
    expect(response.headers.get('x-cache-hedged')).toBe('true');
    expect(response.headers.get('x-cache-misses')).toBe('1');
    expect(slow.reads).toBe(1);
    const clean = await embed(freshApp(), 'hedge: a new text behind slow KV', { ...base, EMBED_CACHE: undefined });
    expect(vector).toEqual(clean.vector);
  });

  it('serves a KV hit that answers before the deadline, with no inference', async () => {
    const text = 'hedge: a text already in KV';
    const writer = freshApp();
    await embed(writer, text, base);
    const app = freshApp();
    await embed(app, 'hedge: load the model', { ...base, EMBED_CACHE: undefined });
    const before = (await info(app)).counters.inferences;
    const { response } = await embed(app, text, { ...base, EMBED_CACHE: delayedKv(5), HEDGE_AFTER_MS: '2000' });
    expect(response.headers.get('x-cache-hits')).toBe('1');
    expect(response.headers.get('x-cache-hedged')).toBeNull();
    expect((await info(app)).counters.inferences).toBe(before);
  });

  it('does not hedge in a fresh isolate: a slow cached answer wins and the model stays unloaded', async () => {
    const text = 'hedge: cached, read by a fresh isolate';
    await embed(freshApp(), text, base);
    const app = freshApp();
    const { response } = await embed(app, text, { ...base, EMBED_CACHE: delayedKv(300), HEDGE_AFTER_MS: '0' });
    expect(response.headers.get('x-cache-hits')).toBe('1');
    expect(response.headers.get('x-cache-hedged')).toBeNull();
    expect((await info(app)).loaded).toBe(false);
  });
});
