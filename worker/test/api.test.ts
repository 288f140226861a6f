/**
 * The API inside workerd with the default bundle and real ORT inference. One model load is shared by the whole file
 * (the first inference takes several seconds in the pool).
 */
import { describe, expect, it, vi } from 'vitest';
import minilmManifest from '../../bundles/minilm-fixture/manifest.json';
import minilmModel from '../../bundles/minilm-fixture/model.onnx';
import minilmTokenizer from '../../bundles/minilm-fixture/tokenizer.json';
import { defaultBundle } from '../src/bundle/default-bundle.js';
import type { KvNamespaceLike } from '../src/env.js';
import { createApp } from '../src/http/app.js';
import worker from '../src/index.js';
import { workerdOrt } from '../src/runtime/ort-workerd.js';
import { call, cosine, info, mixedTexts, openAiVectors, teiVectors, testEnv } from './helpers.js';

interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string };
}

async function expectError(
  response: Response,
  status: number,
  code: string,
  param?: string | null,
): Promise<ErrorBody> {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toContain('application/json');
  const body = (await response.json()) as ErrorBody;
  expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
  expect(body.error.code).toBe(code);
  expect(body.error.message.length).toBeGreaterThan(0);
  if (param !== undefined) expect(body.error.param).toBe(param);
  return body;
}

function decodeBase64Floats(encoded: string): Float32Array {
  const binary = atob(encoded);
  const bytes = Uint8Array.from(binary, (char) => char.charCodeAt(0));
  const view = new DataView(bytes.buffer);
  return Float32Array.from({ length: bytes.length / 4 }, (_, i) => view.getFloat32(i * 4, true));
}

const norm = (vector: number[]) => Math.sqrt(vector.reduce((sum, value) => sum + value * value, 0));

