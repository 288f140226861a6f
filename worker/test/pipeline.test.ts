/** The plain-TypeScript parts of the worker: batcher, cache, codec, keys, shaping, tokenizer truncation, auth, config. */
import { describe, expect, it, vi } from 'vitest';
import { planMicroBatches } from '../../bundle-runtime/batch.js';
import { BundleTokenizer } from '../../bundle-runtime/tokenizer.js';
import manifestJson from '../../bundles/default/manifest.json';
import tokenizerJson from '../../bundles/default/tokenizer.json';
import { decodeCachedEmbedding, encodeCachedEmbedding } from '../src/cache/codec.js';
import { EmbeddingCache, emptyCacheCounters } from '../src/cache/embedding-cache.js';
import { cacheKey } from '../src/cache/key.js';
import { KvEmbeddingStore } from '../src/cache/kv.js';
import { ByteLruCache } from '../src/cache/lru.js';
import { CachePolicy } from '../src/cache-policy/policy.js';
import { LIST_PRICES } from '../src/cache-policy/prices.js';
import { readConfig } from '../src/config.js';
import { Lazy } from '../src/embedding/lazy.js';
import type { KvNamespaceLike } from '../src/env.js';
import { isAuthorized } from '../src/http/middleware/auth.js';
import { float32ToBase64 } from '../src/http/wire/openai.js';
import { shapeVector } from '../src/http/wire/vector.js';

const HASH_A = 'a'.repeat(64);
const HASH_B = 'b'.repeat(64);

describe('planMicroBatches', () => {
  it('groups length-sorted sequences within the size and padded-token limits, each index once', () => {
    const lengths = [50, 3, 48, 4, 5, 200, 6, 49];
    const batches = planMicroBatches(lengths, { maxBatchSize: 3, maxBatchTokens: 160 });
    expect(batches.flat().sort((a, b) => a - b)).toEqual(lengths.map((_, i) => i));
    for (const batch of batches) {
      const batchLengths = batch.map((i) => lengths[i]);
      expect(batch.length).toBeLessThanOrEqual(3);
      expect(batchLengths).toEqual([...batchLengths].sort((a, b) => a - b));
      if (batch.length > 1) expect(batch.length * Math.max(...batchLengths)).toBeLessThanOrEqual(160);
    }
    expect(batches[0].map((i) => lengths[i])).toEqual([3, 4, 5]);
    // A sequence longer than the token budget still gets a batch of its own.
    expect(batches.at(-1)).toEqual([5]);
  });
});

describe('cache values and keys', () => {
  it('round-trips a vector and its token count through compact binary', () => {
    const vector = Float32Array.from({ length: 384 }, (_, i) => Math.sin(i));
    const bytes = encodeCachedEmbedding({ tokenCount: 77, vector });
    expect(bytes.byteLength).toBe(4 + 384 * 4);
    expect(decodeCachedEmbedding(bytes, 384)).toEqual({ tokenCount: 77, vector });
    expect(decodeCachedEmbedding(bytes, 256)).toBeUndefined();
  });

  it('keys differ by bundle, truncation direction, text and token ids, and stay under 512 bytes', async () => {
    const right = { truncationDirection: 'right' } as const;
    const keys = await Promise.all([
      cacheKey(HASH_A, right, { text: 'hello' }),
      cacheKey(HASH_B, right, { text: 'hello' }),
      cacheKey(HASH_A, { truncationDirection: 'left' }, { text: 'hello' }),
      cacheKey(HASH_A, right, { text: 'hello ' }),
      cacheKey(HASH_A, right, { tokenIds: [1, 2] }),
      cacheKey(HASH_A, right, { text: 'x'.repeat(100_000) }),
    ]);
    expect(new Set(keys).size).toBe(keys.length);
    for (const key of keys) expect(new TextEncoder().encode(key).length).toBeLessThanOrEqual(512);
    expect(await cacheKey(HASH_A, right, { text: 'hello' })).toBe(keys[0]);
  });
});

