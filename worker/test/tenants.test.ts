/**
 * Tenants and bundles in KV, inside workerd: a bundle uploaded to BUNDLE_STORE (chunked, content-addressed) served by
 * BUNDLE_HASH with the same vectors as the compiled-in copy; a corrupt chunk answered with 503 naming it, /health not
 * ready, and recovery once the chunk is repaired; cache keys that never collide across tenants or bundles; API keys
 * that belong to one tenant.
 */
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { bundleIndexKey, chunkKey, type KvBundleIndex, type KvEntry } from '../../bundle-format/kv-layout.js';
import { defaultBundle } from '../src/bundle/default-bundle.js';
import { kvBundle } from '../src/bundle/kv-bundle.js';
import { encodeCachedEmbedding } from '../src/cache/codec.js';
import { cacheKey } from '../src/cache/key.js';
import type { Env, KvNamespaceLike } from '../src/env.js';
import { createApp } from '../src/http/app.js';
import { appFor } from '../src/index.js';
import { workerdOrt } from '../src/runtime/ort-workerd.js';
import { call, cosine, info, testEnv, uploadBundleEntries } from './helpers.js';

const store = testEnv.BUNDLE_STORE as unknown as KVNamespace;
const cache = testEnv.EMBED_CACHE as unknown as KVNamespace;

/**
 * The default bundle as `upload-bundle` would store it, in 1 MiB chunks: uploaded once, before the first inference, and
 * shared by the tests (see uploadBundleEntries for why an upload after an inference can hang workerd).
 */
let uploaded: { index: KvBundleIndex; entries: KvEntry[] };
beforeAll(async () => {
  uploaded = await uploadBundleEntries(defaultBundle);
});

async function embedding(
  app: ReturnType<typeof createApp> | undefined,
  input: string,
  env: Partial<Env> = {},
): Promise<number[]> {
  const response = await call('/v1/embeddings', { body: { input } }, env, app);
  if (response.status !== 200) throw new Error(`status ${response.status}: ${await response.text()}`);
  return ((await response.json()) as { data: Array<{ embedding: number[] }> }).data[0].embedding;
}

async function errorOf(
  response: Response,
): Promise<{ status: number; code: string; message: string; retryAfter: string | null }> {
  expect(response.headers.get('content-type')).toContain('application/json');
  const body = (await response.json()) as { error: { code: string; message: string } };
  return {
    status: response.status,
    code: body.error.code,
    message: body.error.message,
    retryAfter: response.headers.get('retry-after'),
  };
}

