/**
 * The ENGINE var inside workerd: the encoder plan engine and ONNX Runtime give the same vectors on the default bundle
 * and the same ranking on the reranker fixture (a cross-encoder whose plan has no table of both token types stays on
 * ONNX Runtime), /info and /v1/models say which one runs, each engine reads only its own files, and a bundle whose
 * plan is missing, corrupt or of an unknown version is answered with a 503 naming why (compiled in or from KV), never
 * with vectors.
 */
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { ENCODER_PLAN_VERSION, type EncoderPlan, parseEncoderPlan } from '../../../bundle-format/encoder-plan.js';
import { bundleIndexKey, chunkKey } from '../../../bundle-format/kv-layout.js';
import type { BundleManifest } from '../../../bundle-format/manifest.js';
import { defaultBundle } from '../../src/bundle/default-bundle.js';
import { kvBundle } from '../../src/bundle/kv-bundle.js';
import { rerankerFixtureBundle } from '../../src/bundle/reranker-fixture-bundle.js';
import type { BundleSource } from '../../src/bundle/source.js';
import { staticDefaultBundle } from '../../src/bundle/static-default-bundle.js';
import { choiceReadsPlan, chooseEngine } from '../../src/embedding/engine-choice.js';
import type { Env } from '../../src/env.js';
import { createApp } from '../../src/http/app.js';
import worker from '../../src/index.js';
import kvPlanEntry from '../../src/index-kv-plan.js';
import planEntry from '../../src/index-plan.js';
import { planOnlyOrt } from '../../src/runtime/no-ort.js';
import { workerdRuntime } from '../../src/runtime/workerd.js';
import { call, cosine, mixedTexts, testEnv, uploadBundleEntries } from '../helpers.js';

type Fetcher = Parameters<typeof call>[3];

/** No cache tier: every request runs the engine. */
const UNCACHED: Partial<Env> = { CACHE_POLICY: 'off', LRU_MAX_BYTES: '0', EMBED_CACHE: undefined };

interface Answer {
  status: number;
  vectors: number[][];
  error?: { code: string; message: string };
}

async function embed(app: Fetcher, input: string[], env: Partial<Env> = {}): Promise<Answer> {
  const response = await call('/v1/embeddings', { body: { input } }, { ...UNCACHED, ...env }, app);
  const body = (await response.json()) as { data?: Array<{ embedding: number[] }>; error?: Answer['error'] };
  return { status: response.status, vectors: body.data?.map((d) => d.embedding) ?? [], error: body.error };
}

async function infoOf(app: Fetcher, env: Partial<Env> = {}) {
  const response = await call('/info', {}, env, app);
  return (await response.json()) as {
    engine: string | null;
    loaded: boolean;
    wasm_heap_bytes: number | null;
    counters: { inferences: number };
    models: Array<{ id: string; kind: string; engine: string | null }>;
  };
}

/** The default bundle with some of its parts replaced. */
function variant(parts: Partial<BundleSource>): BundleSource {
  const { staticCompanion: _, reranker: __, ...rest } = defaultBundle;
  return { ...rest, ...parts };
}

async function defaultPlan(): Promise<Record<string, unknown>> {
  const files = await defaultBundle.planFiles?.();
  if (files === undefined) throw new Error('the compiled-in default bundle has no plan');
  return structuredClone(files.plan) as Record<string, unknown>;
}

const withPlan = (plan: unknown, weights?: Uint8Array): Partial<BundleSource> => ({
  planFiles: async () => {
    const original = await defaultBundle.planFiles?.();
    return { plan, weights: async () => weights ?? ((await original?.weights()) as Uint8Array) };
  },
});

// The default bundle's and the reranker fixture's chunks in KV before the first inference: the KV tests' uploads of
// them and of their variants then write little more than their index (see uploadBundleEntries for why an upload after
// an inference can hang workerd).
beforeAll(async () => {
  await uploadBundleEntries(defaultBundle);
  await uploadBundleEntries(rerankerFixtureBundle);
});

const refuse = () => {
  throw new Error('this engine must not read this file');
};

