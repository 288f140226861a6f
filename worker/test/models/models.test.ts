/**
 * Several models in one worker (MODELS), inside workerd: each named model gives its own bundle's vectors, `model`
 * chooses, an unknown name is 404 model_not_found naming the served ones, a model nobody asks for is never loaded (its
 * ONNX Runtime session is never created), a model can come from BUNDLE_STORE, and /v1/rank runs two stages over any
 * two of them.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { OrtRuntime } from '../../../bundle-runtime/ort-engine.js';
import { compiledBundles, defaultBundle } from '../../src/bundle/default-bundle.js';
import { staticDefaultBundle } from '../../src/bundle/static-default-bundle.js';
import { checkConfigVars } from '../../src/config.js';
import type { Env } from '../../src/env.js';
import { type App, createApp } from '../../src/http/app.js';
import { workerdOrt } from '../../src/runtime/ort-workerd.js';
import { call, cosine, uploadBundle } from '../helpers.js';

/** workerd's ORT, counting the sessions (model loads) it creates. */
function countingOrt(): OrtRuntime & { sessions: number } {
  const ort = {
    Tensor: workerdOrt.Tensor,
    sessions: 0,
    createSession: (model: Uint8Array) => {
      ort.sessions++;
      return workerdOrt.createSession(model);
    },
  };
  return ort;
}

/** An app of its own (its own registry and loads), built as worker/src/index.ts builds the default one. */
function modelsApp(ort: OrtRuntime = workerdOrt): App {
  return createApp({ bundle: defaultBundle, compiled: compiledBundles, ort });
}

const MODELS = 'use=default,static=static-default';

/** The static bundle's contentHash in BUNDLE_STORE, uploaded before the first inference (see uploadBundleEntries). */
let kvStaticHash: string;
beforeAll(async () => {
  kvStaticHash = await uploadBundle(staticDefaultBundle);
});
const texts = ['A cat sat on the mat.', 'Quarterly earnings fell sharply.'];

interface EmbeddingsBody {
  model: string;
  data: Array<{ embedding: number[] }>;
}

async function embeddings(app: App, body: Record<string, unknown>, env: Partial<Env> = {}): Promise<EmbeddingsBody> {
  const response = await call('/v1/embeddings', { body: { input: texts, ...body } }, env, app);
  if (response.status !== 200) throw new Error(`status ${response.status}: ${await response.text()}`);
  return (await response.json()) as EmbeddingsBody;
}

