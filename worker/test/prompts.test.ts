/**
 * Prompts, inside workerd, on the default bundle given e5-style prompts (its manifest with `prompts` and the content
 * hash recomputed): a named prompt embeds exactly the text with the prefix written by hand, is counted in usage, keeps
 * its own cache entries, and is refused by name when unknown; input_type, /v1/rank and DEFAULT_PROMPT_NAME pick one.
 */
import { describe, expect, it } from 'vitest';
import { type BundleManifest, computeContentHash } from '../../bundle-format/manifest.js';
import { defaultBundle } from '../src/bundle/default-bundle.js';
import type { BundleSource } from '../src/bundle/source.js';
import type { Env } from '../src/env.js';
import { createApp } from '../src/http/app.js';
import { workerdOrt } from '../src/runtime/ort-workerd.js';
import { call, cosine } from './helpers.js';

const PROMPTS = { query: 'query: ', passage: 'passage: ' };

async function promptBundle(defaultPromptName: string | null = null): Promise<BundleSource> {
  const manifest = structuredClone((await defaultBundle.manifest()) as BundleManifest);
  manifest.prompts = PROMPTS;
  manifest.defaultPromptName = defaultPromptName;
  const { contentHash: _, ...withoutHash } = manifest;
  manifest.contentHash = await computeContentHash(withoutHash);
  return { ...defaultBundle, manifest: async () => manifest };
}

/** An app around the prompt bundle; each has its own in-isolate cache. */
async function promptApp(defaultPromptName: string | null = null) {
  return createApp({ bundle: await promptBundle(defaultPromptName), ort: workerdOrt });
}

type App = Awaited<ReturnType<typeof promptApp>>;

interface Answer {
  status: number;
  body: unknown;
  misses: string | null;
  hits: string | null;
}

async function post(app: App | undefined, path: string, body: unknown, env: Partial<Env> = {}): Promise<Answer> {
  const response = await call(path, { body }, env, app);
  return {
    status: response.status,
    body: await response.json(),
    misses: response.headers.get('x-cache-misses'),
    hits: response.headers.get('x-cache-hits'),
  };
}

async function teiVector(app: App | undefined, text: string, extra: object = {}, env: Partial<Env> = {}) {
  const answer = await post(app, '/embed', { inputs: [text], ...extra }, env);
  if (answer.status !== 200) throw new Error(`status ${answer.status}: ${JSON.stringify(answer.body)}`);
  return (answer.body as number[][])[0];
}

async function openAi(app: App, body: object) {
  const answer = await post(app, '/v1/embeddings', body);
  if (answer.status !== 200) throw new Error(`status ${answer.status}: ${JSON.stringify(answer.body)}`);
  const parsed = answer.body as { data: Array<{ embedding: number[] }>; usage: { prompt_tokens: number } };
  return { ...answer, vector: parsed.data[0].embedding, tokens: parsed.usage.prompt_tokens };
}

function errorOf(answer: Answer) {
  return {
    status: answer.status,
    ...(answer.body as { error: { code: string; param: string; message: string } }).error,
  };
}

// No cache shared between two apps (CACHE_POLICY=off keeps vectors in each app's own LRU): both compute.
const computeOnly = { CACHE_POLICY: 'off' };