/**
 * The reranker fixture's plan.json, its token-type table kept (undefined), cut to one row ([1, width]: the query's
 * type only) or removed (0).
 */
async function rerankerPlanJson(tokenTypeRows?: 0 | 1): Promise<Record<string, unknown>> {
  const files = await rerankerFixtureBundle.planFiles?.();
  if (files === undefined) throw new Error('the compiled-in reranker fixture has no plan');
  const plan = structuredClone(files.plan) as EncoderPlan;
  const table = plan.embeddings.tokenType;
  if (table === null || table.shape.length !== 2 || table.shape[0] < 2) {
    throw new Error("the reranker fixture's plan has no table of two token types to cut");
  }
  if (tokenTypeRows === 0) plan.embeddings.tokenType = null;
  if (tokenTypeRows === 1) plan.embeddings.tokenType = { ...table, shape: [1, table.shape[1]] };
  return plan as unknown as Record<string, unknown>;
}

async function rerankerPlanOf({ tokenTypeRows }: { tokenTypeRows?: 0 | 1 }): Promise<EncoderPlan> {
  const weights = (await (await rerankerFixtureBundle.planFiles?.())?.weights()) as Uint8Array;
  return parseEncoderPlan(await rerankerPlanJson(tokenTypeRows), weights.byteLength);
}

/** The reranker fixture with its plan's token-type table cut (rerankerPlanJson). */
async function rerankerCut(tokenTypeRows: 0 | 1): Promise<BundleSource> {
  const plan = await rerankerPlanJson(tokenTypeRows);
  const original = rerankerFixtureBundle.planFiles;
  return {
    ...rerankerFixtureBundle,
    planFiles: async () => ({ plan, weights: async () => (await original?.())?.weights() as Promise<Uint8Array> }),
  };
}

/** An app serving the default bundle with this reranker beside it. */
const withReranker = (reranker: BundleSource) => createApp({ bundle: { ...variant({}), reranker }, ...workerdRuntime });

interface Ranked {
  status: number;
  ranked: Array<{ index: number; score: number }>;
  error?: { code: string; message: string };
}

/** TEI's /rerank with raw scores (logits), best first. */
async function rerank(app: Fetcher, query: string, texts: string[], env: Partial<Env> = {}): Promise<Ranked> {
  const response = await call('/rerank', { body: { query, texts, raw_scores: true } }, { ...UNCACHED, ...env }, app);
  const body = (await response.json()) as Ranked['ranked'] | { error: Ranked['error'] };
  return Array.isArray(body)
    ? { status: response.status, ranked: body }
    : { status: response.status, ranked: [], error: body.error };
}