describe('MODELS: several models in one worker', () => {
  const app = modelsApp();
  const env = { MODELS };

  it('lists each model with its kind on /v1/models and /info', async () => {
    const listed = (await (await call('/v1/models', {}, env, app)).json()) as {
      data: Array<{ id: string; kind: string; object: string }>;
    };
    expect(listed.data.map(({ id, kind, object }) => ({ id, kind, object }))).toEqual([
      { id: 'use', kind: 'transformer', object: 'model' },
      { id: 'static', kind: 'static', object: 'model' },
    ]);
    const info = (await (await call('/info', {}, env, app)).json()) as { models: Array<{ id: string; kind: string }> };
    expect(info.models.map(({ id, kind }) => [id, kind])).toEqual([
      ['use', 'transformer'],
      ['static', 'static'],
    ]);
  });

  it("gives each model's own vectors, the same as an app serving that bundle alone, and reports the chosen name", async () => {
    const [use, statics, unnamed] = await Promise.all([
      embeddings(app, { model: 'use' }, env),
      embeddings(app, { model: 'static' }, env),
      embeddings(app, {}, env),
    ]);
    const alone = {
      use: await embeddings(createApp({ bundle: defaultBundle, ort: workerdOrt }), {}),
      static: await embeddings(createApp({ bundle: staticDefaultBundle, ort: workerdOrt }), {}),
    };
    expect([use.model, statics.model, unnamed.model]).toEqual(['use', 'static', 'use']);
    for (const [index] of texts.entries()) {
      expect(cosine(use.data[index].embedding, alone.use.data[index].embedding)).toBeGreaterThan(0.9999);
      expect(cosine(statics.data[index].embedding, alone.static.data[index].embedding)).toBeGreaterThan(0.9999);
      // Without `model`, the first embedding model MODELS lists.
      expect(unnamed.data[index].embedding).toEqual(use.data[index].embedding);
    }
    // The two bundles disagree (in length too: the static bundle has 384 of the transformer's 512 dimensions), so a
    // request answered by the wrong one fails the checks above.
    const [fromUse, fromStatic] = [use.data[0].embedding, statics.data[0].embedding];
    expect(fromUse.length !== fromStatic.length || cosine(fromUse, fromStatic) < 0.99).toBe(true);
  });

  it("answers a model named by its bundle's own model name (as /info's model_id says)", async () => {
    const modelId = ((await (await call('/info', {}, {}, app)).json()) as { model_id: string }).model_id;
    expect((await embeddings(app, { model: modelId }, env)).model).toBe('use');
  });

  it('answers an unknown model with 404 model_not_found naming the served ones, as OpenAI does', async () => {
    for (const path of ['/v1/embeddings', '/v1/rank']) {
      const body = { input: 'hi', query: 'hi', documents: ['a'], model: 'gpt-4o' };
      const response = await call(path, { body }, env, app);
      expect(response.status).toBe(404);
      const { error } = (await response.json()) as { error: { code: string; param: string; message: string } };
      expect(error).toMatchObject({ code: 'model_not_found', param: 'model' });
      expect(error.message).toContain('gpt-4o');
      expect(error.message).toContain('use, static');
    }
  });
});

describe('lazy loading', () => {
  it('never loads a model nobody asks for', async () => {
    const ort = countingOrt();
    const app = modelsApp(ort);
    const env = { MODELS: 'static=static-default,use=default' };
    // Texts no cache tier holds yet, so the static model has to run.
    const input = ['lazy loading: never asked for', 'lazy loading: the default'];
    expect((await embeddings(app, { model: 'static', input }, env)).model).toBe('static');
    expect((await embeddings(app, { input }, env)).model).toBe('static');
    await call('/v1/models', {}, env, app);
    const info = (await (await call('/info', {}, env, app)).json()) as {
      models: Array<{ id: string; loaded: boolean; model_loads: number }>;
    };
    expect(info.models.map(({ id, loaded, model_loads }) => [id, loaded, model_loads])).toEqual([
      ['static', true, 1],
      ['use', false, 0],
    ]);
    expect(ort.sessions).toBe(0);
    // Asked for once, it loads: the counter above could have moved.
    await embeddings(app, { model: 'use', input }, env);
    expect(ort.sessions).toBe(1);
  });
});

describe('the in-isolate LRU', () => {
  it('is one for all models, so LRU_MAX_BYTES bounds the isolate however many it serves', async () => {
    const app = modelsApp();
    const env = { MODELS };
    await embeddings(app, { model: 'static', input: ['one LRU: static a', 'one LRU: static b'] }, env);
    await embeddings(app, { model: 'use', input: ['one LRU: use a', 'one LRU: use b'] }, env);
    const info = (await (await call('/info', {}, env, app)).json()) as { counters: Record<string, number> };
    expect(info.counters.lruEntries).toBe(4);
  });
});

describe('without MODELS', () => {
  it('serves the one bundle under its model name and answers whatever `model` a request names, as before', async () => {
    const app = modelsApp();
    const listed = (await (await call('/v1/models', {}, {}, app)).json()) as {
      data: Array<{ id: string; kind: string }>;
    };
    // The bundle, then the reranker compiled in beside it (POST /rerank's default).
    expect(listed.data.map(({ kind }) => kind)).toEqual(['transformer', 'cross-encoder']);
    const named = await embeddings(app, { model: 'whatever' });
    const unnamed = await embeddings(app, {});
    expect(named.model).toBe(listed.data[0].id);
    expect(named.data).toEqual(unnamed.data);
  });
});

