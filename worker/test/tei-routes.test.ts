/**
 * text-embeddings-inference's route aliases, inside workerd with the default bundle: POST / and POST /invocations
 * answer as /embed (or /similarity for a similarity body), POST /embeddings as /v1/embeddings, GET /ping and GET /
 * (unless a browser asks for the page) as /health; with the same auth, concurrency cap, 405 and 4xx rules.
 */
import { describe, expect, it } from 'vitest';
import { defaultBundle } from '../src/bundle/default-bundle.js';
import { createApp } from '../src/http/app.js';
import { workerdOrt } from '../src/runtime/ort-workerd.js';
import { call, mixedTexts } from './helpers.js';

const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

async function json(response: Response): Promise<unknown> {
  expect(response.status, await response.clone().text()).toBe(200);
  return response.json();
}

async function errorCode(response: Response): Promise<{ status: number; code: string; param: string | null }> {
  const body = (await response.json()) as { error: { code: string; param: string | null } };
  return { status: response.status, code: body.error.code, param: body.error.param };
}

describe('POST / and POST /invocations (TEI root and SageMaker routes)', () => {
  const inputs = ['The root route embeds like /embed.', 'A second, longer input for the root route alias.'];

  it('answer exactly what /embed answers, for a list, a single string and normalize: false', async () => {
    for (const body of [{ inputs }, { inputs: inputs[0] }, { inputs, normalize: false }]) {
      const expected = (await json(await call('/embed', { body }))) as number[][];
      expect(expected).toHaveLength(typeof body.inputs === 'string' ? 1 : inputs.length);
      expect(expected[0].length).toBeGreaterThan(0);
      for (const path of ['/', '/invocations']) {
        const response = await call(path, { body });
        expect(await json(response)).toEqual(expected);
        expect(response.headers.get('x-cache-hits')).not.toBeNull();
      }
    }
  });

  it('answer what /similarity answers for a similarity body (inputs.source_sentence and inputs.sentences)', async () => {
    const body = {
      inputs: { source_sentence: 'I love my dog', sentences: ['Dogs are great pets', 'Stock prices fell today'] },
    };
    const expected = (await json(await call('/similarity', { body }))) as number[];
    expect(expected).toHaveLength(2);
    expect(expected[0]).toBeGreaterThan(expected[1]);
    for (const path of ['/', '/invocations']) expect(await json(await call(path, { body }))).toEqual(expected);
  });

  it('refuse bad bodies with the 4xx of the route they stand for', async () => {
    for (const path of ['/', '/invocations']) {
      expect(await errorCode(await call(path, { body: '{"inputs": ' }))).toMatchObject({
        status: 400,
        code: 'invalid_json',
      });
      expect(await errorCode(await call(path, { body: { inputs: 42 } }))).toMatchObject({
        status: 400,
        code: 'invalid_request',
        param: 'inputs',
      });
      expect(await errorCode(await call(path, { body: { inputs: { source_sentence: 'a' } } }))).toMatchObject({
        status: 400,
        code: 'invalid_request',
        param: 'inputs.sentences',
      });
      expect(await errorCode(await call(path, { body: { inputs: 'x'.repeat(100_000) } }))).toMatchObject({
        status: 413,
      });
      const text = await call(path, { body: { inputs: 'hi' }, headers: { 'content-type': 'text/plain' } });
      expect(await errorCode(text)).toMatchObject({ status: 415, code: 'unsupported_media_type' });
    }
  });
});

describe('POST /embeddings (TEI alias of the OpenAI route)', () => {
  it('answers exactly what /v1/embeddings answers, floats and base64', async () => {
    for (const encoding_format of ['float', 'base64']) {
      const body = { input: ['Alias of the OpenAI route', 'second'], model: 'any', encoding_format };
      const expected = await json(await call('/v1/embeddings', { body }));
      expect(await json(await call('/embeddings', { body }))).toEqual(expected);
    }
    expect(await errorCode(await call('/embeddings', { body: { input: '' } }))).toMatchObject({
      status: 400,
      param: 'input',
    });
  });
});

