/**
 * POST /v1/rank, POST /similarity (text-embeddings-inference) and the page at GET /, inside workerd with the default
 * bundle and real inference. One model load is shared by the whole file.
 */
import { describe, expect, it } from 'vitest';
import { call, cosine, info, openAiVectors } from './helpers.js';

interface RankBody {
  object: string;
  model: string;
  results: Array<{ index: number; id?: string | number; score: number; document?: string }>;
  usage: { prompt_tokens: number; total_tokens: number };
}

interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string };
}

async function rank(body: unknown, env: Record<string, string> = {}): Promise<{ response: Response; body: RankBody }> {
  const response = await call('/v1/rank', { body }, env);
  if (response.status !== 200) throw new Error(`status ${response.status}: ${await response.text()}`);
  return { response, body: (await response.json()) as RankBody };
}

const documents = [
  'The stock market closed lower on Friday after weak earnings reports.',
  'Preheat the oven, then mix flour, sugar, eggs and cocoa into a smooth cake batter.',
  'The home team won the football championship in extra time.',
];
const query = 'How do I bake a chocolate cake?';

describe('POST /v1/rank', () => {
  it('puts the related document first, sorted by descending score, with ids, documents and usage', async () => {
    const { body } = await rank({
      query,
      documents: documents.map((text, i) => ({ id: `doc-${i}`, text })),
      return_documents: true,
    });
    expect(body.object).toBe('list');
    expect(body.model).toBe((await info()).model_id);
    expect(body.results.map((result) => result.index)[0]).toBe(1);
    expect(body.results.map((result) => result.index).sort()).toEqual([0, 1, 2]);
    const scores = body.results.map((result) => result.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    for (const result of body.results) {
      expect(result.id).toBe(`doc-${result.index}`);
      expect(result.document).toBe(documents[result.index]);
      expect(result.score).toBeGreaterThanOrEqual(-1);
      expect(result.score).toBeLessThanOrEqual(1);
    }
    expect(body.usage.prompt_tokens).toBeGreaterThan(documents.length + 1);
    expect(body.usage.total_tokens).toBe(body.usage.prompt_tokens);
  });

  it('scores are the cosine of the /v1/embeddings vectors; strings give no id or document unless asked; top_k cuts', async () => {
    const texts = [
      'rank scores match embeddings: alpha',
      'rank scores match embeddings: beta',
      'a question about embeddings',
    ];
    const vectors = await openAiVectors(texts);
    const { response, body } = await rank({ query: texts[2], documents: texts.slice(0, 2), top_k: 1 });
    expect(response.headers.get('x-cache-misses')).toBe('0');
    expect(body.results).toHaveLength(1);
    expect(Object.keys(body.results[0]).sort()).toEqual(['index', 'score']);
    const expected = [cosine(vectors[2], vectors[0]), cosine(vectors[2], vectors[1])];
    const best = expected[0] >= expected[1] ? 0 : 1;
    expect(body.results[0].index).toBe(best);
    expect(body.results[0].score).toBeCloseTo(expected[best], 5);
  });

  it('re-ranks the same candidates from the cache: no new inference, and only the new query is embedded', async () => {
    const candidates = ['cache property: a red bicycle', 'cache property: a blue boat', 'cache property: a green kite'];
    const first = await rank({ query: 'something to ride', documents: candidates });
    expect(first.response.headers.get('x-cache-misses')).toBe('4');

    const before = (await info()).counters;
    const again = await rank({ query: 'something to ride', documents: candidates });
    expect(again.response.headers.get('x-cache-hits')).toBe('4');
    expect(again.response.headers.get('x-cache-misses')).toBe('0');
    expect(again.body).toEqual(first.body);
    expect((await info()).counters.inferences).toBe(before.inferences);

    const newQuery = await rank({ query: 'something that floats', documents: [...candidates].reverse() });
    expect(newQuery.response.headers.get('x-cache-misses')).toBe('1');
    expect((await info()).counters.embeddedSequences).toBe(before.embeddedSequences + 1);
  });
});

describe('POST /similarity (text-embeddings-inference)', () => {
  it('returns one score per sentence in input order, equal to /v1/rank scores', async () => {
    const response = await call('/similarity', {
      body: {
        inputs: { source_sentence: query, sentences: documents },
        parameters: { truncate: false, truncation_direction: 'Right' },
      },
    });
    expect(response.status).toBe(200);
    const scores = (await response.json()) as number[];
    expect(scores).toHaveLength(documents.length);
    expect(Math.max(...scores)).toBe(scores[1]);
    const { body } = await rank({ query, documents });
    for (const result of body.results) expect(scores[result.index]).toBeCloseTo(result.score, 6);
    const bare = await call('/similarity', { body: { inputs: { source_sentence: query, sentences: [documents[0]] } } });
    expect(((await bare.json()) as number[])[0]).toBeCloseTo(scores[0], 6);
  });
});

describe('bad ranking requests are 4xx JSON errors naming the field', () => {
  const long = 'word '.repeat(2000);
  const cases: Array<[string, string, unknown, number, string, string | null]> = [
    ['rank: invalid JSON', '/v1/rank', '{"query": ', 400, 'invalid_json', null],
    ['rank: body is an array', '/v1/rank', '[]', 400, 'invalid_request', null],
    ['rank: no query', '/v1/rank', { documents: ['a'] }, 400, 'invalid_request', 'query'],
    ['rank: query is a number', '/v1/rank', { query: 1, documents: ['a'] }, 400, 'invalid_request', 'query'],
    ['rank: empty query', '/v1/rank', { query: '', documents: ['a'] }, 400, 'invalid_request', 'query'],
    ['rank: documents missing', '/v1/rank', { query: 'q' }, 400, 'invalid_request', 'documents'],
    ['rank: documents is a string', '/v1/rank', { query: 'q', documents: 'a' }, 400, 'invalid_request', 'documents'],
    ['rank: no documents', '/v1/rank', { query: 'q', documents: [] }, 400, 'invalid_request', 'documents'],
    ['rank: empty document', '/v1/rank', { query: 'q', documents: ['a', ''] }, 400, 'invalid_request', 'documents[1]'],
    [
      'rank: document without text',
      '/v1/rank',
      { query: 'q', documents: [{ id: 'x' }] },
      400,
      'invalid_request',
      'documents[0]',
    ],
    [
      'rank: document is a number',
      '/v1/rank',
      { query: 'q', documents: ['a', 7] },
      400,
      'invalid_request',
      'documents[1]',
    ],
    [
      'rank: id is an object',
      '/v1/rank',
      { query: 'q', documents: [{ id: {}, text: 'a' }] },
      400,
      'invalid_request',
      'documents[0]',
    ],
    ['rank: top_k 0', '/v1/rank', { query: 'q', documents: ['a'], top_k: 0 }, 400, 'invalid_request', 'top_k'],
    ['rank: top_k 1.5', '/v1/rank', { query: 'q', documents: ['a'], top_k: 1.5 }, 400, 'invalid_request', 'top_k'],
    [
      'rank: return_documents "yes"',
      '/v1/rank',
      { query: 'q', documents: ['a'], return_documents: 'yes' },
      400,
      'invalid_request',
      'return_documents',
    ],
    [
      'rank: document too long',
      '/v1/rank',
      { query: 'q', documents: ['a', long] },
      400,
      'context_length_exceeded',
      'documents[1]',
    ],
    [
      'rank: query too long',
      '/v1/rank',
      { query: long, documents: ['a', 'b'] },
      400,
      'context_length_exceeded',
      'query',
    ],
    [
      'rank: document over MAX_INPUT_CHARS',
      '/v1/rank',
      { query: 'q', documents: ['x'.repeat(40_000)] },
      413,
      'input_too_large',
      'documents[0]',
    ],
    ['similarity: no inputs', '/similarity', { sentences: ['a'] }, 400, 'invalid_request', 'inputs'],
    ['similarity: inputs is a string', '/similarity', { inputs: 'a' }, 400, 'invalid_request', 'inputs'],
    [
      'similarity: sentences missing',
      '/similarity',
      { inputs: { source_sentence: 'q' } },
      400,
      'invalid_request',
      'inputs.sentences',
    ],
    [
      'similarity: no sentences',
      '/similarity',
      { inputs: { source_sentence: 'q', sentences: [] } },
      400,
      'invalid_request',
      'inputs.sentences',
    ],
    [
      'similarity: sentence not a string',
      '/similarity',
      { inputs: { source_sentence: 'q', sentences: [null] } },
      400,
      'invalid_request',
      'inputs.sentences[0]',
    ],
    [
      'similarity: prompt_name',
      '/similarity',
      { inputs: { source_sentence: 'q', sentences: ['a'] }, parameters: { prompt_name: 'query' } },
      400,
      'invalid_request',
      'parameters.prompt_name',
    ],
    [
      'similarity: bad truncation_direction',
      '/similarity',
      { inputs: { source_sentence: 'q', sentences: ['a'] }, parameters: { truncation_direction: 'up' } },
      400,
      'invalid_request',
      'parameters.truncation_direction',
    ],
    [
      'similarity: source too long',
      '/similarity',
      { inputs: { source_sentence: long, sentences: ['a'] } },
      413,
      'input_too_long',
      'inputs.source_sentence',
    ],
    [
      'similarity: sentence too long',
      '/similarity',
      { inputs: { source_sentence: 'q', sentences: ['a', long] } },
      413,
      'input_too_long',
      'inputs.sentences[1]',
    ],
  ];

  it.each(cases)('%s', async (_, path, body, status, code, param) => {
    const response = await call(path, { body });
    expect(response.status).toBe(status);
    expect(response.headers.get('content-type')).toContain('application/json');
    const error = ((await response.json()) as ErrorBody).error;
    expect(error.code).toBe(code);
    expect(error.param).toBe(param);
    expect(error.message.length).toBeGreaterThan(0);
  });

  it('counts documents against MAX_INPUTS', async () => {
    const tooMany = await call('/v1/rank', { body: { query: 'q', documents: ['a', 'b', 'c'] } }, { MAX_INPUTS: '2' });
    expect(tooMany.status).toBe(413);
    expect(((await tooMany.json()) as ErrorBody).error).toMatchObject({ code: 'too_many_inputs', param: 'documents' });
    const similarity = await call(
      '/similarity',
      { body: { inputs: { source_sentence: 'q', sentences: ['a', 'b', 'c'] } } },
      { MAX_INPUTS: '2' },
    );
    expect(similarity.status).toBe(413);
  });

  it('truncates an over-long document when asked', async () => {
    const { body } = await rank({ query: 'word', documents: ['a', long], truncate: true });
    expect(body.results).toHaveLength(2);
  });

  it('answers 405 for GET /v1/rank and GET /similarity', async () => {
    for (const path of ['/v1/rank', '/similarity']) {
      const response = await call(path);
      expect(response.status).toBe(405);
      expect(response.headers.get('allow')).toBe('POST');
    }
  });
});

describe('GET / (the page)', () => {
  it('serves the HTML page without an API key while the API itself requires one', async () => {
    const keys = { API_KEYS: 'page-key' };
    const page = await call('/', { headers: { accept: 'text/html' } }, keys);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.headers.get('content-security-policy')).toContain("connect-src 'self'");
    const html = await page.text();
    for (const id of ['api-key', 'documents', 'query', 'rank', 'results']) expect(html).toContain(`id="${id}"`);
    expect(html).toContain("'/v1/rank'");

    const refused = await call('/v1/rank', { body: { query: 'q', documents: ['a'] } }, keys);
    expect(refused.status).toBe(401);
    const allowed = await call(
      '/v1/rank',
      { body: { query: 'q', documents: ['a'] }, headers: { authorization: 'Bearer page-key' } },
      keys,
    );
    expect(allowed.status).toBe(200);
    expect((await call('/', { method: 'POST', body: {} }, keys)).status).toBe(401);
  });
});