describe('a bad MODELS var', () => {
  it.each([
    ['use=default,use=static-default', 'listed twice'],
    ['use=somewhere', 'kv:<bundle contentHash>'],
    ['use', 'not name=source'],
  ])('%s fails every request with 500 config_invalid naming MODELS', async (models, message) => {
    const response = await call('/v1/embeddings', { body: { input: 'hi' } }, { MODELS: models }, modelsApp());
    expect(response.status).toBe(500);
    const { error } = (await response.json()) as { error: { code: string; message: string } };
    expect(error.code).toBe('config_invalid');
    expect(error.message).toContain('MODELS');
    expect(error.message).toContain(message);
  });

  it('refuses MODELS beside BUNDLE_HASH, and a compiled-in source the entry does not have', async () => {
    const both = { MODELS, BUNDLE_HASH: 'a'.repeat(64) };
    const bundleHash = await call('/v1/embeddings', { body: { input: 'hi' } }, both, modelsApp());
    expect(bundleHash.status).toBe(500);
    expect(await bundleHash.text()).toContain('MODELS and BUNDLE_HASH');
    // npm run tenant and deploy:dry-run refuse the pair before a deploy.
    expect(checkConfigVars(both).map(({ variable }) => variable)).toEqual(['MODELS']);
    expect(checkConfigVars({ MODELS })).toEqual([]);
    const kvOnly = createApp({ bundle: defaultBundle, ort: workerdOrt });
    const missing = await call('/v1/embeddings', { body: { input: 'hi' } }, { MODELS }, kvOnly);
    expect(missing.status).toBe(500);
    expect(await missing.text()).toContain('no compiled-in bundle default');
  });
});

describe('a model from BUNDLE_STORE (kv:<contentHash>)', () => {
  it('serves the uploaded bundle beside a compiled-in one, with the vectors of its compiled-in copy', async () => {
    const env = { MODELS: `use=default,kv-static=kv:${kvStaticHash}` };
    const app = modelsApp();
    const fromKv = await embeddings(app, { model: 'kv-static' }, env);
    const compiled = await embeddings(app, { model: 'static' }, { MODELS });
    expect(fromKv.model).toBe('kv-static');
    for (const [index] of texts.entries()) {
      expect(cosine(fromKv.data[index].embedding, compiled.data[index].embedding)).toBeGreaterThan(0.9999);
    }
    const listed = (await (await call('/v1/models', {}, env, app)).json()) as {
      data: Array<{ id: string; kind: string }>;
    };
    expect(listed.data.map(({ id, kind }) => [id, kind])).toEqual([
      ['use', 'transformer'],
      ['kv-static', 'static'],
    ]);
  });

  it('answers 503 naming the bundle when the hash is not in BUNDLE_STORE, and only for that model', async () => {
    const env = { MODELS: `use=default,gone=kv:${'e'.repeat(64)}` };
    const app = modelsApp();
    const response = await call('/v1/embeddings', { body: { input: 'hi', model: 'gone' } }, env, app);
    expect(response.status).toBe(503);
    expect(await response.text()).toContain('eeeeeeeeeeee');
    expect((await embeddings(app, { model: 'use' }, env)).model).toBe('use');
  });
});

interface RankAnswer {
  model: string;
  results: Array<{ index: number; score: number; stage?: string }>;
}

