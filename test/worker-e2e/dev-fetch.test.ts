/**
 * devFetch, the end-to-end tests' one fetch for `wrangler dev`: against a local HTTP server that answers like
 * wrangler's proxy (its exact 503, read from the installed wrangler) or like the worker (JSON errors), it resends only
 * the proxy's answer, the same bytes each time and a bounded number of times, and returns everything else untouched.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEV_FETCH_ATTEMPTS, devFetch, devFetchRetries, WRANGLER_PROXY_RESTART } from './wrangler-dev.js';

const root = join(import.meta.dirname, '../..');

/** The message in the installed wrangler's ProxyWorker, so this test breaks if wrangler's wording changes. */
function wranglerProxyMessage(): string {
  const source = readFileSync(join(root, 'node_modules/wrangler/wrangler-dist/ProxyWorker.js'), 'utf8');
  const match = /"(Your worker restarted mid-request[^"]*)"/.exec(source);
  if (!match) throw new Error('wrangler-dist/ProxyWorker.js no longer holds the "restarted mid-request" message');
  return match[1];
}

const proxyMessage = wranglerProxyMessage();
/** Requests the server saw, per path: method and body. */
let seen: Record<string, Array<{ method: string; body: string }>>;
let server: Server;
let base: string;

/** The answer per path, given how many requests that path has seen (1 for the first). */
const behaviour: Record<string, (n: number, res: ServerResponse) => void> = {
  // wrangler's ProxyWorker answers `new Response(message, { status: 503, headers: { "Retry-After": "0" } })`.
  '/dropped-once': (n, res) =>
    n === 1
      ? res.writeHead(503, { 'content-type': 'text/plain;charset=UTF-8', 'retry-after': '0' }).end(proxyMessage)
      : res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'),
  '/always-dropped': (_, res) =>
    res.writeHead(503, { 'content-type': 'text/plain;charset=UTF-8', 'retry-after': '0' }).end(proxyMessage),
  '/worker-503': (_, res) =>
    res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '5' }).end(
      JSON.stringify({
        error: {
          message: `${WRANGLER_PROXY_RESTART}? no: the model could not be loaded`,
          type: 'server_error',
          param: null,
          code: 'model_unavailable',
        },
      }),
    ),
  '/worker-500': (_, res) =>
    res
      .writeHead(500, { 'content-type': 'application/json' })
      .end(
        JSON.stringify({ error: { message: 'internal error', type: 'server_error', param: null, code: 'internal' } }),
      ),
  '/other-503': (_, res) => res.writeHead(503, { 'content-type': 'text/plain' }).end('Service Unavailable'),
};

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const path = req.url ?? '/';
      seen[path] = [...(seen[path] ?? []), { method: req.method ?? '', body: Buffer.concat(chunks).toString() }];
      behaviour[path](seen[path].length, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  seen = {};
});

const post = (body: string): RequestInit => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body });

describe('devFetch', () => {
  it('knows the installed wrangler proxy message', () => {
    expect(proxyMessage.startsWith(WRANGLER_PROXY_RESTART)).toBe(true);
  });

  it("resends a POST wrangler's proxy dropped, with the same body, and returns the worker's answer", async () => {
    const before = devFetchRetries();
    const response = await devFetch(`${base}/dropped-once`, post('{"input":"resend me"}'));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ok: true });
    expect(seen['/dropped-once']).toEqual([
      { method: 'POST', body: '{"input":"resend me"}' },
      { method: 'POST', body: '{"input":"resend me"}' },
    ]);
    expect(devFetchRetries() - before).toBe(1);
  });

  it('resends a Request object and a streamed body the same way', async () => {
    const request = new Request(`${base}/dropped-once`, post('{"input":"as a Request"}'));
    expect((await devFetch(request)).status).toBe(200);
    expect(seen['/dropped-once'].map((r) => r.body)).toEqual(['{"input":"as a Request"}', '{"input":"as a Request"}']);

    seen = {};
    const stream = new Blob(['{"input":"streamed"}']).stream();
    expect(
      (await devFetch(`${base}/dropped-once`, { method: 'POST', body: stream, duplex: 'half' } as RequestInit)).status,
    ).toBe(200);
    expect(seen['/dropped-once'].map((r) => r.body)).toEqual(['{"input":"streamed"}', '{"input":"streamed"}']);
  });

  it(`gives up after ${DEV_FETCH_ATTEMPTS} sends and returns the proxy's 503 as it came`, async () => {
    const response = await devFetch(`${base}/always-dropped`, post('{}'));
    expect(response.status).toBe(503);
    expect(await response.text()).toBe(proxyMessage);
    expect(seen['/always-dropped']).toHaveLength(DEV_FETCH_ATTEMPTS);
  });

  it("never resends the worker's JSON 503 or 500, or a 503 that is not wrangler's, and leaves their bodies readable", async () => {
    const before = devFetchRetries();
    const unavailable = await devFetch(`${base}/worker-503`, post('{}'));
    expect(unavailable.status).toBe(503);
    expect(unavailable.headers.get('retry-after')).toBe('5');
    expect(((await unavailable.json()) as { error: { code: string } }).error.code).toBe('model_unavailable');
    const internal = await devFetch(`${base}/worker-500`, post('{}'));
    expect(internal.status).toBe(500);
    expect(((await internal.json()) as { error: { code: string } }).error.code).toBe('internal');
    const other = await devFetch(`${base}/other-503`, post('{}'));
    expect(other.status).toBe(503);
    expect(await other.text()).toBe('Service Unavailable');
    expect([seen['/worker-503'], seen['/worker-500'], seen['/other-503']].map((requests) => requests.length)).toEqual([
      1, 1, 1,
    ]);
    expect(devFetchRetries()).toBe(before);
  });
});