describe('ENGINE on the default bundle', () => {
  it('plan and ort give vectors with cosine >= 0.999 per text, and /info says which engine ran', async () => {
    const planApp = createApp({ bundle: defaultBundle, ...workerdRuntime });
    const ortApp = createApp({ bundle: defaultBundle, ...workerdRuntime });
    const texts = [...mixedTexts('engine parity', 24), 'a', 'Hello, world!', 'ÜBER naïve café — 東京 🙂'];
    const plan = await embed(planApp, texts, { ENGINE: 'plan' });
    const ort = await embed(ortApp, texts, { ENGINE: 'ort' });
    expect([plan.status, ort.status]).toEqual([200, 200]);
    expect(plan.vectors).toHaveLength(texts.length);
    const cosines = plan.vectors.map((vector, i) => cosine(vector, ort.vectors[i]));
    expect(Math.min(...cosines)).toBeGreaterThanOrEqual(0.999);

    const planInfo = await infoOf(planApp, { ENGINE: 'plan' });
    const ortInfo = await infoOf(ortApp, { ENGINE: 'ort' });
    expect(planInfo).toMatchObject({ engine: 'plan', loaded: true });
    expect(ortInfo).toMatchObject({ engine: 'ort', loaded: true });
    expect(planInfo.counters.inferences).toBeGreaterThan(0);
    // Both apps share the isolate, so the heap counts ORT's memory too; the plan's alone is several MiB of weights.
    expect(planInfo.wasm_heap_bytes).toBeGreaterThan(1024 * 1024);
  });

  it('auto (the default) serves the default bundle and the reranker fixture (its plan has both token-type rows) with the plan, static with its table', async () => {
    const app = createApp({ bundle: defaultBundle, ...workerdRuntime });
    const before = await infoOf(app);
    // Before the model loads, /info says the engine a load would use.
    expect(before).toMatchObject({ engine: 'plan', loaded: false });
    expect((await embed(app, ['auto picks the plan'])).status).toBe(200);
    const after = await infoOf(app);
    expect(after).toMatchObject({ engine: 'plan', loaded: true });
    expect(after.models.map(({ kind, engine }) => [kind, engine])).toEqual([
      ['transformer', 'plan'],
      ['cross-encoder', 'plan'],
    ]);
    const listed = (await (await call('/v1/models', {}, {}, app)).json()) as { data: Array<{ engine: string }> };
    expect(listed.data.map((model) => model.engine)).toEqual(['plan', 'plan']);
    const models = { MODELS: 'use=default,static=static-default' };
    expect((await infoOf(worker, models)).models.map((model) => model.engine)).toEqual(['plan', 'static']);
    expect((await infoOf(worker, { ...models, ENGINE: 'ort' })).models.map((model) => model.engine)).toEqual([
      'ort',
      'static',
    ]);
  });

  it('switches engine when ENGINE changes within an isolate, the vectors staying the same to 0.999', async () => {
    const app = createApp({ bundle: defaultBundle, ...workerdRuntime });
    const texts = ['one engine, then the other', 'and back'];
    const first = await embed(app, texts, { ENGINE: 'ort' });
    expect((await infoOf(app, { ENGINE: 'ort' })).engine).toBe('ort');
    const second = await embed(app, texts, { ENGINE: 'auto' });
    expect((await infoOf(app, { ENGINE: 'auto' })).engine).toBe('plan');
    for (const [i, vector] of first.vectors.entries()) expect(cosine(vector, second.vectors[i])).toBeGreaterThan(0.999);
  });

  it('the plan engine never reads model.onnx, and ONNX Runtime never reads the plan', async () => {
    const noOnnx = createApp({ bundle: variant({ model: async () => refuse() }), ...workerdRuntime });
    expect((await embed(noOnnx, ['plan only'], { ENGINE: 'plan' })).status).toBe(200);
    const noPlan = createApp({ bundle: variant({ planFiles: async () => refuse() }), ...workerdRuntime });
    expect((await embed(noPlan, ['ort only'], { ENGINE: 'ort' })).status).toBe(200);
  });

  it('an invalid ENGINE is a 500 config_invalid naming the var, like every other var', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const response = await call('/v1/embeddings', { body: { input: 'x' } }, { ENGINE: 'onnx' });
    expect(response.status).toBe(500);
    const { error } = (await response.json()) as { error: { code: string; message: string } };
    expect(error.code).toBe('config_invalid');
    expect(error.message).toContain('ENGINE: must be auto, plan or ort');
    vi.restoreAllMocks();
  });
});