describe('a bundle in KV (BUNDLE_STORE + BUNDLE_HASH)', () => {
  it('is served by BUNDLE_HASH with the vectors of the compiled-in bundle', async () => {
    const { index, entries } = uploaded;
    expect(index.chunks['model.onnx']!.length).toBeGreaterThan(1);
    expect(entries.every((entry) => entry.value.byteLength <= 25 * 1024 * 1024)).toBe(true);
    const hash = index.manifest.contentHash;
    const env = { BUNDLE_HASH: hash };
    const app = appFor({ ...testEnv, ...env });
    const text = 'served from a bundle in KV';
    const response = await call('/v1/embeddings', { body: { input: text } }, env, app);
    expect(response.headers.get('x-cache-misses')).toBe('1');
    const fromKv = ((await response.json()) as { data: Array<{ embedding: number[] }> }).data[0].embedding;
    const kvInfo = (await (await call('/info', {}, env, app)).json()) as {
      bundle_hash: string;
      loaded: boolean;
      counters: { inferences: number };
    };
    expect(kvInfo).toMatchObject({ bundle_hash: hash, loaded: true });
    expect(kvInfo.counters.inferences).toBeGreaterThan(0);
    // The compiled-in bundle, through another cache key (truncation direction), so it runs its own inference.
    const compiledIn = await call('/embed', { body: { inputs: [text], truncation_direction: 'left' } });
    expect(compiledIn.headers.get('x-cache-misses')).toBe('1');
    expect(cosine(fromKv, ((await compiledIn.json()) as number[][])[0])).toBeGreaterThanOrEqual(0.9999);
  });

  it('answers 503 naming a corrupt chunk, /health not ready, and recovers once the chunk is repaired', async () => {
    const { index } = uploaded;
    const victim = index.chunks['model.onnx']![2];
    const good = await store.get(chunkKey(victim.sha256), 'arrayBuffer');
    const corrupt = new Uint8Array(good!.slice(0));
    corrupt[100] ^= 0xff;
    await store.put(chunkKey(victim.sha256), corrupt);
    // The later tests share the upload: the chunk is good again even if this test fails before its own repair.
    onTestFailed(() => store.put(chunkKey(victim.sha256), good!));
    const app = createApp({ bundle: kvBundle(store, index.manifest.contentHash), ort: workerdOrt });

    const failed = await errorOf(
      await call('/v1/embeddings', { body: { input: 'never from a corrupt model' } }, {}, app),
    );
    expect(failed).toMatchObject({ status: 503, code: 'model_unavailable', retryAfter: '5' });
    expect(failed.message).toContain(`chunk 3/${index.chunks['model.onnx']!.length} of model.onnx`);
    expect(failed.message).toContain('corrupt');
    const health = await errorOf(await call('/health', {}, {}, app));
    expect(health).toMatchObject({ status: 503, code: 'model_unavailable', retryAfter: '5' });

    await store.put(chunkKey(victim.sha256), good!);
    // The next request loads the repaired model; /health is ready again.
    expect((await embedding(app, 'after the repair')).length).toBeGreaterThan(0);
    expect(await (await call('/health', {}, {}, app)).json()).toEqual({ status: 'ok' });
  });

  it('answers 503 with a clear message for an unknown hash or a missing binding, 500 config_invalid for a malformed hash', async () => {
    const unknown = 'f'.repeat(64);
    const cases: Array<[Partial<Env>, string]> = [
      [{ BUNDLE_HASH: unknown }, 'missing from BUNDLE_STORE'],
      [{ BUNDLE_HASH: unknown.replace(/^f/, 'e'), BUNDLE_STORE: undefined }, 'no BUNDLE_STORE'],
    ];
    // A malformed hash is a config error like any other bad var (npm run deploy:dry-run refuses it before a deploy).
    const malformed = await errorOf(
      await call('/health', {}, { BUNDLE_HASH: 'not-a-hash' }, appFor({ ...testEnv, BUNDLE_HASH: 'not-a-hash' })),
    );
    expect(malformed).toMatchObject({ status: 500, code: 'config_invalid' });
    expect(malformed.message).toContain('BUNDLE_HASH');
    for (const [env, message] of cases) {
      const app = appFor({ ...testEnv, ...env });
      for (const path of ['/health', '/v1/embeddings']) {
        const response = await call(path, path === '/health' ? {} : { body: { input: 'x' } }, env, app);
        const error = await errorOf(response);
        expect(error).toMatchObject({ status: 503, code: 'model_unavailable' });
        expect(error.message).toContain(message);
      }
    }
  });

  it('refuses an index whose manifest is another bundle', async () => {
    const { index } = uploaded;
    const other = 'a'.repeat(64);
    await store.put(bundleIndexKey(other), JSON.stringify(index));
    const error = await errorOf(
      await call('/health', {}, {}, createApp({ bundle: kvBundle(store, other), ort: workerdOrt })),
    );
    expect(error.status).toBe(503);
    expect(error.message).toContain(`holds bundle ${index.manifest.contentHash}`);
  });
});

describe('tenants', () => {
  const acme = { TENANT_ID: 'acme' };
  const globex = { TENANT_ID: 'globex' };

  it('never share a cache entry, even in one KV namespace and one isolate', async () => {
    // CACHE_POLICY=always: every miss is read from and written to KV, the tier tenants could collide in.
    const acmeKv = { ...acme, CACHE_POLICY: 'always' };
    const globexKv = { ...globex, CACHE_POLICY: 'always' };
    const text = 'a text both tenants embed';
    const first = await call('/v1/embeddings', { body: { input: text } }, acmeKv);
    expect(first.headers.get('x-cache-misses')).toBe('1');
    const other = await call('/v1/embeddings', { body: { input: text } }, globexKv);
    expect(other.headers.get('x-cache-misses')).toBe('1');
    const { bundle_hash, dimensions } = await info();
    const key = await cacheKey(bundle_hash, { truncationDirection: 'right' }, { text });
    const keys = (await cache.list({ prefix: 't:' })).keys.map((entry) => entry.name);
    expect(keys).toEqual(expect.arrayContaining([`t:acme:${key}`, `t:globex:${key}`]));

    // A value planted under acme's key is seen by acme only.
    const planted = 'planted for acme only';
    const plantedKey = await cacheKey(bundle_hash, { truncationDirection: 'right' }, { text: planted });
    const vector = new Float32Array(dimensions);
    vector[0] = 1;
    await cache.put(`t:acme:${plantedKey}`, encodeCachedEmbedding({ tokenCount: 3, vector }));
    expect((await embedding(undefined, planted, acmeKv))[0]).toBe(1);
    const real = await embedding(undefined, planted, globexKv);
    expect(real[0]).not.toBe(1);
    expect(cosine(real, await embedding(undefined, planted))).toBeGreaterThanOrEqual(0.9999);
  });

  it('refuse a tenant id that could break out of its key prefix', async () => {
    const keys = async () => (await cache.list()).keys.map((entry) => entry.name).sort();
    const before = await keys();
    // A misconfigured deployment is the server's fault: a JSON 500 config_invalid naming the var, not echoing its value.
    const error = await errorOf(
      await call('/v1/embeddings', { body: { input: 'never cached under a broken prefix' } }, { TENANT_ID: 'acme:e1' }),
    );
    expect(error).toMatchObject({ status: 500, code: 'config_invalid' });
    expect(error.message).toContain('TENANT_ID');
    expect(error.message).not.toContain('acme:e1');
    // Nothing was embedded or cached for it ("t:acme:e1:..." would sit among acme's own keys).
    expect(await keys()).toEqual(before);
  });

  it("refuse another tenant's API key", async () => {
    const a = { ...acme, API_KEYS: 'acme-key-1' };
    const b = { ...globex, API_KEYS: 'globex-key-1,globex-key-2' };
    const as = (key: string) => ({ body: { input: 'auth per tenant' }, headers: { authorization: `Bearer ${key}` } });
    expect((await call('/v1/embeddings', as('acme-key-1'), a)).status).toBe(200);
    expect((await call('/v1/embeddings', as('globex-key-2'), b)).status).toBe(200);
    expect((await errorOf(await call('/v1/embeddings', as('acme-key-1'), b))).status).toBe(401);
    expect((await errorOf(await call('/v1/embeddings', as('globex-key-1'), a))).status).toBe(401);
    expect((await errorOf(await call('/info', { headers: { authorization: 'Bearer acme-key-1' } }, b))).status).toBe(
      401,
    );
  });
});

