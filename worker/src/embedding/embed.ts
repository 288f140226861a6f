/**
 * The embedding pipeline: cache lookup -> tokenize the misses -> micro-batched inference -> store the new vectors.
 * Plain TypeScript: the tokenizer, model, cache and clock are passed in, so it never knows it runs in a Worker.
 * A request whose inputs are all cached never asks for the tokenizer or the model.
 */
import type { BundleManifest } from '../../../bundle-format/manifest.js';
import type { CachedEmbedding } from '../cache/codec.js';
import type { EmbeddingCache } from '../cache/embedding-cache.js';
import { ApiError } from '../errors.js';
import type { BatchLimits } from '../../../bundle-runtime/batch.js';
import { lookupCached } from './cache.js';
import type { Embedder } from '../../../bundle-runtime/embedder.js';
import type { BundleTokenizer, TokenizedInput } from '../../../bundle-runtime/tokenizer.js';
import type { EmbedRequest } from './validate.js';

export interface EmbedDeps {
  manifest: BundleManifest;
  tokenizer: () => Promise<BundleTokenizer>;
  model: () => Promise<Embedder>;
  cache: EmbeddingCache;
  batchLimits: BatchLimits;
  /** Hands background work (KV writes) to the platform, e.g. ctx.waitUntil. */
  waitUntil: (promise: Promise<unknown>) => void;
  /** Milliseconds; in workerd it only advances across I/O. */
  now: () => number;
}

export interface EmbedTimings {
  cache: number;
  tokenize: number;
  inference: number;
}

export interface EmbedResult {
  /** One entry per request input, in order. */
  embeddings: CachedEmbedding[];
  /** Tokens the model saw per input (after truncation). */
  tokens: number[];
  /** Distinct inputs served from cache / computed. */
  hits: number;
  misses: number;
  timings: EmbedTimings;
}

/**
 * Embeds the inputs of a request, reading and filling the cache.
 * @example const { embeddings } = await embedInputs(request, deps) // embeddings[i].vector for input i
 */
export async function embedInputs(request: EmbedRequest, deps: EmbedDeps): Promise<EmbedResult> {
  const { manifest } = deps;
  const timings: EmbedTimings = { cache: 0, tokenize: 0, inference: 0 };
  let started = deps.now();
  const lookup = await lookupCached(deps.cache, manifest.contentHash, request, request.inputs);
  timings.cache = deps.now() - started;

  const tooLong = (slot: number, tokens: number) => {
    const where = inputName(request, lookup.slotOfInput.indexOf(slot));
    return new ApiError(
      request.tooLongKind,
      `${where} has ${tokens} tokens, more than the model's maximum of ${manifest.maxTokens}; shorten it or ask for truncation`,
      { param: where },
    );
  };

  const found = lookup.found;
  found.forEach((entry, slot) => {
    if (entry !== undefined && !request.truncate && entry.tokenCount > manifest.maxTokens) throw tooLong(slot, entry.tokenCount);
  });
  const missing = found.flatMap((entry, slot) => (entry === undefined ? [slot] : []));

  if (missing.length > 0) {
    started = deps.now();
    const tokenizer = await deps.tokenizer();
    const tokenized = missing.map((slot): TokenizedInput => {
      const input = lookup.inputs[slot];
      if ('text' in input) return tokenizer.encode(input.text, manifest.maxTokens, request.truncationDirection);
      const outOfRange = input.tokenIds.find((id) => id >= tokenizer.vocabularySize);
      if (outOfRange !== undefined) {
        const where = inputName(request, lookup.slotOfInput.indexOf(slot));
        throw new ApiError('invalid_request', `${where}: token id ${outOfRange} is outside the vocabulary (${tokenizer.vocabularySize})`, {
          param: where,
        });
      }
      return tokenizer.frame(input.tokenIds, manifest.maxTokens, request.truncationDirection);
    });
    tokenized.forEach((encoded, i) => {
      if (!request.truncate && encoded.fullLength > manifest.maxTokens) throw tooLong(missing[i], encoded.fullLength);
    });
    timings.tokenize = deps.now() - started;

    started = deps.now();
    const model = await deps.model();
    const vectors = await model.embedAll(
      tokenized.map((encoded) => encoded.ids),
      { limits: deps.batchLimits },
    );
    timings.inference = deps.now() - started;

    const computed = missing.map((slot, i) => {
      const entry: CachedEmbedding = { tokenCount: tokenized[i].fullLength, vector: vectors[i] };
      found[slot] = entry;
      return [lookup.keys[slot], entry] as const;
    });
    deps.cache.putMany(computed, deps.waitUntil);
  }

  const embeddings = lookup.slotOfInput.map((slot) => found[slot] as CachedEmbedding);
  return {
    embeddings,
    tokens: embeddings.map((entry) => Math.min(entry.tokenCount, manifest.maxTokens)),
    hits: found.length - missing.length,
    misses: missing.length,
    timings,
  };
}

function inputName(request: EmbedRequest, index: number): string {
  return request.inputs.length === 1 ? request.param : `${request.param}[${index}]`;
}