describe('a bundle the plan engine cannot serve', () => {
  const quiet = () => vi.spyOn(console, 'error').mockImplementation(() => undefined);

  async function refusal(bundle: BundleSource, env: Partial<Env>): Promise<string> {
    quiet();
    const app = createApp({ bundle, ...workerdRuntime });
    const answer = await embed(app, ['no vectors from a bad plan'], env);
    vi.restoreAllMocks();
    expect(answer.status).toBe(503);
    expect(answer.vectors).toEqual([]);
    expect(answer.error?.code).toBe('model_unavailable');
    return answer.error?.message ?? '';
  }

  it('ENGINE=plan on a bundle without a plan: 503 saying so; auto serves it with ONNX Runtime', async () => {
    const manifest = structuredClone((await defaultBundle.manifest()) as BundleManifest);
    delete manifest.files['plan.json'];
    delete manifest.files['plan.bin'];
    const planless = variant({ manifest: async () => manifest, planFiles: undefined });
    expect(await refusal(planless, { ENGINE: 'plan' })).toContain(
      'ENGINE=plan, but the bundle has no encoder plan (plan.json and plan.bin)',
    );
    const app = createApp({ bundle: planless, ...workerdRuntime });
    expect((await embed(app, ['served by ort'])).status).toBe(200);
    expect((await infoOf(app)).engine).toBe('ort');
  });

  it('a plan of an unknown planVersion: 503 naming the version, under auto and plan; ENGINE=ort still serves', async () => {
    const plan = { ...(await defaultPlan()), planVersion: ENCODER_PLAN_VERSION + 1 };
    const future = variant(withPlan(plan));
    for (const engine of ['auto', 'plan']) {
      expect(await refusal(future, { ENGINE: engine })).toContain(
        `encoder plan version ${ENCODER_PLAN_VERSION + 1} is not supported`,
      );
    }
    const app = createApp({ bundle: future, ...workerdRuntime });
    expect((await embed(app, ['the reference engine'], { ENGINE: 'ort' })).status).toBe(200);
  });

  it('a corrupt plan (malformed, or plan.bin of the wrong size): 503 naming the fault', async () => {
    const plan = await defaultPlan();
    expect(await refusal(variant(withPlan({ ...plan, layers: 'none' })), {})).toMatch(
      /the bundle's encoder plan is refused: invalid encoder plan: layers: /,
    );
    const weights = (await (await defaultBundle.planFiles?.())?.weights()) as Uint8Array;
    expect(await refusal(variant(withPlan(plan, weights.subarray(0, 1000))), {})).toContain(
      'invalid encoder plan: plan.bin has 1000 bytes, the plan expects',
    );
  });

  it('from KV: serves an uploaded plan; a plan of an unknown version or a corrupt plan.json chunk is a 503', async () => {
    const good = await uploadBundleEntries(defaultBundle);
    expect(Object.keys(good.index.chunks).sort()).toEqual(['model.onnx', 'plan.bin', 'plan.json', 'tokenizer.json']);
    const kvEnv = { BUNDLE_HASH: good.index.manifest.contentHash };
    const served = await embed(worker, ['a plan read from KV chunks'], kvEnv);
    expect(served.status).toBe(200);
    expect(await infoOf(worker, kvEnv)).toMatchObject({ engine: 'plan', loaded: true });
    const compiled = await embed(worker, ['a plan read from KV chunks']);
    expect(cosine(served.vectors[0], compiled.vectors[0])).toBeGreaterThan(0.9999);

    const plan = { ...(await defaultPlan()), planVersion: ENCODER_PLAN_VERSION + 1 };
    const future = await uploadBundleEntries(variant(withPlan(plan)));
    quiet();
    const refused = await embed(worker, ['never wrong vectors'], { BUNDLE_HASH: future.index.manifest.contentHash });
    expect([refused.status, refused.error?.message]).toEqual([
      503,
      expect.stringContaining(`encoder plan version ${ENCODER_PLAN_VERSION + 1} is not supported`),
    ]);

    // A plan.json of its own (an extra key the schema ignores), so the chunk overwritten is no other bundle's.
    const marked = { ...(await defaultPlan()), edgeEmbedTestMarker: 'corrupt chunk' };
    const other = await uploadBundleEntries(variant(withPlan(marked)));
    const planChunk = other.index.chunks['plan.json']?.[0].sha256 as string;
    await (testEnv.BUNDLE_STORE as unknown as KVNamespace).put(chunkKey(planChunk), new TextEncoder().encode('{}'));
    const corrupt = await embed(worker, ['never wrong vectors'], { BUNDLE_HASH: other.index.manifest.contentHash });
    vi.restoreAllMocks();
    expect([corrupt.status, corrupt.error?.message]).toEqual([503, expect.stringContaining('of plan.json')]);
  });

  it('from KV, an index without the plan files its manifest lists (an older upload): auto uses ONNX Runtime, plan is a 503', async () => {
    const { index } = await uploadBundleEntries(defaultBundle);
    const { 'plan.json': _, 'plan.bin': __, ...olderChunks } = index.chunks;
    const olderIndex = { ...index, chunks: olderChunks };
    const store = testEnv.BUNDLE_STORE as unknown as KVNamespace;
    await store.put(bundleIndexKey(index.manifest.contentHash), JSON.stringify(olderIndex));
    const env = { BUNDLE_HASH: index.manifest.contentHash };
    const app = createApp({ bundle: kvBundle(testEnv.BUNDLE_STORE, index.manifest.contentHash), ...workerdRuntime });
    expect((await embed(app, ['an old upload'], env)).status).toBe(200);
    expect((await infoOf(app, env)).engine).toBe('ort');
    quiet();
    const pinned = await embed(app, ['an old upload'], { ...env, ENGINE: 'plan' });
    vi.restoreAllMocks();
    expect([pinned.status, pinned.error?.message]).toEqual([503, expect.stringContaining('holds no plan files')]);
    await store.put(bundleIndexKey(index.manifest.contentHash), JSON.stringify(index));
  });
});