describe('ByteLruCache', () => {
  it('evicts the least recently used entries once past its byte budget', () => {
    const entry = () => ({ tokenCount: 1, vector: new Float32Array(100) });
    const lru = new ByteLruCache(1500);
    lru.set('a', entry());
    lru.set('b', entry());
    lru.set('c', entry());
    expect(lru.get('a')).toBeDefined();
    lru.set('d', entry());
    expect(lru.bytes).toBeLessThanOrEqual(1500);
    expect(lru.get('b')).toBeUndefined();
    expect(lru.get('a')).toBeDefined();
    expect(lru.get('d')).toBeDefined();
  });
});

describe('EmbeddingCache', () => {
  function memoryKv(): KvNamespaceLike & { store: Map<string, ArrayBuffer>; gets: number } {
    const store = new Map<string, ArrayBuffer>();
    return {
      store,
      gets: 0,
      async get(key) {
        this.gets++;
        return store.get(key) ?? null;
      },
      async put(key, value) {
        store.set(key, value);
      },
    };
  }

  it('reads KV only for LRU misses, promotes KV hits and writes new entries through waitUntil', async () => {
    const kv = memoryKv();
    const counters = { ...emptyCacheCounters(), kvErrors: 0, kvTimeouts: 0 };
    const store = new KvEmbeddingStore(kv, { timeoutMs: 1000, ttlSeconds: 60, dimensions: 2 }, counters);
    const lru = new ByteLruCache(1 << 20);
    // CACHE_POLICY=always: every LRU miss read from KV, every new entry written (worker/test/cache-policy/ has the rest).
    const cost = { prices: LIST_PRICES, cpuMsPerToken: 1, modelLoadCpuMs: 0 };
    const policy = new CachePolicy({
      mode: 'always',
      cost,
      admitAfter: 1,
      maxTokens: 128,
      kvWritesPerDay: 0,
      cacheApiReadMinMs: 10,
    });
    const cache = new EmbeddingCache({ lru, cacheApi: undefined, kv: store, policy, counters });
    const lookup = { tokens: [3, 3], modelLoaded: true, waitUntil: () => {} };
    kv.store.set('in-kv', encodeCachedEmbedding({ tokenCount: 3, vector: Float32Array.of(1, 0) }));

    const found = await cache.getMany(['in-kv', 'nowhere'], lookup);
    expect(found[0]?.vector).toEqual(Float32Array.of(1, 0));
    expect(found[1]).toBeUndefined();
    expect(counters).toMatchObject({ kvHits: 1, misses: 1 });

    const pending: Promise<unknown>[] = [];
    cache.putMany([['nowhere', { tokenCount: 2, vector: Float32Array.of(0, 1) }]], (p) => pending.push(p));
    await Promise.all(pending);
    expect(kv.store.has('nowhere')).toBe(true);

    const getsBefore = kv.gets;
    const again = await cache.getMany(['in-kv', 'nowhere'], lookup);
    expect(again.every((entry) => entry !== undefined)).toBe(true);
    expect(kv.gets).toBe(getsBefore);
    expect(counters.lruHits).toBe(2);
  });
});

describe('shapeVector and base64', () => {
  it('cuts to the requested dimensions and renormalises', () => {
    expect(Array.from(shapeVector(Float32Array.of(3, 4, 12), { dimensions: 2, normalize: true }))).toEqual([
      Math.fround(0.6),
      Math.fround(0.8),
    ]);
    expect(Array.from(shapeVector(Float32Array.of(3, 4, 12), { normalize: false }))).toEqual([3, 4, 12]);
  });

  it('encodes little-endian float32 bytes', () => {
    expect(float32ToBase64(Float32Array.of(1, -2))).toBe(btoa(String.fromCharCode(0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0)));
  });

  it('encodes only the bytes of a vector that is a view into a larger buffer', () => {
    const batch = Float32Array.of(7, 1, -2, 9);
    expect(float32ToBase64(batch.subarray(1, 3))).toBe(float32ToBase64(Float32Array.of(1, -2)));
    expect(float32ToBase64(new Float32Array(0))).toBe('');
  });
});

