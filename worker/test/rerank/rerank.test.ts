/**
 * POST /rerank (text-embeddings-inference) and POST /v1/rerank (Cohere, Jina, Workers AI) inside workerd, with the tiny
 * cross-encoder fixture compiled in beside the default bundle and real inference: the order is the fp32 export's
 * order, the bodies match the peers' documented shapes, the document is cut and never the query, and a repeated
 * (query, document) pair runs no inference.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import fp32Model from '../../../.fixtures/reranker/model.onnx';
import fp32Tokenizer from '../../../.fixtures/reranker/tokenizer.json';
import { CrossEncoder } from '../../../bundle-runtime/cross-encoder.js';
import { Embedder } from '../../../bundle-runtime/embedder.js';
import { createOrtEngine } from '../../../bundle-runtime/ort-engine.js';
import { BundleTokenizer } from '../../../bundle-runtime/tokenizer.js';
import manifest from '../../../bundles/reranker-fixture/manifest.json';
import { compiledBundles, defaultBundle } from '../../src/bundle/default-bundle.js';
import { createApp } from '../../src/http/app.js';
import { workerdOrt } from '../../src/runtime/ort-workerd.js';
import { call } from '../helpers.js';

/** text-embeddings-inference's /rerank response (its OpenAPI `Rank`): index, score, text only when asked. */
const TeiRerankResponse = z.array(
  z.object({ index: z.number().int().nonnegative(), score: z.number(), text: z.string().optional() }).strict(),
);
/** Cohere's v2 /rerank response: results of index, relevance_score and, when asked, document.text. */
const CohereRerankResponse = z.object({
  results: z.array(
    z.object({
      index: z.number().int().nonnegative(),
      relevance_score: z.number(),
      document: z.object({ text: z.string() }).optional(),
    }),
  ),
});
/** Jina's /v1/rerank response: model, usage.total_tokens and the same results. */
const JinaRerankResponse = CohereRerankResponse.extend({
  model: z.string(),
  usage: z.object({ total_tokens: z.number().int().nonnegative() }),
});
/** Workers AI's reranker output (@cf/baai/bge-reranker-base): response of id and score. */
const WorkersAiRerankResponse = z.object({
  response: z.array(z.object({ id: z.number().int().nonnegative(), score: z.number() }).strict()),
});

const query = 'how do I bake a chocolate cake';
const documents = [
  'how do I bake a chocolate cake with flour, sugar, eggs and cocoa',
  'The stock market closed lower on Friday after weak earnings reports.',
  'The home team won the football championship in extra time.',
  'how do I bake bread at home',
  'A man is playing a guitar on the street corner.',
];
/** Longer than the fixture's 128 tokens with any short query. */
const longText = (ending: string) => `${Array.from({ length: 150 }, (_, i) => `word${i % 40}`).join(' ')} ${ending}`;

async function post(path: string, body: unknown, env: Record<string, string> = {}) {
  const response = await call(path, { body }, env);
  return { response, json: (await response.json()) as unknown };
}

async function rerankerInfo() {
  const body = (await (await call('/info')).json()) as { reranking: Record<string, number | string | boolean> | null };
  return body.reranking;
}

