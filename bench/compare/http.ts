/**
 * One HTTP request on a new connection with node:http, timed from the call to the body's last byte. node:http rather
 * than fetch: Node's fetch adds milliseconds of client work per request under load (bench:latency: p50 5.09 ms with
 * fetch against 3.13 ms with node:http on the same worker), which would be counted as the worker's latency. A new
 * connection each time: Miniflare and plain workerd drop a POST on a reused keep-alive connection mid-run.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { request } from 'node:http';
import { performance } from 'node:perf_hooks';

export interface Timed {
  ms: number;
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** @example const { ms, status } = await timedRequest('http://127.0.0.1:8787', '/v1/embeddings', '{"input":"hi"}') */
export function timedRequest(url: string, path: string, body?: string): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = request(`${url}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      agent: false,
      headers:
        body === undefined ? { connection: 'close' } : { 'content-type': 'application/json', connection: 'close' },
    });
    req.once('error', reject);
    req.once('response', (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.once('error', reject);
      response.once('end', () =>
        resolve({
          ms: performance.now() - started,
          status: response.statusCode ?? 0,
          headers: response.headers,
          body: Buffer.concat(chunks).toString(),
        }),
      );
    });
    req.end(body);
  });
}