describe('/v1/rank over named models', () => {
  // Texts no other test embeds, so no cache tier holds them and each stage's model has to run.
  const query = 'How would I bake a chocolate layer cake at home?';
  const documents = [
    'Shares slid on Thursday as bond yields climbed again.',
    'Whisk the cocoa, flour and sugar, then fold in the eggs and bake the layers.',
    'The visiting side scored twice in stoppage time.',
    'Dark chocolate frosting keeps a layer cake moist.',
    'The council delayed its vote on the new library.',
  ];
  const rank = async (app: App, body: Record<string, unknown>, env: Partial<Env>, tag = '') => {
    const tagged = { query: query + tag, documents: documents.map((document) => document + tag) };
    const response = await call('/v1/rank', { body: { ...tagged, ...body } }, env, app);
    return { status: response.status, body: (await response.json()) as RankAnswer & { error?: { param: string } } };
  };

  it("ranks with the model it names: its own scores, not the other model's", async () => {
    const app = modelsApp();
    const env = { MODELS };
    const [use, statics] = [await rank(app, { model: 'use' }, env), await rank(app, { model: 'static' }, env)];
    expect([use.body.model, statics.body.model]).toEqual(['use', 'static']);
    const scores = (answer: RankAnswer) => answer.results.map(({ index, score }) => [index, score]);
    expect(scores(use.body)).not.toEqual(scores(statics.body));
  });

  it('runs model then rerank_model as two stages, the same ranking as the static companion then its transformer', async () => {
    const ort = countingOrt();
    const app = modelsApp(ort);
    const env = { MODELS };
    const tag = ' (two stages)';
    const loads = async () => {
      const info = (await (await call('/info', {}, env, app)).json()) as {
        models: Array<{ id: string; model_loads: number }>;
      };
      return info.models.map(({ id, model_loads }) => [id, model_loads]);
    };
    const companion = await rank(app, { model: 'use', rerank_top_k: 2 }, env, tag);
    // The companion stage is MODELS' own static model (loaded once, and reported), not a second copy of it.
    expect(await loads()).toEqual([
      ['use', 1],
      ['static', 1],
    ]);
    const explicit = await rank(app, { model: 'static', rerank_model: 'use', rerank_top_k: 2 }, env, tag);
    const legacy = await rank(modelsApp(), { rerank_top_k: 2 }, {}, tag);
    expect(explicit.status).toBe(200);
    expect(explicit.body.model).toBe('use');
    expect(explicit.body.results.map((result) => result.stage)).toEqual([
      'transformer',
      'transformer',
      'static',
      'static',
      'static',
    ]);
    expect(companion.body.results).toEqual(explicit.body.results);
    expect(legacy.body.results.map(({ index, stage }) => [index, stage])).toEqual(
      explicit.body.results.map(({ index, stage }) => [index, stage]),
    );
    expect(await loads()).toEqual([
      ['use', 1],
      ['static', 1],
    ]);
    expect(ort.sessions).toBe(1);
  });

  it('re-scores the top k with a cross-encoder named as rerank_model, with its /v1/rerank scores', async () => {
    const app = modelsApp();
    const env = { MODELS: `${MODELS},pairs=reranker-fixture` };
    const tag = ' (cross-encoder)';
    const ranked = await rank(app, { model: 'static', rerank_model: 'pairs', rerank_top_k: 3 }, env, tag);
    expect(ranked.status).toBe(200);
    expect(ranked.body.model).toBe('pairs');
    expect(ranked.body.results.map((result) => result.stage)).toEqual([
      'cross-encoder',
      'cross-encoder',
      'cross-encoder',
      'static',
      'static',
    ]);
    const top = ranked.body.results.slice(0, 3);
    const body = { model: 'pairs', query: query + tag, documents: top.map(({ index }) => documents[index] + tag) };
    const reranked = await call('/v1/rerank', { body }, env, app);
    expect(reranked.status).toBe(200);
    const { results } = (await reranked.json()) as { results: Array<{ index: number; relevance_score: number }> };
    expect(results.map(({ index }) => top[index].index)).toEqual(top.map(({ index }) => index));
    for (const { index, relevance_score } of results) expect(top[index].score).toBeCloseTo(relevance_score, 6);
  });

  it('refuses rerank_model without a k, and an unknown rerank_model', async () => {
    const app = modelsApp();
    const noK = await rank(app, { rerank_model: 'use' }, { MODELS });
    expect(noK.status).toBe(400);
    expect(noK.body.error?.param).toBe('rerank_top_k');
    const unknown = await rank(app, { rerank_model: 'bge', rerank_top_k: 2 }, { MODELS });
    expect(unknown.status).toBe(404);
  });
});