describe('faults', () => {
  it('/health retries a failed model load in the background and turns ready once the cause is gone', async () => {
    let broken = true;
    const flaky = {
      ...defaultBundle,
      model: async () => {
        if (broken) throw new Error('model storage unavailable');
        return defaultBundle.model();
      },
    };
    const app = createApp({ bundle: flaky, ort: workerdOrt });
    const env = { RETRY_AFTER_SECONDS: '1' };
    expect((await errorOf(await call('/v1/embeddings', { body: { input: 'x' } }, env, app))).retryAfter).toBe('1');
    expect(await errorOf(await call('/health', {}, env, app))).toMatchObject({ status: 503, retryAfter: '1' });
    broken = false;
    await new Promise((resolve) => setTimeout(resolve, 1100));
    // This probe starts the reload (waited for by the helper); the next one sees the model loaded, with no API traffic.
    await call('/health', {}, env, app);
    expect(await (await call('/health', {}, env, app)).json()).toEqual({ status: 'ok' });
    expect(((await (await call('/info', {}, env, app)).json()) as { loaded: boolean }).loaded).toBe(true);
  });

  it('a bundle store that throws answers 503 naming the read, then serves once KV is back', async () => {
    const { index } = uploaded;
    let failing = true;
    const flakyStore: Pick<KvNamespaceLike, 'get'> = {
      get: async (key) => {
        if (failing) throw new Error('KV unavailable');
        return store.get(key, 'arrayBuffer');
      },
    };
    const app = createApp({ bundle: kvBundle(flakyStore, index.manifest.contentHash), ort: workerdOrt });
    const error = await errorOf(await call('/health', {}, {}, app));
    expect(error).toMatchObject({ status: 503, code: 'model_unavailable' });
    expect(error.message).toContain('reading the bundle index from KV failed');
    failing = false;
    expect(await (await call('/health', {}, {}, app)).json()).toEqual({ status: 'ok' });
  });

  it('a slow KV write does not delay the response, and a garbled cached value is a miss, not a wrong vector', async () => {
    let putDone = false;
    const slow: KvNamespaceLike = {
      get: async () => new ArrayBuffer(7),
      put: () =>
        new Promise<void>((resolve) =>
          setTimeout(() => {
            putDone = true;
            resolve();
          }, 300),
        ),
    };
    const text = 'slow writes, garbled reads';
    const ctx = createExecutionContext();
    const request = new Request('http://edge-embed.test/v1/embeddings', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input: text }),
    });
    const response = await appFor(testEnv).fetch(
      request,
      { ...testEnv, EMBED_CACHE: slow, CACHE_POLICY: 'always' },
      ctx,
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('x-cache-misses')).toBe('1');
    expect(putDone).toBe(false);
    const vector = ((await response.json()) as { data: Array<{ embedding: number[] }> }).data[0].embedding;
    await waitOnExecutionContext(ctx);
    expect(putDone).toBe(true);
    const [reference] = (await (
      await call('/embed', { body: { inputs: [text], truncation_direction: 'left' } })
    ).json()) as number[][];
    expect(cosine(vector, reference)).toBeGreaterThanOrEqual(0.9999);
  });
});

describe('the KV-only entry (worker/src/index-kv.ts)', () => {
  it('serves the BUNDLE_HASH bundle and answers 503 without one', async () => {
    const { default: kvOnly } = await import('../src/index-kv.js');
    const { index } = uploaded;
    const ok = await call('/info', {}, { BUNDLE_HASH: index.manifest.contentHash }, kvOnly);
    expect(((await ok.json()) as { bundle_hash: string }).bundle_hash).toBe(index.manifest.contentHash);
    const none = await errorOf(await call('/health', {}, { BUNDLE_HASH: '' }, kvOnly));
    expect(none).toMatchObject({ status: 503, code: 'model_unavailable' });
    expect(none.message).toContain('BUNDLE_HASH');
  });
});