describe('a cross-encoder on the plan engine', () => {
  const query = 'how do I bake a chocolate cake';
  /** 20 documents of about 10 to 60 tokens, as issue 14's re-ranking goal has. */
  const documents = [
    'how do I bake a chocolate cake with flour, sugar, eggs and cocoa',
    'The stock market closed lower on Friday after weak earnings reports.',
    'The home team won the football championship in extra time.',
    'how do I bake bread at home',
    'A man is playing a guitar on the street corner.',
    ...mixedTexts('cake pairs', 15),
  ];

  /**
   * The plan engine runs the int8 arithmetic of the int8-compute graph ONNX Runtime runs, so the two differ only in
   * float summation order: 2.9e-6 at most on these 20 logits (measured 2026-12-01 12:00 UTC), against 0.17 when the
   * documents' token type is ignored (commit f66ae89). 1e-4 leaves 30x room and is far under the smallest gap
   * between neighbouring scores here (0.029), so the order is decided.
   */
  const LOGIT_TOLERANCE = 1e-4;

  it('/rerank under ENGINE=plan and ENGINE=ort: the same order, logits within 1e-4, and /info says which ran', async () => {
    const planApp = withReranker(rerankerFixtureBundle);
    const ortApp = withReranker(rerankerFixtureBundle);
    const plan = await rerank(planApp, query, documents, { ENGINE: 'plan' });
    const ort = await rerank(ortApp, query, documents, { ENGINE: 'ort' });
    expect([plan.status, ort.status]).toEqual([200, 200]);
    expect(plan.ranked).toHaveLength(documents.length);
    const gaps = ort.ranked.slice(1).map(({ score }, i) => ort.ranked[i].score - score);
    expect(Math.min(...gaps)).toBeGreaterThan(2 * LOGIT_TOLERANCE);
    expect(plan.ranked.map(({ index }) => index)).toEqual(ort.ranked.map(({ index }) => index));
    const ortScore = new Map(ort.ranked.map(({ index, score }) => [index, score]));
    for (const { index, score } of plan.ranked) {
      expect(Math.abs(score - (ortScore.get(index) as number))).toBeLessThan(LOGIT_TOLERANCE);
    }
    const engines = async (app: Fetcher, env: Partial<Env>) =>
      (await infoOf(app, env)).models.map(({ kind, engine }) => [kind, engine]);
    expect(await engines(planApp, { ENGINE: 'plan' })).toEqual([
      ['transformer', 'plan'],
      ['cross-encoder', 'plan'],
    ]);
    expect(await engines(ortApp, { ENGINE: 'ort' })).toEqual([
      ['transformer', 'ort'],
      ['cross-encoder', 'ort'],
    ]);
  });

  it('a plan without a token-type table, or with 1 row: auto serves it with ONNX Runtime, plan is a 503 naming why', async () => {
    const ortApp = withReranker(rerankerFixtureBundle);
    const reference = await rerank(ortApp, query, documents, { ENGINE: 'ort' });
    for (const [rows, says] of [
      [0, '0 token-type rows'],
      [1, '1 token-type row '],
    ] as const) {
      const cut = await rerankerCut(rows);
      const auto = withReranker(cut);
      const served = await rerank(auto, query, documents);
      expect(served.status).toBe(200);
      expect(served.ranked).toEqual(reference.ranked);
      expect((await infoOf(auto)).models.map(({ engine }) => engine)).toEqual(['plan', 'ort']);

      vi.spyOn(console, 'error').mockImplementation(() => undefined);
      const pinned = withReranker(cut);
      const refused = await rerank(pinned, query, documents, { ENGINE: 'plan' });
      vi.restoreAllMocks();
      expect([refused.status, refused.error?.code]).toEqual([503, 'model_unavailable']);
      expect(refused.error?.message).toContain(`ENGINE=plan, but the cross-encoder feeds its documents token type 1`);
      expect(refused.error?.message).toContain(says);
      expect((await infoOf(pinned, { ENGINE: 'plan' })).models.map(({ engine }) => engine)).toEqual(['plan', null]);
    }
  });

  it('from KV (MODELS kv:<contentHash>): the plan serves the uploaded cross-encoder; a cut plan stays on ONNX Runtime', async () => {
    const body = { model: 'pairs', query, documents };
    const scores = async (hash: string) => {
      const env = { ...UNCACHED, MODELS: `use=default,pairs=kv:${hash}` };
      const response = await call('/v1/rerank', { body }, env, worker);
      const { results } = (await response.json()) as { results: Array<{ index: number; relevance_score: number }> };
      const info = await infoOf(worker, env);
      return {
        status: response.status,
        results,
        engine: info.models.find(({ kind }) => kind === 'cross-encoder')?.engine,
      };
    };
    const uploaded = await uploadBundleEntries(rerankerFixtureBundle);
    expect(Object.keys(uploaded.index.chunks).sort()).toEqual([
      'model.onnx',
      'plan.bin',
      'plan.json',
      'tokenizer.json',
    ]);
    const fromKv = await scores(uploaded.index.manifest.contentHash);
    const compiled = await call('/v1/rerank', { body: { ...body, model: undefined } }, UNCACHED, worker);
    const { results } = (await compiled.json()) as { results: Array<{ index: number; relevance_score: number }> };
    expect([fromKv.status, fromKv.engine]).toEqual([200, 'plan']);
    expect(fromKv.results).toEqual(results);

    const cut = await scores((await uploadBundleEntries(await rerankerCut(1))).index.manifest.contentHash);
    expect([cut.status, cut.engine]).toEqual([200, 'ort']);
    expect(cut.results.map(({ index }) => index)).toEqual(results.map(({ index }) => index));
  });
});

