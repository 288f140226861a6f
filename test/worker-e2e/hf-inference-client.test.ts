/**
 * Hugging Face's official `@huggingface/inference` client, unchanged, against the worker running in `wrangler dev`
 * (workerd) with an API key, as against a text-embeddings-inference endpoint: `.endpoint(baseUrl)` posts both
 * featureExtraction and sentenceSimilarity to the base URL (POST /). The vectors must equal /embed's and the scores
 * /similarity's, and every request the client makes must go to the worker (none to the Hugging Face Hub).
 */
import { InferenceClient, InferenceClientProviderApiError } from '@huggingface/inference';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { devFetch, startWranglerDev, type WranglerDev } from './wrangler-dev.js';

const API_KEY = 'hf-client-e2e-key';

describe('@huggingface/inference client against wrangler dev', () => {
  let dev: WranglerDev;
  let client: InferenceClient;
  const requested: string[] = [];

  beforeAll(async () => {
    dev = await startWranglerDev({ args: ['--var', `API_KEYS:${API_KEY}`] });
    // devFetch resends only what wrangler dev's proxy itself dropped (workers-sdk#14641); recording the URLs shows the
    // client talks to nothing but the worker.
    const recordingFetch: typeof fetch = (input, init) => {
      requested.push(input instanceof Request ? input.url : String(input));
      return devFetch(input, init);
    };
    client = new InferenceClient(API_KEY, { fetch: recordingFetch }).endpoint(dev.url);
  });

  afterAll(async () => {
    await dev?.stop();
  });

  /** POST to the worker itself, with the key, and the JSON answer. */
  async function post(path: string, body: unknown): Promise<unknown> {
    const response = await devFetch(`${dev.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
      body: JSON.stringify(body),
    });
    expect(response.status, await response.clone().text()).toBe(200);
    return response.json();
  }

  const inputs = ['The quick brown fox jumps over the lazy dog.', 'Edge embeddings', 'Caching makes repeats cheap.'];

  it('featureExtraction returns the vectors /embed returns, for a list and for one string', async () => {
    const expected = (await post('/embed', { inputs })) as number[][];
    expect(expected).toHaveLength(inputs.length);
    expect(expected[0].length).toBeGreaterThan(0);
    expect(await client.featureExtraction({ inputs })).toEqual(expected);

    const one = await client.featureExtraction({ inputs: inputs[1] });
    expect(one).toEqual(await post('/embed', { inputs: inputs[1] }));
    expect(one).toEqual([expected[1]]);
  });

  it('sentenceSimilarity returns the scores /similarity returns', async () => {
    const similarityInputs = {
      source_sentence: 'I love my dog',
      sentences: ['Dogs are wonderful pets', 'Stock prices fell sharply', 'My puppy is adorable'],
    };
    const expected = (await post('/similarity', { inputs: similarityInputs })) as number[];
    expect(expected).toHaveLength(3);
    expect(expected[0]).toBeGreaterThan(expected[1]);
    expect(await client.sentenceSimilarity({ inputs: similarityInputs })).toEqual(expected);
  });

  it("surfaces the worker's 4xx as the client's error, with the status and the worker's error body", async () => {
    const refused = client.featureExtraction({ inputs: '' }, { retry_on_error: false });
    await expect(refused).rejects.toBeInstanceOf(InferenceClientProviderApiError);
    await expect(refused).rejects.toMatchObject({
      httpResponse: { status: 400, body: { error: { code: 'invalid_request', param: 'inputs' } } },
    });
    const keyless = new InferenceClient('wrong-key', { fetch: devFetch }).endpoint(dev.url);
    await expect(keyless.featureExtraction({ inputs: 'hi' }, { retry_on_error: false })).rejects.toMatchObject({
      httpResponse: { status: 401 },
    });
  });

  it('sent every request to the worker base URL, none elsewhere', () => {
    expect(requested.length).toBeGreaterThanOrEqual(4);
    expect(new Set(requested)).toEqual(new Set([dev.url]));
  });
});