describe('POST /rerank', () => {
  it('ranks the documents as the fp32 export scores them, best first, with texts when asked', async () => {
    const { response, json } = await post('/rerank', { query, texts: documents, return_text: true });
    expect(response.status).toBe(200);
    const ranked = TeiRerankResponse.parse(json);
    expect(ranked.map((r) => r.text)).toEqual(ranked.map((r) => documents[r.index]));
    const scores = ranked.map((r) => r.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));

    const engine = await createOrtEngine(workerdOrt, new Uint8Array(fp32Model), {
      inputs: ['input_ids', 'attention_mask', 'token_type_ids'],
      inputDtype: 'int64',
      output: 'logits',
    });
    const fp32 = new CrossEncoder(new Embedder(engine), new BundleTokenizer(fp32Tokenizer, {}), {
      maxTokens: manifest.maxTokens,
      activation: { type: 'sigmoid' },
    });
    const reference = await fp32.score(query, documents);
    await fp32.release();
    const referenceOrder = reference.map((score, index) => ({ score, index })).sort((a, b) => b.score - a.score);
    expect(ranked.map((r) => r.index)).toEqual(referenceOrder.map((r) => r.index));
    ranked.forEach((r) => {
      expect(Math.abs(r.score - reference[r.index])).toBeLessThan(manifest.crossEncoder.fidelity.maxAbsDiff + 0.05);
    });
  });

  it('returns raw scores (logits) when asked: their sigmoid is the score', async () => {
    const scored = TeiRerankResponse.parse((await post('/rerank', { query, texts: documents })).json);
    const raw = TeiRerankResponse.parse((await post('/rerank', { query, texts: documents, raw_scores: true })).json);
    expect(raw.map((r) => r.index)).toEqual(scored.map((r) => r.index));
    expect(raw.map((r) => 1 / (1 + Math.exp(-r.score)))).toEqual(scored.map((r) => expect.closeTo(r.score, 6)));
    expect(raw.some((r) => r.score < 0 || r.score > 1)).toBe(true);
  });

  it('cuts the document, never the query, when truncating; refuses with 413 naming the document otherwise', async () => {
    const texts = [longText('alpha'), longText('omega')];
    const right = TeiRerankResponse.parse((await post('/rerank', { query, texts, truncate: true })).json);
    // Cut from the right, the two documents differ only in what was cut: the same score.
    expect(right[0].score).toBe(right[1].score);
    const left = TeiRerankResponse.parse(
      (await post('/rerank', { query, texts, truncate: true, truncation_direction: 'Left' })).json,
    );
    expect(left[0].score).not.toBe(left[1].score);
    // The query is kept whole: a different last query word changes the score of the same (cut) document.
    const other = TeiRerankResponse.parse(
      (await post('/rerank', { query: `${query} quickly`, texts, truncate: true })).json,
    );
    expect(other[0].score).not.toBe(right[0].score);

    const { response, json } = await post('/rerank', { query, texts: ['a short one', longText('x')] });
    expect(response.status).toBe(413);
    expect(json).toMatchObject({
      error: { param: 'texts[1]', message: expect.stringMatching(/^texts\[1\] has \d+ tokens/) },
    });
  });

  it('runs no inference for a repeated pair; the same document under another query is a new pair', async () => {
    const texts = ['copper lanterns in the harbor', 'a quiet meadow at dawn', 'signals from orbit'];
    const first = await call('/rerank', { body: { query: 'harbor lights', texts } });
    expect(first.headers.get('x-cache-misses')).toBe('3');
    const before = await rerankerInfo();
    const again = await call('/rerank', { body: { query: 'harbor lights', texts } });
    expect([again.headers.get('x-cache-hits'), again.headers.get('x-cache-misses')]).toEqual(['3', '0']);
    expect(await again.json()).toEqual(await first.json());
    expect((await rerankerInfo())?.inferences).toBe(before?.inferences);
    const otherQuery = await call('/rerank', { body: { query: 'meadow at dawn', texts } });
    expect(otherQuery.headers.get('x-cache-misses')).toBe('3');
    expect((await rerankerInfo())?.scored_pairs).toBe(Number(before?.scored_pairs) + 3);
  });
});