describe('the entry built without ONNX Runtime (index-plan.ts)', () => {
  it("serves the default bundle's plan with the full worker's vectors; what needs ONNX Runtime is a 503 saying so", async () => {
    const texts = ['served without onnx runtime', 'by the encoder plan alone'];
    const planOnly = await embed(planEntry, texts);
    const full = await embed(worker, texts, { ENGINE: 'plan' });
    expect(planOnly.status).toBe(200);
    expect(planOnly.vectors).toEqual(full.vectors);
    const info = await infoOf(planEntry);
    expect(info).toMatchObject({ engine: 'plan', loaded: true });
    expect(info.wasm_heap_bytes).toBeGreaterThan(1024 * 1024);
    const rank = await call('/v1/rank', { body: { query: 'plan', documents: texts, rerank_top_k: 1 } }, {}, planEntry);
    expect(rank.status).toBe(200);

    vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const pinnedOrt = createApp({ bundle: defaultBundle, ort: planOnlyOrt, planKernels: workerdRuntime.planKernels });
    const refused = await embed(pinnedOrt, texts, { ENGINE: 'ort' });
    const { index } = await uploadBundleEntries(variant({ planFiles: undefined }));
    const planless = await embed(planEntry, texts, { BUNDLE_HASH: index.manifest.contentHash });
    vi.restoreAllMocks();
    for (const answer of [refused, planless]) {
      expect([answer.status, answer.error?.message]).toEqual([503, expect.stringContaining('without ONNX Runtime')]);
    }
  });
});

