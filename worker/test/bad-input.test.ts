/**
 * The bad-input suite: at least 2,000 requests generated from a fixed seed against every route the app serves (read
 * from `app.routes`, body schemas from the OpenAPI document), inside workerd: invalid JSON, wrong types per field, huge
 * arrays and strings, lone surrogates, control characters, deep nesting, wrong or missing content types, oversized
 * bodies, invalid UTF-8, token ids under TOKEN_ID_INPUTS=accept, wrong methods, odd paths and queries, bad API keys,
 * odd headers and CORS preflights (worker/test/bad-input/cases.ts). Nothing may answer >= 500 or take the isolate
 * down; every refusal is a JSON error in the API's shape, and the cases no valid request can be are always refused
 * (a 2xx there is a failure). Prints a status histogram.
 */
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../model-packager/src/fixtures/random.js';
import { openApiDocument } from '../src/http/openapi.js';
import worker, { appFor } from '../src/index.js';
import { type BadRequest, casesFor, LIMITS, targetsOf } from './bad-input/cases.js';
import { testEnv } from './helpers.js';

const SEED = 20261201;
const TOTAL = 2000;

async function send(request: BadRequest): Promise<Response> {
  const init: RequestInit = { method: request.method, headers: request.headers, body: request.body };
  const ctx = createExecutionContext();
  const env = { ...testEnv, ...LIMITS, ...request.vars };
  const response = await worker.fetch(new Request(`http://edge-embed.test${request.url}`, init), env, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

/** What is wrong with the answer, or undefined when it is fine. */
function problem(request: BadRequest, status: number, contentType: string | null, text: string): string | undefined {
  if (status >= 500) return 'a 5xx';
  if (request.mustRefuse && (status < 400 || status >= 500)) return 'not refused with a 4xx';
  if (status >= 400) {
    if (request.method === 'HEAD') return undefined;
    let code: unknown;
    try {
      code = (JSON.parse(text) as { error?: { code?: unknown } }).error?.code;
    } catch {
      code = undefined;
    }
    return contentType?.includes('application/json') && typeof code === 'string' ? undefined : 'not a JSON error';
  }
  return status === 200 || status === 204 ? undefined : 'an unexpected status';
}

function describeCase(request: BadRequest, status: number | string, text: string): string {
  const headers = Object.keys(request.headers).length > 0 ? ` headers ${JSON.stringify(request.headers)}` : '';
  const vars = Object.keys(request.vars).length > 0 ? ` vars ${JSON.stringify(request.vars)}` : '';
  return `${request.method} ${request.url.slice(0, 80)} (${request.category}${headers.slice(0, 200)}${vars}): ${status} ${text.slice(0, 160)}`;
}

describe('bad input', () => {
  it(`answers ${TOTAL} seeded bad requests across every route without a 5xx, refusals as JSON`, async () => {
    const targets = targetsOf(appFor(testEnv).routes, openApiDocument());
    const perTarget = Math.ceil(TOTAL / targets.length);
    const random = mulberry32(SEED);
    const statuses: Record<string, Record<number, number>> = {};
    const categories = new Map<string, number>();
    const failures: string[] = [];
    let total = 0;
    for (const target of targets) {
      for (const request of casesFor(target, random, perTarget)) {
        total++;
        if (request.mustRefuse) categories.set(request.category, (categories.get(request.category) ?? 0) + 1);
        let response: Response;
        try {
          response = await send(request);
        } catch (error) {
          failures.push(`threw: ${describeCase(request, 'no answer', String(error))}`);
          continue;
        }
        const byCategory = statuses[request.category] ?? {};
        byCategory[response.status] = (byCategory[response.status] ?? 0) + 1;
        statuses[request.category] = byCategory;
        const text = await response.text();
        const found = problem(request, response.status, response.headers.get('content-type'), text);
        if (found !== undefined) failures.push(`${found}: ${describeCase(request, response.status, text)}`);
      }
      // The isolate still serves after each route's batch.
      const health = await worker.fetch(
        new Request('http://edge-embed.test/health'),
        testEnv,
        createExecutionContext(),
      );
      expect(health.status, `after ${target.method} ${target.path}`).toBe(200);
    }
    const routes = targets.map((target) => `${target.method} ${target.path}`);
    console.info(JSON.stringify({ event: 'bad_input_summary', seed: SEED, requests: total, routes, statuses }));
    expect(failures).toEqual([]);
    expect(total).toBeGreaterThanOrEqual(TOTAL);
    // The routes really came from the app: GET and POST ones, the inference routes among them.
    expect(routes).toEqual(
      expect.arrayContaining(['GET /metrics', 'GET /openapi.json', 'POST /decode', 'POST /v1/rank']),
    );
    // Each kind of must-refuse case was really generated (a renamed category would otherwise go unchecked).
    for (const category of ['invalid JSON', 'wrong content type', 'oversized body', 'wrong method', 'bad API key']) {
      expect(categories.get(category) ?? 0, category).toBeGreaterThan(0);
    }
  });
});
