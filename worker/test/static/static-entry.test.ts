/**
 * The static-only entry (worker/src/index-static.ts, built without ONNX Runtime) inside workerd: it serves the
 * compiled-in static bundle, a static bundle uploaded to BUNDLE_STORE and named by BUNDLE_HASH (also through the
 * default entry), and answers a transformer bundle in KV with a 503 saying it cannot run one.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { KvBundleIndex } from '../../../bundle-format/kv-layout.js';
import type { BundleManifest } from '../../../bundle-format/manifest.js';
import { defaultBundle } from '../../src/bundle/default-bundle.js';
import type { BundleSource } from '../../src/bundle/source.js';
import { staticDefaultBundle } from '../../src/bundle/static-default-bundle.js';
import type { Env } from '../../src/env.js';
import staticOnly from '../../src/index-static.js';
import { call, uploadBundleEntries } from '../helpers.js';

async function upload(bundle: BundleSource): Promise<KvBundleIndex> {
  return (await uploadBundleEntries(bundle)).index;
}

/** Both bundles in BUNDLE_STORE, uploaded before the first inference (see uploadBundleEntries). */
let kvStatic: KvBundleIndex;
let kvTransformer: KvBundleIndex;
beforeAll(async () => {
  kvStatic = await upload(staticDefaultBundle);
  kvTransformer = await upload(defaultBundle);
});

interface Answer {
  status: number;
  body: { model?: string; data?: Array<{ embedding: number[] }>; error?: { code: string; message: string } };
}

async function embed(worker: typeof staticOnly, input: string[], env: Partial<Env> = {}): Promise<Answer> {
  const response = await call('/v1/embeddings', { body: { input } }, env, worker);
  return { status: response.status, body: (await response.json()) as Answer['body'] };
}

const texts = ['a static-only worker', 'serves vectors without ONNX Runtime'];

describe('the static-only entry (index-static.ts)', () => {
  it('serves the compiled-in static bundle: unit vectors of its dimensions, /info kind static, no WASM heap', async () => {
    const manifest = (await staticDefaultBundle.manifest()) as BundleManifest;
    const { status, body } = await embed(staticOnly, texts);
    expect(status).toBe(200);
    expect(body.model).toBe(manifest.modelName);
    for (const { embedding } of body.data ?? []) {
      expect(embedding.length).toBe(manifest.dimensions);
      expect(Math.hypot(...embedding)).toBeCloseTo(1, 4);
    }
    expect(body.data?.length).toBe(2);
    const info = (await (await call('/info', {}, {}, staticOnly)).json()) as Record<string, unknown>;
    expect(info).toMatchObject({ kind: 'static', bundle_hash: manifest.contentHash, wasm_heap_bytes: null });
  });

  it('serves a static bundle from KV by BUNDLE_HASH, with the compiled-in copy’s vectors, here and in index.ts', async () => {
    const index = kvStatic;
    expect(Object.keys(index.chunks).sort()).toEqual(['embeddings.bin', 'tokenizer.json']);
    expect(index.chunks['embeddings.bin']?.length).toBeGreaterThan(1);
    const env = { BUNDLE_HASH: index.manifest.contentHash };
    // Texts no earlier request embedded: the bundles share a cache namespace, so a cached vector would hide the load.
    const fresh = ['a table read from KV chunks', 'and reassembled in the isolate'];
    const fromKv = await embed(staticOnly, fresh, env);
    expect(fromKv.status).toBe(200);
    const info = (await (await call('/info', {}, env, staticOnly)).json()) as Record<string, unknown>;
    expect(info).toMatchObject({ kind: 'static', bundle_hash: index.manifest.contentHash, loaded: true });

    const { default: transformerEntry } = await import('../../src/index.js');
    const other = ['served by the default entry', 'from the same KV bundle'];
    const viaDefaultEntry = await embed(transformerEntry, other, env);
    expect(viaDefaultEntry.status).toBe(200);
    const kvInfo = (await (await call('/info', {}, env, transformerEntry)).json()) as Record<string, unknown>;
    expect(kvInfo).toMatchObject({ kind: 'static', loaded: true });

    // CACHE_POLICY off: the compiled-in bundle computes these itself rather than reading what the KV bundle cached.
    const computed = await embed(staticOnly, [...fresh, ...other], { CACHE_POLICY: 'off' });
    const compiled = computed.body.data?.map((d) => d.embedding) ?? [];
    expect(compiled.length).toBe(4);
    const vectors = [...(fromKv.body.data ?? []), ...(viaDefaultEntry.body.data ?? [])].map((d) => d.embedding);
    expect(vectors).toEqual(compiled);
  });

  it('answers a transformer bundle in KV with 503 saying this worker has no ONNX Runtime', async () => {
    const index = kvTransformer;
    const { status, body } = await embed(staticOnly, texts, { BUNDLE_HASH: index.manifest.contentHash });
    expect(status).toBe(503);
    expect(body.error?.code).toBe('model_unavailable');
    expect(body.error?.message).toContain('static bundles only');
  });
});