describe('the KV entry built without ONNX Runtime (index-kv-plan.ts)', () => {
  it("serves a KV bundle's plan; without a BUNDLE_HASH every route is a 503 saying so", async () => {
    const { index } = await uploadBundleEntries(defaultBundle);
    const env = { BUNDLE_HASH: index.manifest.contentHash };
    const texts = ['a plan from KV', 'without onnx runtime'];
    const fromKv = await embed(kvPlanEntry, texts, env);
    expect(fromKv.status).toBe(200);
    expect(fromKv.vectors).toEqual((await embed(planEntry, texts)).vectors);
    expect(await infoOf(kvPlanEntry, env)).toMatchObject({ engine: 'plan', loaded: true });
    vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const none = await embed(kvPlanEntry, texts);
    vi.restoreAllMocks();
    expect(none.status).toBe(503);
  });
});

describe('chooseEngine', () => {
  const runtime = { planKernels: workerdRuntime.planKernels };

  it("picks by ENGINE, the bundle and the entry; a cross-encoder fed token types by its plan's token-type rows", async () => {
    const transformer = (await defaultBundle.manifest()) as BundleManifest;
    const reranker = (await rerankerFixtureBundle.manifest()) as BundleManifest;
    const staticManifest = (await staticDefaultBundle.manifest()) as BundleManifest;
    const rerankerPlan = await rerankerPlanOf({});
    const oneRow = await rerankerPlanOf({ tokenTypeRows: 1 });
    const noTable = await rerankerPlanOf({ tokenTypeRows: 0 });
    const { 'plan.json': _, 'plan.bin': __, ...onnxOnly } = reranker.files;
    const rerankerWithoutPlan = { ...reranker, files: onnxOnly } as BundleManifest;
    const pairsWithoutTypes = { ...reranker, inputs: ['input_ids', 'attention_mask'] } as BundleManifest;
    expect(chooseEngine(transformer, 'auto', runtime)).toEqual({ engine: 'plan' });
    expect(chooseEngine(transformer, 'ort', runtime)).toEqual({ engine: 'ort' });
    expect(chooseEngine(transformer, 'auto', {})).toEqual({ engine: 'ort' });
    expect(chooseEngine(transformer, 'plan', {})).toEqual({
      refused: expect.stringContaining("this worker's entry is built without the plan engine's kernels"),
    });
    expect(chooseEngine(staticManifest, 'plan', runtime)).toEqual({ engine: 'static' });
    expect(choiceReadsPlan(transformer, 'auto', runtime)).toBe(false);
    expect(choiceReadsPlan(reranker, 'auto', runtime)).toBe(true);
    expect(choiceReadsPlan(reranker, 'ort', runtime)).toBe(false);
    expect(chooseEngine(reranker, 'auto', runtime, rerankerPlan)).toEqual({ engine: 'plan' });
    expect(chooseEngine(reranker, 'plan', runtime, rerankerPlan)).toEqual({ engine: 'plan' });
    expect(chooseEngine(reranker, 'ort', runtime, rerankerPlan)).toEqual({ engine: 'ort' });
    expect(chooseEngine(rerankerWithoutPlan, 'auto', runtime)).toEqual({ engine: 'ort' });
    for (const [plan, rows] of [
      [oneRow, '1 token-type row '],
      [noTable, '0 token-type rows'],
    ] as const) {
      expect(chooseEngine(reranker, 'auto', runtime, plan)).toEqual({ engine: 'ort' });
      expect(chooseEngine(reranker, 'plan', runtime, plan)).toEqual({ refused: expect.stringContaining(rows) });
    }
    // Fed no token types, any plan serves it, as it does an embedder.
    expect(chooseEngine(pairsWithoutTypes, 'auto', runtime, oneRow)).toEqual({ engine: 'plan' });
  });
});
