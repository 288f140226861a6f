/**
 * The entry users deploy by default, inside workerd: wrangler.toml's main (worker/src/index-plan.ts), which `npx
 * wrangler deploy` uploads and `npm start` serves, reached as this test run's main module (vitest.workers.config.ts
 * reads it from wrangler.toml) with wrangler.toml's own vars. It embeds on the plan engine, ranks in two stages with its
 * static companion, and answers what it lost against the full worker/src/index.ts (the reranker fixture, ONNX Runtime)
 * with a 4xx/503 that says how to get it.
 */
import { exports } from 'cloudflare:workers';
import { describe, expect, it, vi } from 'vitest';
import planEntry from '../src/index-plan.js';
import { call } from './helpers.js';

/** The main module as wrangler builds it: a request goes through workerd's own fetch handler, env from wrangler.toml. */
const deployed = (exports as unknown as { default: { fetch(request: Request): Promise<Response> } }).default;

function send(path: string, body?: unknown): Promise<Response> {
  return deployed.fetch(
    new Request(`http://edge-embed.test${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    }),
  );
}

describe("the default entry (wrangler.toml's main)", () => {
  it('embeds with the plan engine, which /info reports, and ranks with the static companion', async () => {
    const response = await send('/v1/embeddings', { input: ['the default deploy', 'serves the plan'] });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { model: string; data: Array<{ embedding: number[] }> };
    expect(body.model).toBe('universal-sentence-encoder-lite');
    expect(body.data.map((item) => item.embedding.length)).toEqual([512, 512]);
    const info = (await (await send('/info')).json()) as { engine: string; loaded: boolean; models: unknown[] };
    expect(info).toMatchObject({ engine: 'plan', loaded: true });
    expect(info.models).toHaveLength(1);
    const rank = await send('/v1/rank', {
      query: 'plan',
      documents: ['a plan', 'a stone', 'a river'],
      rerank_top_k: 2,
    });
    expect(rank.status).toBe(200);
  });

  it('answers /rerank with 404 saying how to serve a reranker, ENGINE=ort with 503 saying where ONNX Runtime is', async () => {
    const rerank = await send('/rerank', { query: 'q', texts: ['a', 'b'] });
    expect(rerank.status).toBe(404);
    const { error } = (await rerank.json()) as { error: { code: string; message: string } };
    expect(error.code).toBe('model_not_found');
    expect(error.message).toMatch(/no reranking model .* upload a cross-encoder bundle .* MODELS .*=kv:<contentHash>/);

    // wrangler.toml's vars hold no ENGINE, so this one goes through the same module with the var set.
    vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const ort = await call('/v1/embeddings', { body: { input: 'onnx runtime please' } }, { ENGINE: 'ort' }, planEntry);
    vi.restoreAllMocks();
    expect(ort.status).toBe(503);
    const refused = ((await ort.json()) as { error: { message: string } }).error.message;
    expect(refused).toContain('built without ONNX Runtime and model.onnx');
    expect(refused).toContain('worker/src/index-kv.ts');
    expect(refused).toContain('ENGINE=ort npm start');

    // The fixture is compiled into the full worker only: naming it here is a config error that says so.
    const fixture = await call('/v1/models', {}, { MODELS: 'use=default,rr=reranker-fixture' }, planEntry);
    expect(fixture.status).toBe(500);
    expect(((await fixture.json()) as { error: { message: string } }).error.message).toContain(
      'this worker has no compiled-in bundle reranker-fixture',
    );
  });
});
