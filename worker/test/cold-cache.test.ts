/**
 * An isolate that only serves cached texts never loads the model. Each test file runs in its own module graph, so the
 * worker here starts with nothing loaded: the vector is seeded into KV and must come back without any inference.
 * Whether a fresh isolate reads KV at all is the cost policy's call: it pays when the model load it may spare costs more
 * than the read. On the plan engine's default figures (about 46 ms of CPU for USE Lite, $0.92 per million loads against
 * $0.50 per million reads) a single text at the 0.5 prior hit rate is break-even, so these requests set ONNX Runtime's
 * load figure (MODEL_LOAD_CPU_MS=460, a dear load) to test the path, not the price.
 */
import { describe, expect, it } from 'vitest';
import { encodeCachedEmbedding } from '../src/cache/codec.js';
import { cacheKey } from '../src/cache/key.js';
import { call, info, testEnv } from './helpers.js';

const DEAR_LOAD = { MODEL_LOAD_CPU_MS: '460' };

describe('a fresh isolate serving only cached texts', () => {
  it('answers from KV and leaves the model unloaded', async () => {
    const before = await info();
    expect(before.loaded).toBe(false);

    const text = 'this text was embedded by another isolate';
    const vector = new Float32Array(before.dimensions);
    vector[0] = 0.6;
    vector[1] = 0.8;
    const key = await cacheKey(before.bundle_hash, { truncationDirection: 'right' }, { text });
    await testEnv.EMBED_CACHE!.put(key, encodeCachedEmbedding({ tokenCount: 9, vector }));

    const response = await call('/v1/embeddings', { body: { input: [text, text] } }, DEAR_LOAD);
    expect(response.status).toBe(200);
    expect(response.headers.get('x-cache-hits')).toBe('1');
    expect(response.headers.get('x-cache-misses')).toBe('0');
    const body = (await response.json()) as { data: Array<{ embedding: number[] }>; usage: { prompt_tokens: number } };
    expect(body.data).toHaveLength(2);
    expect(body.data[0].embedding.slice(0, 3)).toEqual([Math.fround(0.6), Math.fround(0.8), 0]);
    expect(body.usage.prompt_tokens).toBe(18);

    const tei = (await (await call('/embed', { body: { inputs: text } }, DEAR_LOAD)).json()) as number[][];
    expect(tei[0].slice(0, 2)).toEqual([Math.fround(0.6), Math.fround(0.8)]);

    const after = await info();
    expect(after.loaded).toBe(false);
    expect(after.counters.inferences).toBe(0);
    expect(after.counters.modelLoads).toBe(0);
    expect(after.wasm_heap_bytes).toBe(0);
  });
});