describe('BundleTokenizer', () => {
  // A BERT-style WordPiece tokenizer.json small enough to read: [CLS] ... [SEP] around the content.
  const vocab: Record<string, number> = { '[PAD]': 0, '[UNK]': 1, '[CLS]': 2, '[SEP]': 3 };
  for (let i = 0; i < 50; i++) vocab[`w${i}`] = 4 + i;
  const special = (content: string, id: number) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  const bertJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special('[PAD]', 0), special('[UNK]', 1), special('[CLS]', 2), special('[SEP]', 3)],
    normalizer: {
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: true,
      strip_accents: null,
      lowercase: true,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: { type: 'BertProcessing', sep: ['[SEP]', 3], cls: ['[CLS]', 2] },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: '[UNK]',
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab,
    },
  };
  const bert = new BundleTokenizer(bertJson, { do_lower_case: true });

  it('truncates content from the chosen end and keeps the special tokens', () => {
    expect(bert.encode('W1 w2 w3 w4 w5', 100, 'right')).toEqual({ ids: [2, 5, 6, 7, 8, 9, 3], fullLength: 7 });
    expect(bert.encode('w1 w2 w3 w4 w5', 5, 'right')).toEqual({ ids: [2, 5, 6, 7, 3], fullLength: 7 });
    expect(bert.encode('w1 w2 w3 w4 w5', 5, 'left')).toEqual({ ids: [2, 7, 8, 9, 3], fullLength: 7 });
    expect(bert.frame([9, 8, 7], 4, 'left')).toEqual({ ids: [2, 8, 7, 3], fullLength: 5 });
  });

  it('marks special tokens for /tokenize', () => {
    expect(bert.details('w1 zz', true)).toEqual([
      { id: 2, text: '[CLS]', special: true },
      { id: 5, text: 'w1', special: false },
      { id: 1, text: '[UNK]', special: true },
      { id: 3, text: '[SEP]', special: true },
    ]);
  });

  it('encodes with the default bundle tokenizer within max tokens, whatever its special tokens', () => {
    const tokenizer = new BundleTokenizer(tokenizerJson, manifestJson.tokenizerConfig);
    const text = Array.from({ length: 300 }, (_, i) => `word${i}`).join(' ');
    const full = tokenizer.encode(text, 100_000, 'right');
    const cut = tokenizer.encode(text, 16, 'right');
    expect(cut.ids).toHaveLength(16);
    expect(cut.fullLength).toBe(full.ids.length);
    expect(tokenizer.encode('hello world', 16, 'left').ids).toEqual(
      tokenizer.details('hello world', true).map((token) => token.id),
    );
  });
});

describe('Lazy', () => {
  it('shares one creation between concurrent callers and retries after a failure', async () => {
    const create = vi.fn().mockRejectedValueOnce(new Error('down')).mockResolvedValue('model');
    const lazy = new Lazy<string>(create);
    await expect(Promise.all([lazy.get(), lazy.get()])).rejects.toThrow('down');
    expect(create).toHaveBeenCalledTimes(1);
    expect(lazy.ready).toBe(false);
    expect(await Promise.all([lazy.get(), lazy.get()])).toEqual(['model', 'model']);
    expect(create).toHaveBeenCalledTimes(2);
    expect(lazy.ready).toBe(true);
  });
});

describe('isAuthorized', () => {
  it('accepts exactly the configured Bearer keys', async () => {
    const keys = ['sk-one', 'sk-two'];
    expect(await isAuthorized('Bearer sk-two', keys)).toBe(true);
    expect(await isAuthorized('bearer sk-one', keys)).toBe(true);
    expect(await isAuthorized('Bearer sk-on', keys)).toBe(false);
    expect(await isAuthorized('sk-one', keys)).toBe(false);
    expect(await isAuthorized(undefined, keys)).toBe(false);
    expect(await isAuthorized('Bearer ', keys)).toBe(false);
  });
});

describe('readConfig', () => {
  it('uses defaults, reads overrides and names a bad variable', () => {
    expect(readConfig({}).maxInputs).toBe(256);
    expect(readConfig({ MAX_INPUTS: '8', API_KEYS: ' a, ,b ' })).toMatchObject({ maxInputs: 8, apiKeys: ['a', 'b'] });
    expect(() => readConfig({ MAX_INPUTS: 'many' })).toThrow(/MAX_INPUTS/);
  });
});