describe('prompts', () => {
  it('embed a prompt_name request as the text with the prompt written in front, and count its tokens', async () => {
    const text = 'prompted sentence about harbours';
    const named = await teiVector(await promptApp(), text, { prompt_name: 'query' }, computeOnly);
    const byHand = await teiVector(await promptApp(), `query: ${text}`, {}, computeOnly);
    const plain = await teiVector(await promptApp(), text, {}, computeOnly);
    expect(cosine(named, byHand)).toBeGreaterThan(0.99999);
    expect(cosine(named, plain)).toBeLessThan(0.999);

    const app = await promptApp();
    const withPrompt = await openAi(app, { input: `usage ${text}`, prompt_name: 'passage' });
    const withoutPrompt = await openAi(app, { input: `usage ${text}` });
    const handWritten = await openAi(app, { input: `passage: usage ${text}` });
    expect(withPrompt.tokens).toBeGreaterThan(withoutPrompt.tokens);
    expect(withPrompt.tokens).toBe(handWritten.tokens);
  });

  it('keep separate cache entries per prompt, shared with the same text written by hand', async () => {
    const app = await promptApp();
    const text = 'one text, three prompts';
    const misses = [];
    for (const prompt_name of ['query', 'passage', null]) {
      misses.push((await post(app, '/embed', { inputs: text, prompt_name })).misses);
    }
    expect(misses).toEqual(['1', '1', '1']);
    const again = await post(app, '/embed', { inputs: text, prompt_name: 'query' });
    expect([again.hits, again.misses]).toEqual(['1', '0']);
    const byHand = await post(app, '/v1/embeddings', { input: `passage: ${text}` });
    expect([byHand.hits, byHand.misses]).toEqual(['1', '0']);
  });

  it('refuse an unknown prompt name with 400 listing the known ones, on every route', async () => {
    const app = await promptApp();
    const cases: Array<[string, object, string]> = [
      ['/embed', { inputs: 'x', prompt_name: 'qery' }, 'prompt_name'],
      ['/tokenize', { inputs: 'x', prompt_name: 'qery' }, 'prompt_name'],
      ['/v1/embeddings', { input: 'x', prompt_name: 'qery' }, 'prompt_name'],
      [
        '/similarity',
        { inputs: { source_sentence: 'x', sentences: ['y'] }, parameters: { prompt_name: 'qery' } },
        'parameters.prompt_name',
      ],
    ];
    for (const [path, body, param] of cases) {
      const error = errorOf(await post(app, path, body));
      expect(error, path).toMatchObject({ status: 400, code: 'invalid_request', param });
      expect(error.message, path).toContain('unknown prompt "qery"');
      expect(error.message, path).toContain('query, passage');
    }
    const wrongType = errorOf(await post(app, '/embed', { inputs: 'x', prompt_name: 3 }));
    expect(wrongType).toMatchObject({ status: 400, param: 'prompt_name' });
  });

  it('refuse a prompt on a bundle without prompts, saying so', async () => {
    const error = errorOf(await post(undefined, '/embed', { inputs: 'x', prompt_name: 'query' }));
    expect(error).toMatchObject({ status: 400, code: 'invalid_request', param: 'prompt_name' });
    expect(error.message).toContain('has no prompts');
    expect((await post(undefined, '/embed', { inputs: 'x', prompt_name: null })).status).toBe(200);
  });

  it('map input_type to the query and passage prompts', async () => {
    const app = await promptApp();
    const text = 'input types choose prompts';
    const query = await openAi(app, { input: text, prompt_name: 'query' });
    const passage = await openAi(app, { input: text, prompt_name: 'passage' });
    for (const input_type of ['query', 'search_query']) {
      const answer = await openAi(app, { input: text, input_type });
      expect([input_type, answer.hits, answer.vector]).toEqual([input_type, '1', query.vector]);
    }
    for (const input_type of ['document', 'passage', 'search_document']) {
      const answer = await openAi(app, { input: text, input_type });
      expect([input_type, answer.hits, answer.vector]).toEqual([input_type, '1', passage.vector]);
    }
    // A bundle without prompts embeds both sides alike: input_type is accepted and changes nothing.
    const plain = await post(undefined, '/v1/embeddings', { input: text, input_type: 'search_query' });
    expect(plain.status).toBe(200);

    const refusals: Array<[object, string]> = [
      [{ input: text, input_type: 'classification' }, 'input_type'],
      [{ input: text, input_type: 'query', prompt_name: 'query' }, 'input_type'],
      [{ input: [[5, 6]], input_type: 'query' }, 'input_type'],
    ];
    for (const [body, param] of refusals) {
      const env = { TOKEN_ID_INPUTS: 'accept' };
      expect(errorOf(await post(app, '/v1/embeddings', body, env))).toMatchObject({ status: 400, param });
    }
  });

  it('tokenize with the prompt in front, as /embed embeds', async () => {
    const app = await promptApp();
    const ids = async (body: object) =>
      ((await post(app, '/tokenize', body)).body as Array<Array<{ id: number }>>)[0].map((token) => token.id);
    const named = await ids({ inputs: 'tokens too', prompt_name: 'query' });
    expect(named).toEqual(await ids({ inputs: 'query: tokens too' }));
    expect(named.length).toBeGreaterThan((await ids({ inputs: 'tokens too' })).length);
  });

  it('rank with the query prompt on the query and the passage prompt on documents', async () => {
    const app = await promptApp();
    const query = 'which pets purr';
    const documents = ['cats purr when content', 'markets closed lower'];
    await post(app, '/v1/embeddings', { input: `query: ${query}` });
    await post(app, '/v1/embeddings', { input: documents.map((text) => `passage: ${text}`) });
    const ranked = await post(app, '/v1/rank', { query, documents });
    expect(ranked.status).toBe(200);
    expect([ranked.hits, ranked.misses]).toEqual(['3', '0']);
  });

  it("use the tenant's DEFAULT_PROMPT_NAME, then the bundle's default, when a request names none", async () => {
    const text = 'defaults apply';
    const tenant = { DEFAULT_PROMPT_NAME: 'passage' };
    const app = await promptApp();
    expect(await teiVector(app, text, {}, tenant)).toEqual(await teiVector(app, `passage: ${text}`));
    expect(await teiVector(app, text, { prompt_name: 'query' }, tenant)).toEqual(
      await teiVector(app, `query: ${text}`),
    );
    const bundleDefault = await promptApp('query');
    // Compared with the hand-written prefix on a bundle without a default (with one, it would get the prompt twice).
    const byHand = await teiVector(app, `query: ${text}`);
    expect(cosine(await teiVector(bundleDefault, text), byHand)).toBeGreaterThan(0.99999);
    expect(cosine(await teiVector(app, text), byHand)).toBeLessThan(0.999);

    const info = (await (await call('/info', {}, tenant, app)).json()) as Record<string, unknown>;
    expect(info).toMatchObject({ prompts: PROMPTS, default_prompt_name: 'passage' });

    const misconfigured = errorOf(await post(undefined, '/embed', { inputs: text }, { DEFAULT_PROMPT_NAME: 'query' }));
    expect(misconfigured).toMatchObject({ status: 500, code: 'config_invalid' });
    expect(misconfigured.message).toContain('DEFAULT_PROMPT_NAME');
  });
});
