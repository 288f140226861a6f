/**
 * The default bundle (Universal Sentence Encoder Lite, int8, pruned) served by the worker in workerd (`wrangler dev`)
 * against the reference implementation (@energetic-ai/embeddings, tfjs in Node) on the same sentences.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cosine } from '../../bundle-runtime/similarity.js';
import { referenceUseEmbedder } from '../../model-packager/src/eval/embedders.js';
import { devFetch, startWranglerDev, type WranglerDev } from './wrangler-dev.js';

const SENTENCES = [
  'A man is playing a guitar.',
  'The stock market fell sharply on Monday.',
  'How do I bake sourdough bread at home?',
  'Two children are riding bicycles down the street.',
  'The new phone has a better camera and longer battery life.',
  'A woman is reading a book in the park.',
  'The meeting has been moved to Thursday afternoon.',
  'Scientists discovered a new species of frog in the rainforest.',
  'Please turn off the lights when you leave the room.',
  'The recipe calls for two eggs and a cup of sugar.',
  'Our flight was cancelled because of the storm.',
  'Dogs are loyal animals.',
  'The government announced new rules for electric cars.',
  'She is learning to play the piano.',
  'What time does the library open on Sundays?',
  'The team celebrated their victory with a parade.',
];

describe('default bundle in workerd vs the tfjs reference', () => {
  let dev: WranglerDev;
  beforeAll(async () => {
    dev = await startWranglerDev();
  });
  afterAll(async () => {
    await dev?.stop();
  });

  it('answers /v1/embeddings with vectors whose cosine to the reference is >= 0.99', async () => {
    const response = await devFetch(`${dev.url}/v1/embeddings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input: SENTENCES, model: 'universal-sentence-encoder-lite' }),
    });
    expect(response.status, dev.output()).toBe(200);
    const body = (await response.json()) as { model: string; data: { index: number; embedding: number[] }[] };
    expect(body.data).toHaveLength(SENTENCES.length);
    const reference = await referenceUseEmbedder();
    const expected = await reference.embed(SENTENCES);
    const cosines = body.data.map((item) => cosine(Float32Array.from(item.embedding), expected[item.index]));
    for (const c of cosines) expect(c).toBeGreaterThanOrEqual(0.99);
    // The vectors carry meaning: related sentences are closer than unrelated ones, in the worker's output.
    const vec = (i: number) => Float32Array.from(body.data[i].embedding);
    expect(cosine(vec(0), vec(13))).toBeGreaterThan(cosine(vec(0), vec(1))); // guitar ~ piano, not stock market
  });
});