describe('POST /v1/embeddings (OpenAI)', () => {
  it('answers in exactly OpenAI shape with unit vectors of the bundle dimensions', async () => {
    const { dimensions, model_id } = await info();
    const response = await call('/v1/embeddings', {
      body: { input: ['The cat sat on the mat.', 'hi'], model: 'whatever' },
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown> & {
      data: Array<Record<string, unknown> & { embedding: number[] }>;
    };
    expect(Object.keys(body).sort()).toEqual(['data', 'model', 'object', 'usage']);
    expect(body.object).toBe('list');
    expect(body.model).toBe(model_id);
    expect(body.data.map((item) => [item.object, item.index])).toEqual([
      ['embedding', 0],
      ['embedding', 1],
    ]);
    for (const item of body.data) {
      expect(Object.keys(item).sort()).toEqual(['embedding', 'index', 'object']);
      expect(item.embedding).toHaveLength(dimensions);
      expect(norm(item.embedding)).toBeCloseTo(1, 4);
    }
    const usage = body.usage as { prompt_tokens: number; total_tokens: number };
    expect(usage.prompt_tokens).toBeGreaterThan(2);
    expect(usage.total_tokens).toBe(usage.prompt_tokens);
    expect(response.headers.get('server-timing')).toMatch(/cache;dur=.*tokenize;dur=.*inference;dur=/);
  });

  it('encodes base64 as the little-endian float32 bytes of the float vector', async () => {
    const input = 'base64 must decode to the same floats';
    const [floats] = await openAiVectors(input);
    const response = await call('/v1/embeddings', { body: { input, encoding_format: 'base64' } });
    const body = (await response.json()) as { data: Array<{ embedding: string }> };
    expect(typeof body.data[0].embedding).toBe('string');
    expect(Array.from(decodeBase64Floats(body.data[0].embedding))).toEqual(floats);
  });

  it('accepts dimensions the bundle allows and refuses others with 400', async () => {
    const { dimensions } = await info();
    expect((await openAiVectors('dims'))[0]).toHaveLength(dimensions);
    const ok = await call('/v1/embeddings', { body: { input: 'dims', dimensions } });
    expect(ok.status).toBe(200);
    await expectError(
      await call('/v1/embeddings', { body: { input: 'dims', dimensions: 7 } }),
      400,
      'unsupported_dimensions',
      'dimensions',
    );
  });

  it('embeds token id arrays (content ids from /tokenize) like the text they came from', async () => {
    const text = 'token ids in, same vector out';
    const tokens = (await (
      await call('/tokenize', { body: { inputs: text, add_special_tokens: false } })
    ).json()) as Array<Array<{ id: number }>>;
    const ids = tokens[0].map((token) => token.id);
    const accept = { TOKEN_ID_INPUTS: 'accept' };
    const response = await call('/v1/embeddings', { body: { input: [ids] } }, accept);
    const fromIds = ((await response.json()) as { data: Array<{ embedding: number[] }> }).data[0].embedding;
    const [fromText] = await openAiVectors(text);
    expect(cosine(fromIds, fromText)).toBeGreaterThan(0.9999);
    await expectError(
      await call('/v1/embeddings', { body: { input: [[1, 2, 99_999_999]] } }, accept),
      400,
      'invalid_request',
      'input',
    );
  });

  it("refuses token ids by default (tiktoken's would give wrong vectors), saying what to change in the client", async () => {
    for (const input of [[9906, 1917], [[9906, 1917]]]) {
      const { error } = await expectError(
        await call('/v1/embeddings', { body: { input } }),
        400,
        'invalid_request',
        'input',
      );
      expect(error.message).toContain('check_embedding_ctx_length=False');
      expect(error.message).toContain('TOKEN_ID_INPUTS=accept');
    }
    await expectError(
      await call('/v1/embeddings', { body: { input: [1, 2] } }, { TOKEN_ID_INPUTS: 'sometimes' }),
      500,
      'config_invalid',
      null,
    );
  });

  it('refuses an input longer than the model with 400 context_length_exceeded, as OpenAI does', async () => {
    const long = 'word '.repeat(2000);
    await expectError(
      await call('/v1/embeddings', { body: { input: ['short', long] } }),
      400,
      'context_length_exceeded',
      'input[1]',
    );
  });
});

describe('POST /embed (text-embeddings-inference)', () => {
  it('returns one vector per input, equal to the OpenAI route', async () => {
    const texts = ['tei and openai agree', 'second'];
    const tei = await teiVectors(texts);
    const openai = await openAiVectors(texts);
    expect(tei).toHaveLength(2);
    for (const [i, vector] of tei.entries()) expect(cosine(vector, openai[i])).toBeGreaterThan(0.9999);
    const single = (await (await call('/embed', { body: { inputs: 'one string' } })).json()) as number[][];
    expect(single).toHaveLength(1);
  });

  it('answers 413 for a too-long input unless truncate is set; truncation direction picks the kept end', async () => {
    const head = 'alpha beta gamma delta '.repeat(100);
    const tail = 'omega sigma kappa theta '.repeat(100);
    const long = `${head}${tail}`;
    await expectError(await call('/embed', { body: { inputs: [long] } }), 413, 'input_too_long', 'inputs');
    const [right] = await teiVectors([long], { truncate: true });
    const [left] = await teiVectors([long], { truncate: true, truncation_direction: 'Left' });
    const [headOnly] = await teiVectors([head], { truncate: true });
    expect(cosine(right, headOnly)).toBeGreaterThan(0.9999);
    expect(cosine(left, right)).toBeLessThan(0.99);
  });
});

const minilmFixture = createApp({
  bundle: {
    manifest: async () => minilmManifest,
    tokenizer: async () => minilmTokenizer,
    model: async () => new Uint8Array(minilmModel),
  },
  ort: workerdOrt,
});

// Both bundles quantize activations per token (int8-compute), so a sequence's vector does not depend on its batch
// companions; this checks the batcher itself (length sorting, padding, attention masks, order of results) on both.
describe.each([
  ['the MiniLM-L6-sized fixture', minilmFixture, 0.9999],
  ['the default bundle', worker, 0.9999],
])('POST /embed batches with %s', (_, app, minCosine) => {
  it(`gives a batch of mixed lengths the vectors of the inputs sent one by one (cosine >= ${minCosine})`, async () => {
    const texts = mixedTexts('batch-vs-single', 12);
    const inferences = async () =>
      ((await (await call('/info', {}, {}, app)).json()) as { counters: { inferences: number } }).counters.inferences;
    // Different truncation directions give different cache keys, so both sides are computed, not served from cache.
    const beforeBatch = await inferences();
    const response = await call(
      '/embed',
      { body: { inputs: texts, truncate: true, truncation_direction: 'left' } },
      {},
      app,
    );
    expect(response.headers.get('x-cache-misses')).toBe(String(texts.length));
    const batch = (await response.json()) as number[][];
    // Really batched: the texts shared session runs (each run counts once), rather than one run per text.
    const batchRuns = (await inferences()) - beforeBatch;
    expect(batchRuns).toBeGreaterThanOrEqual(1);
    expect(batchRuns).toBeLessThan(texts.length);
    const beforeSingles = await inferences();
    for (const [i, text] of texts.entries()) {
      const single = await call('/embed', { body: { inputs: [text], truncate: true } }, {}, app);
      expect(single.headers.get('x-cache-misses')).toBe('1');
      const [vector] = (await single.json()) as number[][];
      expect(cosine(batch[i], vector)).toBeGreaterThanOrEqual(minCosine);
    }
    expect((await inferences()) - beforeSingles).toBe(texts.length);
  });
});

describe('cache', () => {
  it('serves a second identical request without inference and says so in headers and /info', async () => {
    const body = { input: ['cached once', 'cached twice'] };
    const first = await call('/v1/embeddings', { body });
    expect(first.headers.get('x-cache-misses')).toBe('2');
    const before = (await info()).counters.inferences;
    const second = await call('/v1/embeddings', { body });
    expect(second.headers.get('x-cache-hits')).toBe('2');
    expect(second.headers.get('x-cache-misses')).toBe('0');
    expect((await info()).counters.inferences).toBe(before);
    expect(await second.json()).toEqual(await first.json());
  });

  it('writes computed vectors to KV as compact binary under a bundle-scoped key', async () => {
    const { bundle_hash, dimensions } = await info();
    // CACHE_POLICY=always: every computed vector goes to KV (`cost` would keep a fast model's texts out of it).
    await openAiVectors('stored in kv', { CACHE_POLICY: 'always' });
    const { cacheKey } = await import('../src/cache/key.js');
    const key = await cacheKey(bundle_hash, { truncationDirection: 'right' }, { text: 'stored in kv' });
    expect(key).toContain(bundle_hash);
    expect(new TextEncoder().encode(key).length).toBeLessThanOrEqual(512);
    const stored = await testEnv.EMBED_CACHE!.get(key, 'arrayBuffer');
    expect(stored?.byteLength).toBe(4 + dimensions * 4);
  });

  it('still answers correctly when every KV read and write throws', async () => {
    const broken: KvNamespaceLike = {
      get: async () => {
        throw new Error('KV down');
      },
      put: async () => {
        throw new Error('KV down');
      },
    };
    const texts = mixedTexts('kv-broken', 3);
    const errorsBefore = (await info()).counters.kvErrors;
    const response = await call('/embed', { body: { inputs: texts } }, { EMBED_CACHE: broken, CACHE_POLICY: 'always' });
    expect(response.status).toBe(200);
    const vectors = (await response.json()) as number[][];
    const reference = await teiVectors(texts, { truncation_direction: 'left' });
    for (const [i, vector] of vectors.entries()) expect(cosine(vector, reference[i])).toBeGreaterThanOrEqual(0.9999);
    expect((await info()).counters.kvErrors).toBe(errorsBefore + 6);
  });

  it('treats a KV read slower than KV_TIMEOUT_MS as a miss', async () => {
    const hanging: KvNamespaceLike = { get: () => new Promise(() => {}), put: async () => {} };
    const response = await call(
      '/v1/embeddings',
      { body: { input: 'slow kv' } },
      { EMBED_CACHE: hanging, KV_TIMEOUT_MS: '20' },
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('x-cache-misses')).toBe('1');
  });
});

describe('load', () => {
  it('answers 32 parallel requests with the right vectors', async () => {
    const texts = mixedTexts('parallel', 32);
    const responses = await Promise.all(texts.map((text) => call('/v1/embeddings', { body: { input: text } })));
    expect(responses.map((response) => response.status)).toEqual(texts.map(() => 200));
    const vectors = await Promise.all(
      responses.map(
        async (response) => ((await response.json()) as { data: Array<{ embedding: number[] }> }).data[0].embedding,
      ),
    );
    // The same texts one at a time (another cache key through the truncation direction), so nothing is shared.
    for (const [i, text] of texts.entries()) {
      const [reference] = await teiVectors([text], { truncation_direction: 'left' });
      expect(cosine(vectors[i], reference)).toBeGreaterThanOrEqual(0.9999);
    }
  });

  it('answers 503 with Retry-After when the model fails to load; later concurrent requests share one new load', async () => {
    let attempts = 0;
    const flaky = {
      ...defaultBundle,
      model: async () => {
        attempts++;
        if (attempts === 1) throw new Error('model storage unavailable');
        return defaultBundle.model();
      },
    };
    const app = createApp({ bundle: flaky, ort: workerdOrt });
    const failed = await call('/v1/embeddings', { body: { input: 'flaky' } }, {}, app);
    await expectError(failed, 503, 'model_unavailable');
    expect(failed.headers.get('retry-after')).toBe('5');
    const retried = await Promise.all(
      ['flaky one', 'flaky two', 'flaky three'].map((input) => call('/v1/embeddings', { body: { input } }, {}, app)),
    );
    expect(retried.map((response) => response.status)).toEqual([200, 200, 200]);
    expect(attempts).toBe(2);
  });
});

describe('request logs', () => {
  it('writes one JSON line per request, with status, cache counts and the error kind', async () => {
    const log = vi.spyOn(console, 'log');
    try {
      await call('/v1/embeddings', { body: { input: ['logged', 'logged'] } });
      await call('/nowhere');
      const lines = log.mock.calls
        .map(([line]) => JSON.parse(String(line)) as Record<string, unknown>)
        .filter((entry) => entry.event === 'request');
      expect(lines).toHaveLength(2);
      expect(lines[0]).toMatchObject({
        method: 'POST',
        path: '/v1/embeddings',
        status: 200,
        inputs: 2,
        cacheMisses: 1,
      });
      expect(lines[1]).toMatchObject({ method: 'GET', path: '/nowhere', status: 404, error: 'not_found' });
    } finally {
      log.mockRestore();
    }
  });
});

describe('a broken bundle', () => {
  it('makes /health and the API answer 503 instead of crashing', async () => {
    const broken = { ...defaultBundle, manifest: async () => ({ formatVersion: 99 }) };
    const app = createApp({ bundle: broken, ort: workerdOrt });
    await expectError(await call('/health', {}, {}, app), 503, 'model_unavailable');
    await expectError(await call('/v1/embeddings', { body: { input: 'x' } }, {}, app), 503, 'model_unavailable');
  });
});

describe('other routes', () => {
  it('POST /tokenize lists the tokens of each input, special tokens marked', async () => {
    const response = await call('/tokenize', { body: { inputs: ['Hello world', 'second input'] } });
    expect(response.status).toBe(200);
    const lists = (await response.json()) as Array<
      Array<{ id: number; text: string; special: boolean; start: null; stop: null }>
    >;
    expect(lists).toHaveLength(2);
    const content = (await (
      await call('/tokenize', { body: { inputs: 'Hello world', add_special_tokens: false } })
    ).json()) as Array<Array<{ id: number; special: boolean }>>;
    // The content tokens sit inside the full list; whatever surrounds them is the bundle's special tokens.
    const ids = lists[0].map((token) => token.id);
    const contentIds = content[0].map((token) => token.id);
    const start = ids.findIndex((_, i) => contentIds.every((id, j) => ids[i + j] === id));
    expect(start).toBeGreaterThanOrEqual(0);
    lists[0].forEach((token, i) => {
      const isContent = i >= start && i < start + contentIds.length;
      if (!isContent) expect(token.special).toBe(true);
      expect(typeof token.text).toBe('string');
    });
  });

  it('GET /info, /health and /v1/models describe the bundle', async () => {
    const body = await info();
    expect(body.bundle_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(body.dimensions).toBeGreaterThan(0);
    expect(body.loaded).toBe(true);
    expect(body.wasm_heap_bytes).toBeGreaterThan(1024 * 1024);
    expect(await (await call('/health')).json()).toEqual({ status: 'ok' });
    const models = (await (await call('/v1/models')).json()) as {
      object: string;
      data: Array<{ id: string; object: string }>;
    };
    expect(models.object).toBe('list');
    expect(models.data[0]).toMatchObject({ id: body.model_id, object: 'model' });
  });

  it('runs texts longer than MAX_BATCH_TOKENS, each alone, and says so in /info like TEI', async () => {
    const tiny = { MAX_BATCH_TOKENS: '4', LRU_MAX_BYTES: '0', EMBED_CACHE: undefined };
    const limits = (await (await call('/info', {}, tiny)).json()) as {
      max_batch_tokens: number;
      max_input_length: number;
    };
    expect(limits.max_batch_tokens).toBe(limits.max_input_length);
    const texts = [
      'a longer sentence about the weather in the mountains today',
      'short',
      'another sentence of several words',
    ];
    const before = (await info()).counters.inferences;
    const vectors = await openAiVectors(texts, tiny);
    // Every text is over 4 tokens with [CLS] and [SEP], so each is its own session run.
    expect((await info()).counters.inferences - before).toBe(texts.length);
    const together = await openAiVectors(texts, { LRU_MAX_BYTES: '0', EMBED_CACHE: undefined });
    for (const [i, vector] of vectors.entries()) expect(cosine(vector, together[i])).toBeGreaterThan(0.9999);
  });
});

describe('auth', () => {
  const keys = { API_KEYS: 'key-one, key-two' };

  it('refuses missing or wrong Bearer keys with 401 and accepts any configured key', async () => {
    const missing = await call('/v1/embeddings', { body: { input: 'auth' } }, keys);
    await expectError(missing, 401, 'unauthorized');
    expect(missing.headers.get('www-authenticate')).toBe('Bearer');
    await expectError(
      await call('/info', { headers: { authorization: 'Bearer key-three' } }, keys),
      401,
      'unauthorized',
    );
    await expectError(await call('/info', { headers: { authorization: 'key-one' } }, keys), 401, 'unauthorized');
    const ok = await call(
      '/v1/embeddings',
      { body: { input: 'auth' }, headers: { authorization: 'Bearer key-two' } },
      keys,
    );
    expect(ok.status).toBe(200);
  });

  it('keeps /health open and the whole API open when no keys are configured', async () => {
    expect((await call('/health', {}, keys)).status).toBe(200);
    expect((await call('/info', {}, { API_KEYS: '' })).status).toBe(200);
  });
});

describe('limits and malformed requests', () => {
  it('refuses more inputs than MAX_INPUTS', async () => {
    await expectError(
      await call('/v1/embeddings', { body: { input: ['a', 'b', 'c'] } }, { MAX_INPUTS: '2' }),
      413,
      'too_many_inputs',
      'input',
    );
    await expectError(
      await call('/embed', { body: { inputs: ['a', 'b', 'c'] } }, { MAX_INPUTS: '2' }),
      413,
      'too_many_inputs',
      'inputs',
    );
  });

  it('refuses an input with more characters than MAX_INPUT_CHARS', async () => {
    const response = await call(
      '/v1/embeddings',
      { body: { input: ['short', 'x'.repeat(11)] } },
      { MAX_INPUT_CHARS: '10' },
    );
    await expectError(response, 413, 'input_too_large', 'input[1]');
  });

  it('refuses a body larger than MAX_BODY_BYTES', async () => {
    const response = await call('/v1/embeddings', { body: { input: 'y'.repeat(500) } }, { MAX_BODY_BYTES: '100' });
    await expectError(response, 413, 'body_too_large');
  });

  it.each([
    ['malformed JSON', '{"input": ', 'invalid_json', null],
    ['a JSON array body', '["a"]', 'invalid_request', null],
    ['no input', {}, 'invalid_request', 'input'],
    ['a number input', { input: 5 }, 'invalid_request', 'input'],
    ['an empty string', { input: '' }, 'invalid_request', 'input'],
    ['an empty array', { input: [] }, 'invalid_request', 'input'],
    ['an empty string in an array', { input: ['a', ''] }, 'invalid_request', 'input[1]'],
    ['mixed types', { input: ['a', 1] }, 'invalid_request', 'input'],
    ['an unknown encoding_format', { input: 'a', encoding_format: 'hex' }, 'invalid_request', 'encoding_format'],
    ['a fractional dimensions', { input: 'a', dimensions: 1.5 }, 'invalid_request', 'dimensions'],
  ])('answers 400 for %s on /v1/embeddings', async (_, body, code, param) => {
    await expectError(await call('/v1/embeddings', { body }), 400, code, param);
  });

  it.each([
    ['a wrong normalize type', { inputs: 'a', normalize: 'yes' }, 'normalize'],
    ['an unknown truncation_direction', { inputs: 'a', truncation_direction: 'Middle' }, 'truncation_direction'],
    ['an empty inputs array', { inputs: [] }, 'inputs'],
  ])('answers 400 for %s on /embed', async (_, body, param) => {
    await expectError(await call('/embed', { body }), 400, 'invalid_request', param);
  });

  it('answers 404 for unknown routes and 405 for wrong methods', async () => {
    await expectError(await call('/v2/nothing'), 404, 'not_found');
    const wrongMethod = await call('/v1/embeddings');
    await expectError(wrongMethod, 405, 'method_not_allowed');
    expect(wrongMethod.headers.get('allow')).toBe('POST');
    await expectError(await call('/health', { method: 'DELETE' }), 405, 'method_not_allowed');
  });

  it.each([
    ['text/plain', { 'content-type': 'text/plain;charset=UTF-8' }],
    ['a form', { 'content-type': 'application/x-www-form-urlencoded' }],
    ['a latin1 charset', { 'content-type': 'application/json; charset=latin1' }],
  ])('answers 415 for a body sent as %s, naming the content type to send', async (_, headers) => {
    const response = await call('/v1/embeddings', { body: { input: 'hi' }, headers });
    await expectError(response, 415, 'unsupported_media_type');
  });

  it('accepts JSON with a UTF-8 charset', async () => {
    const headers = { 'content-type': 'application/json; charset=utf-8' };
    expect((await call('/v1/embeddings', { body: { input: 'charset given' }, headers })).status).toBe(200);
  });
});