describe('POST /v1/rerank', () => {
  it("answers in Cohere's and Jina's shape, top_n best first, documents when asked", async () => {
    const tei = TeiRerankResponse.parse((await post('/rerank', { query, texts: documents })).json);
    const { response, json } = await post('/v1/rerank', {
      model: 'reranker-fixture',
      query,
      documents: documents.map((text, i) => (i % 2 === 0 ? text : { text })),
      top_n: 3,
      return_documents: true,
    });
    expect(response.status).toBe(200);
    CohereRerankResponse.parse(json);
    const body = JinaRerankResponse.parse(json);
    expect(body.results.map((r) => [r.index, r.relevance_score])).toEqual(
      tei.slice(0, 3).map((r) => [r.index, r.score]),
    );
    expect(body.results.map((r) => r.document?.text)).toEqual(body.results.map((r) => documents[r.index]));
    expect(body.usage.total_tokens).toBeGreaterThan(documents.length * 3);
  });

  it("answers Workers AI's contexts / top_k with { response: [{ id, score }] }", async () => {
    const tei = TeiRerankResponse.parse((await post('/rerank', { query, texts: documents })).json);
    const { json } = await post('/v1/rerank', { query, contexts: documents.map((text) => ({ text })), top_k: 2 });
    const body = WorkersAiRerankResponse.parse(json);
    expect(body.response).toEqual(tei.slice(0, 2).map((r) => ({ id: r.index, score: r.score })));
  });

  it('refuses bad input with a 4xx naming the field, and reports its limits in /info', async () => {
    const cases: Array<[unknown, number, string]> = [
      [{ query, documents: [] }, 400, 'documents'],
      [{ query }, 400, 'documents'],
      [{ query, documents: ['a'], contexts: [{ text: 'b' }] }, 400, 'documents'],
      [{ query: '', documents: ['a'] }, 400, 'query'],
      [{ query, documents: [3] }, 400, 'documents[0]'],
      [{ query, documents: ['a', ''] }, 400, 'documents[1]'],
      [{ query, documents: ['a'], top_n: 0 }, 400, 'top_n'],
      [{ query: longText('q'), documents: ['a'] }, 413, 'query'],
    ];
    for (const [body, status, param] of cases) {
      const { response, json } = await post('/v1/rerank', body);
      expect([response.status, (json as { error: { param: string } }).error.param]).toEqual([status, param]);
    }
    const many = await post(
      '/v1/rerank',
      { query, documents: Array.from({ length: 4 }, (_, i) => `doc ${i}`) },
      {
        MAX_INPUTS: '3',
      },
    );
    expect(many.response.status).toBe(413);
    const tokens = await post(
      '/v1/rerank',
      { query: 'fresh', documents: ['a b c d e f', 'g h i j k l'] },
      {
        RERANK_MAX_TOKENS: '10',
      },
    );
    expect([tokens.response.status, (tokens.json as { error: { param: string } }).error.param]).toEqual([
      413,
      'documents',
    ]);
    expect(await rerankerInfo()).toMatchObject({
      model: 'reranker-fixture',
      bundle_hash: manifest.contentHash,
      max_input_length: 128,
      max_documents: 256,
      max_pair_tokens: 32_768,
    });
  });
});

describe('the reranker among MODELS', () => {
  const app = createApp({ bundle: defaultBundle, compiled: compiledBundles, ort: workerdOrt });
  const env = { MODELS: 'use=default,rr=reranker-fixture' };
  const rerank = (body: Record<string, unknown>) =>
    call('/v1/rerank', { body: { query, documents, ...body } }, env, app);

  it('`model` names it, no `model` reaches it, an embedding model or an unknown name is refused', async () => {
    const named = await rerank({ model: 'rr' });
    expect(named.status).toBe(200);
    const body = JinaRerankResponse.parse(await named.json());
    expect(body.model).toBe('rr');
    expect(JinaRerankResponse.parse(await (await rerank({})).json()).results).toEqual(body.results);
    const embedder = await rerank({ model: 'use' });
    expect([embedder.status, ((await embedder.json()) as { error: { message: string } }).error.message]).toEqual([
      400,
      'model "use" is a transformer model; this route needs a reranking model (cross-encoder)',
    ]);
    expect((await rerank({ model: 'nope' })).status).toBe(404);
    const listed = (await (await call('/v1/models', {}, env, app)).json()) as {
      data: Array<{ id: string; kind: string }>;
    };
    expect(listed.data.map(({ id, kind }) => [id, kind])).toEqual([
      ['use', 'transformer'],
      ['rr', 'cross-encoder'],
    ]);
  });

  it('is absent from a worker whose MODELS lists no cross-encoder: 404 naming the models', async () => {
    const response = await call('/rerank', { body: { query, texts: documents } }, { MODELS: 'use=default' }, app);
    expect(response.status).toBe(404);
    expect(((await response.json()) as { error: { message: string } }).error.message).toBe(
      'no reranking model (cross-encoder) is served here; models: use. To serve one, upload a cross-encoder bundle to BUNDLE_STORE (edge-embed upload-bundle) and name it in MODELS beside the embedding model, as <name>=kv:<contentHash> (docs/reranking.md)',
    );
  });
});
