/**
 * The official `openai` npm client, unchanged, against the worker running in `wrangler dev` (workerd): embeddings
 * as floats, as base64 the client decodes itself, and as raw base64.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { devFetch, startWranglerDev, type WranglerDev } from './wrangler-dev.js';

describe('openai client against wrangler dev', () => {
  let dev: WranglerDev;
  let client: OpenAI;

  beforeAll(async () => {
    dev = await startWranglerDev();
    // No blind retries: the client's own (maxRetries, default 2) would also resend the worker's 500s and 503s and hide
    // them. devFetch resends only what wrangler dev's proxy itself dropped (workers-sdk#14641).
    client = new OpenAI({
      apiKey: 'unused-when-no-keys-are-configured',
      baseURL: `${dev.url}/v1`,
      timeout: 120_000,
      maxRetries: 0,
      fetch: devFetch,
    });
  });

  afterAll(async () => {
    await dev?.stop();
  });

  const input = [
    'The quick brown fox jumps over the lazy dog.',
    'Edge embeddings',
    'A third, somewhat longer sentence about caching.',
  ];

  it('embeddings.create returns the same vectors as floats and as client-decoded base64', async () => {
    const floats = await client.embeddings.create({ model: 'default', input, encoding_format: 'float' });
    expect(floats.object).toBe('list');
    expect(floats.data.map((item) => item.index)).toEqual([0, 1, 2]);
    const dimensions = floats.data[0].embedding.length;
    expect(dimensions).toBeGreaterThan(0);
    for (const item of floats.data) {
      expect(item.object).toBe('embedding');
      expect(item.embedding.every((value) => Number.isFinite(value))).toBe(true);
      expect(Math.hypot(...item.embedding)).toBeCloseTo(1, 4);
    }
    expect(floats.usage.prompt_tokens).toBeGreaterThan(input.length * 2);

    // Without encoding_format the client asks for base64 and decodes it to numbers itself.
    const decoded = await client.embeddings.create({ model: 'default', input });
    expect(decoded.data.map((item) => item.embedding)).toEqual(floats.data.map((item) => item.embedding));
    expect(decoded.model).toBe(floats.model);
  });

  it('returns raw base64 of little-endian float32 when asked explicitly', async () => {
    const [floats, raw] = await Promise.all([
      client.embeddings.create({ model: 'default', input: input[1], encoding_format: 'float' }),
      client.embeddings.create({ model: 'default', input: input[1], encoding_format: 'base64' }),
    ]);
    const encoded = raw.data[0].embedding as unknown as string;
    expect(typeof encoded).toBe('string');
    const bytes = Buffer.from(encoded, 'base64');
    const values = Array.from({ length: bytes.length / 4 }, (_, i) => bytes.readFloatLE(i * 4));
    expect(values).toEqual(floats.data[0].embedding);
  });

  it('surfaces API errors as the client error types', async () => {
    await expect(client.embeddings.create({ model: 'default', input: '' })).rejects.toMatchObject({ status: 400 });
  });
});
