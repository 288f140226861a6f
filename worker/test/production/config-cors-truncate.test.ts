/**
 * Production behaviour of the worker: an invalid var is one clear 500 config_invalid naming it (logged once), CORS
 * from CORS_ALLOW_ORIGINS (preflight and answers; other origins get nothing), AUTO_TRUNCATE on POST /v1/embeddings,
 * and the page's Content-Security-Policy.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { playgroundHtml } from '../../src/http/playground.js';
import { call } from '../helpers.js';

async function errorBody(response: Response): Promise<{ code: string; message: string; type: string }> {
  expect(response.headers.get('content-type')).toContain('application/json');
  return ((await response.json()) as { error: { code: string; message: string; type: string } }).error;
}

describe('an invalid var', () => {
  afterEach(() => vi.restoreAllMocks());

  it('fails each request with one JSON 500 config_invalid naming the var, logged once per isolate', async () => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    for (let i = 0; i < 3; i++) {
      const response = await call('/v1/embeddings', { body: { input: 'x' } }, { LRU_MAX_BYTES: '-5' });
      expect(response.status).toBe(500);
      const error = await errorBody(response);
      expect(error).toMatchObject({ code: 'config_invalid', type: 'server_error' });
      expect(error.message).toContain('LRU_MAX_BYTES');
      expect(error.message).not.toContain('-5');
    }
    const logged = errors.mock.calls.map((args) => String(args[0])).filter((line) => line.includes('LRU_MAX_BYTES'));
    expect(logged).toHaveLength(1);
    expect(JSON.parse(logged[0])).toMatchObject({ level: 'error', event: 'config_invalid' });
    expect(logged[0]).not.toContain('stack');
  });

  it('names every bad var, the CORS and AUTO_TRUNCATE ones included', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const response = await call('/info', {}, { CORS_ALLOW_ORIGINS: 'app.example', AUTO_TRUNCATE: 'yes' });
    const error = await errorBody(response);
    expect(response.status).toBe(500);
    expect(error.message).toContain('CORS_ALLOW_ORIGINS');
    expect(error.message).toContain('AUTO_TRUNCATE');
  });
});

describe('CORS_ALLOW_ORIGINS', () => {
  const allowed = 'https://app.example';
  const env = { CORS_ALLOW_ORIGINS: `${allowed}, https://other-app.example`, API_KEYS: 'cors-key' };
  const preflight = (origin: string, vars: Record<string, string> = env) =>
    call(
      '/v1/embeddings',
      {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization, content-type',
        },
      },
      vars,
    );
  const post = (origin: string, vars: Record<string, string> = env, key = 'cors-key') =>
    call('/v1/embeddings', { body: { input: 'cors' }, headers: { origin, authorization: `Bearer ${key}` } }, vars);

  it('answers an allowed origin’s preflight (without a key) and its requests with the CORS headers', async () => {
    const options = await preflight(allowed);
    expect(options.status).toBe(204);
    expect(options.headers.get('access-control-allow-origin')).toBe(allowed);
    expect(options.headers.get('access-control-allow-methods')).toContain('POST');
    expect(options.headers.get('access-control-allow-headers')).toContain('authorization');

    const answer = await post(allowed);
    expect(answer.status).toBe(200);
    expect(answer.headers.get('access-control-allow-origin')).toBe(allowed);
    expect(answer.headers.get('access-control-expose-headers')).toContain('x-cache-hits');
    expect(answer.headers.get('vary')).toContain('Origin');
    // An error is readable by the page too.
    const refused = await post(allowed, env, 'wrong-key');
    expect(refused.status).toBe(401);
    expect(refused.headers.get('access-control-allow-origin')).toBe(allowed);
  });

  it('gives another origin, and every origin when unset, no CORS header at all', async () => {
    const cases: Array<[string, Record<string, string>]> = [
      ['https://evil.example', env],
      [allowed, { API_KEYS: 'cors-key' }],
    ];
    for (const [origin, vars] of cases) {
      const options = await preflight(origin, vars);
      expect(options.status).not.toBe(204);
      const answer = await post(origin, vars);
      expect(answer.status).toBe(200);
      for (const response of [options, answer]) {
        const cors = [...response.headers.keys()].filter((name) => name.startsWith('access-control-'));
        expect(cors).toEqual([]);
      }
    }
  });

  it('answers any origin with * when the list is *', async () => {
    const answer = await post('https://anyone.example', { CORS_ALLOW_ORIGINS: '*', API_KEYS: 'cors-key' });
    expect(answer.headers.get('access-control-allow-origin')).toBe('*');
  });
});

describe('AUTO_TRUNCATE', () => {
  const filler = 'lantern meadow harbor copper '.repeat(80);
  const long = `auto truncate ${filler} the end`;
  /** The same first max tokens as `long`, another tail: a cache miss that truncates to the same tokens. */
  const sameHead = `auto truncate ${filler} another ending entirely`;

  it('is off by default: an over-long input on /v1/embeddings is a 400', async () => {
    const response = await call('/v1/embeddings', { body: { input: long } });
    expect(response.status).toBe(400);
    expect((await errorBody(response)).code).toBe('context_length_exceeded');
  });

  it('embeds the first max tokens, as TEI /embed truncate:true does, and reports it', async () => {
    const short = 'a short one for auto truncate';
    const response = await call('/v1/embeddings', { body: { input: [long, short] } }, { AUTO_TRUNCATE: 'true' });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-truncated-inputs')).toBe('1');
    expect(response.headers.get('x-cache-misses')).toBe('2');
    const body = (await response.json()) as {
      data: Array<{ embedding: number[] }>;
      usage: { prompt_tokens: number };
    };

    // The same text (served from the cache both share) and one the model runs on now, cut to the same tokens.
    const tei = await call('/embed', { body: { inputs: [long, sameHead], truncate: true } });
    expect(tei.headers.get('x-cache-misses')).toBe('1');
    const [teiSame, teiComputed] = (await tei.json()) as number[][];
    const embedded = body.data[0].embedding;
    expect(embedded).toEqual(teiSame);
    const largestDifference = Math.max(...embedded.map((value, i) => Math.abs(value - teiComputed[i])));
    expect(largestDifference).toBeLessThan(1e-5);

    const info = (await (await call('/info')).json()) as { max_input_length: number };
    const tokenized = (await (await call('/tokenize', { body: { inputs: short } })).json()) as unknown[][];
    // usage counts the tokens embedded: the long input's max tokens, not its full length.
    expect(body.usage.prompt_tokens).toBe(info.max_input_length + tokenized[0].length);
  });

  it('reports 0 truncated inputs when none was too long', async () => {
    const response = await call('/v1/embeddings', { body: { input: 'short and sweet' } }, { AUTO_TRUNCATE: 'true' });
    expect(response.headers.get('x-truncated-inputs')).toBe('0');
  });
});

describe('the page at GET /', () => {
  it('sends a Content-Security-Policy that allows exactly its inline script and style, by hash', async () => {
    const response = await call('/', { headers: { accept: 'text/html' } });
    expect(response.status).toBe(200);
    const policy = response.headers.get('content-security-policy') ?? '';
    expect(policy).not.toContain('unsafe-inline');
    expect(policy).toContain("connect-src 'self'");
    expect(policy).toContain("default-src 'none'");
    const html = await response.text();
    expect(html).toBe(playgroundHtml);
    const hash = async (text: string) => {
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));
      return `'sha256-${btoa(String.fromCharCode(...digest))}'`;
    };
    const inline = (tag: string) => {
      const blocks = [...html.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, 'g'))].map((match) => match[1]);
      expect(blocks).toHaveLength(1);
      return blocks[0];
    };
    expect(policy).toContain(`script-src ${await hash(inline('script'))};`);
    expect(policy).toContain(`style-src ${await hash(inline('style'))};`);
    expect(html).not.toMatch(/ style="| on[a-z]+="/);
  });
});