describe('GET /ping and GET / (TEI health aliases) and the page', () => {
  it('/ping and GET / without Accept: text/html answer as /health', async () => {
    const health = await json(await call('/health'));
    expect(health).toEqual({ status: 'ok' });
    expect(await json(await call('/ping'))).toEqual(health);
    for (const accept of [undefined, '*/*', 'application/json']) {
      const response = await call('/', accept === undefined ? {} : { headers: { accept } });
      expect(response.headers.get('content-type')).toContain('application/json');
      expect(response.headers.get('vary')).toContain('Accept');
      expect(await json(response)).toEqual(health);
    }
  });

  it("GET / with a browser's Accept serves the page", async () => {
    const response = await call('/', { headers: { accept: BROWSER_ACCEPT } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/html');
    expect(response.headers.get('vary')).toContain('Accept');
    expect(await response.text()).toContain('id="documents"');
  });

  it('/ping and GET / answer 503 when /health does, while the page is still served', async () => {
    const broken = { ...defaultBundle, manifest: async () => ({ formatVersion: 99 }) };
    const app = createApp({ bundle: broken, ort: workerdOrt });
    for (const path of ['/health', '/ping', '/']) {
      expect(await errorCode(await call(path, {}, {}, app))).toMatchObject({
        status: 503,
        code: 'model_unavailable',
      });
    }
    expect((await call('/', { headers: { accept: BROWSER_ACCEPT } }, {}, app)).status).toBe(200);
  });
});

describe('auth, methods and the concurrency cap on the aliases', () => {
  it('with API_KEYS: /ping and GET / are open like /health; POST /, /invocations and /embeddings need the key', async () => {
    const keys = { API_KEYS: 'alias-key' };
    expect((await call('/ping', {}, keys)).status).toBe(200);
    expect((await call('/', {}, keys)).status).toBe(200);
    const bodies: Record<string, unknown> = {
      '/': { inputs: 'key check' },
      '/invocations': { inputs: 'key check' },
      '/embeddings': { input: 'key check' },
    };
    for (const [path, body] of Object.entries(bodies)) {
      expect(await errorCode(await call(path, { body }, keys))).toMatchObject({ status: 401, code: 'unauthorized' });
      const allowed = await call(path, { body, headers: { authorization: 'Bearer alias-key' } }, keys);
      expect(allowed.status).toBe(200);
    }
  });

  it('a wrong method is 405 with Allow listing the methods the path serves', async () => {
    const cases: Array<[string, string, string[]]> = [
      ['PUT', '/', ['GET', 'HEAD', 'POST']],
      ['DELETE', '/', ['GET', 'HEAD', 'POST']],
      ['GET', '/invocations', ['POST']],
      ['GET', '/embeddings', ['POST']],
      ['POST', '/ping', ['GET', 'HEAD']],
    ];
    for (const [method, path, allowed] of cases) {
      const response = await call(path, { method, body: method === 'GET' ? undefined : {} });
      expect(await errorCode(response.clone()), `${method} ${path}`).toMatchObject({
        status: 405,
        code: 'method_not_allowed',
      });
      const allow = (response.headers.get('allow') ?? '').split(', ').sort();
      expect(allow, `${method} ${path}`).toEqual(allowed);
    }
    expect(await errorCode(await call('/pings'))).toMatchObject({ status: 404, code: 'not_found' });
  });

  it('counts POST /, /invocations and /embeddings against MAX_CONCURRENT_INFERENCES', async () => {
    const env = { MAX_CONCURRENT_INFERENCES: '1' };
    for (const path of ['/', '/invocations', '/embeddings']) {
      const texts = mixedTexts(`cap on ${path}`, 3);
      const body = (text: string) => (path === '/embeddings' ? { input: text } : { inputs: text });
      // A request takes its slot when it reaches the embedding core; a fresh app's first one holds it through the
      // model load, while the others arrive (with the model loaded, each runs to its end before the next starts).
      const app = createApp({ bundle: defaultBundle, ort: workerdOrt });
      const responses = await Promise.all(texts.map((text) => call(path, { body: body(text) }, env, app)));
      const statuses = responses.map((response) => response.status).sort();
      expect(statuses, path).toEqual([200, 503, 503]);
      const refused = responses.find((response) => response.status === 503)!;
      expect(await errorCode(refused)).toMatchObject({ code: 'overloaded' });
    }
  });
});
