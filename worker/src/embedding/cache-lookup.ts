/**
 * The cache lookup: one key per input (a sha256 only when a tier outside the isolate may see it), duplicates within a
 * request collapsed, all keys read in parallel. With the model loaded, a lookup of the shared tiers (Cache API, KV)
 * that has not answered within the hedge deadline is left to finish in the background: the request goes on with what
 * the in-isolate LRU has and computes the rest, so a slow KV read never makes a miss wait longer than the deadline.
 * The vectors are the same bundle's either way.
 */
import type { CachedEmbedding } from '../cache/codec.js';
import type { EmbeddingCache } from '../cache/embedding-cache.js';
import { type CacheInput, cacheKey, inIsolateKey, type VectorOptions } from '../cache/key.js';
import { TIMED_OUT, withTimeout } from '../cache/timeout.js';
import { estimateTokens } from '../cache-policy/policy.js';

export interface CacheLookup {
  /** Distinct keys of the request, in first-seen order. */
  keys: string[];
  /** The input each distinct key came from. */
  inputs: CacheInput[];
  /** For each request input, the index of its distinct key. */
  slotOfInput: number[];
  /** Cached entry per distinct key, undefined for a miss. */
  found: Array<CachedEmbedding | undefined>;
  /** True when the shared tiers missed the hedge deadline and `found` holds only the LRU's entries. */
  hedged: boolean;
}

/** What the cache policy weighs besides the keys. */
export interface LookupOptions {
  /** The model's maximum tokens, to cap the pre-tokenization estimate of each text's recompute cost. */
  maxTokens: number;
  /** Whether the isolate's model is loaded: a fresh one may skip loading it if every miss is found in KV. */
  modelLoaded: boolean;
  /** Hands background work (promotions into faster tiers) to the platform, e.g. ctx.waitUntil. */
  waitUntil: (promise: Promise<unknown>) => void;
  /** With the model loaded, stop waiting for the shared tiers after this many ms; undefined: always wait. */
  hedgeAfterMs?: number;
}

/**
 * @example
 *   const { found } = await lookupCached(cache, manifest.contentHash, { truncationDirection: 'right' }, inputs, {
 *     maxTokens: 128, modelLoaded: false, waitUntil: (p) => ctx.waitUntil(p) })
 */
export async function lookupCached(
  cache: EmbeddingCache,
  contentHash: string,
  options: VectorOptions,
  inputs: readonly CacheInput[],
  lookup: LookupOptions,
): Promise<CacheLookup> {
  const allKeys = cache.inIsolateOnly
    ? inputs.map((input) => inIsolateKey(contentHash, options, input))
    : await Promise.all(inputs.map((input) => cacheKey(contentHash, options, input)));
  const slots = new Map<string, number>();
  const keys: string[] = [];
  const distinctInputs: CacheInput[] = [];
  const slotOfInput = allKeys.map((key, i) => {
    let slot = slots.get(key);
    if (slot === undefined) {
      slot = keys.length;
      slots.set(key, slot);
      keys.push(key);
      distinctInputs.push(inputs[i]);
    }
    return slot;
  });
  const reading = cache.getMany(keys, {
    tokens: distinctInputs.map((input) => estimateTokens(input, lookup.maxTokens)),
    modelLoaded: lookup.modelLoaded,
    waitUntil: lookup.waitUntil,
  });
  const found =
    lookup.modelLoaded && lookup.hedgeAfterMs !== undefined
      ? await withTimeout(reading, lookup.hedgeAfterMs)
      : await reading;
  if (found !== TIMED_OUT) return { keys, inputs: distinctInputs, slotOfInput, found, hedged: false };
  // The read still finishes (and fills the LRU, counts and learns) in the background.
  lookup.waitUntil(reading);
  return { keys, inputs: distinctInputs, slotOfInput, found: cache.cachedInIsolate(keys), hedged: true };
}
