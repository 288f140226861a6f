/**
 * Cache-first embedding: cache lookup -> tokenize the misses -> micro-batched inference -> store the new vectors.
 * Plain TypeScript: the tokenizer, model, cache and clock are passed in, so it never knows it runs in a Worker.
 * A request whose inputs are all cached never asks for the tokenizer or the model.
 */
import type { BundleManifest } from '../../../bundle-format/manifest.js';
import type { BatchLimits } from '../../../bundle-runtime/batch.js';
import type { Embedder } from '../../../bundle-runtime/embedder.js';
import {
  type BundleTokenizer,
  QueryTooLongError,
  type TokenizedInput,
  type TokenizedPair,
  type TruncationDirection,
} from '../../../bundle-runtime/tokenizer.js';
import type { CachedEmbedding } from '../cache/codec.js';
import type { EmbeddingCache } from '../cache/embedding-cache.js';
import type { CacheInput } from '../cache/key.js';
import { ApiError, type ApiErrorKind } from '../errors.js';
import { type CacheLookup, lookupCached } from './cache-lookup.js';

/** What embedding needs to know about a request, whichever API it came through. */
export interface EmbedRequest {
  inputs: CacheInput[];
  /** The request field holding the inputs ("input" for OpenAI, "inputs" for TEI), for error messages. */
  param: string;
  /** Cut over-long inputs to the model's max tokens instead of refusing them. */
  truncate: boolean;
  truncationDirection: TruncationDirection;
  /** The error an over-long input gets when `truncate` is false (OpenAI: 400, TEI: 413). */
  tooLongKind: Extract<ApiErrorKind, 'context_length_exceeded' | 'input_too_long'>;
  /** Refuse (413) a request whose uncached inputs come to more tokens than this, before running the model. */
  maxInferenceTokens?: number;
}

export interface EmbedDeps {
  manifest: BundleManifest;
  tokenizer: () => Promise<BundleTokenizer>;
  model: () => Promise<Embedder>;
  cache: EmbeddingCache;
  batchLimits: BatchLimits;
  /** Whether the model was loaded when the request came (the cache policy weighs a fresh isolate's model load). */
  modelLoaded: boolean;
  /** With the model loaded, compute the misses when the shared cache tiers have not answered within this many ms. */
  hedgeAfterMs?: number;
  /** Hands background work (cache writes) to the platform, e.g. ctx.waitUntil. */
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
  /** Tokens the model ran on: the computed inputs' tokens after truncation. */
  inferenceTokens: number;
  /** The shared cache tiers missed the hedge deadline; the misses were computed instead. */
  hedged: boolean;
  timings: EmbedTimings;
}

/**
 * Embeds the inputs of a request, reading and filling the cache.
 * @example const { embeddings } = await embedInputs(request, deps) // embeddings[i].vector for input i
 */
export async function embedInputs(request: EmbedRequest, deps: EmbedDeps): Promise<EmbedResult> {
  const { manifest } = deps;
  const timings: EmbedTimings = { cache: 0, tokenize: 0, inference: 0 };
  const started = deps.now();
  const lookup = await lookupCached(deps.cache, manifest.contentHash, request, request.inputs, {
    maxTokens: manifest.maxTokens,
    modelLoaded: deps.modelLoaded,
    waitUntil: deps.waitUntil,
    hedgeAfterMs: deps.hedgeAfterMs,
  });
  timings.cache = deps.now() - started;

  const found = lookup.found;
  found.forEach((entry, slot) => {
    if (entry !== undefined && !request.truncate && entry.tokenCount > manifest.maxTokens) {
      throw tooLong(request, lookup, manifest, slot, entry.tokenCount);
    }
  });
  const missing = found.flatMap((entry, slot) => (entry === undefined ? [slot] : []));
  let inferenceTokens = 0;
  if (missing.length > 0) {
    const computed = await embedMissing(request, lookup, missing, deps, timings);
    inferenceTokens = computed.reduce((sum, entry) => sum + Math.min(entry.tokenCount, manifest.maxTokens), 0);
    missing.forEach((slot, i) => {
      found[slot] = computed[i];
    });
    deps.cache.putMany(
      missing.map((slot, i) => [lookup.keys[slot], computed[i]] as const),
      deps.waitUntil,
    );
  }

  const embeddings = lookup.slotOfInput.map((slot) => found[slot] as CachedEmbedding);
  return {
    embeddings,
    tokens: embeddings.map((entry) => Math.min(entry.tokenCount, manifest.maxTokens)),
    hits: found.length - missing.length,
    misses: missing.length,
    inferenceTokens,
    hedged: lookup.hedged,
    timings,
  };
}

/** Tokenizes the distinct inputs at `missing` (refusing over-long ones unless truncating) and runs the model on them. */
async function embedMissing(
  request: EmbedRequest,
  lookup: CacheLookup,
  missing: readonly number[],
  deps: EmbedDeps,
  timings: EmbedTimings,
): Promise<CachedEmbedding[]> {
  const { manifest } = deps;
  let started = deps.now();
  const tokenizer = await deps.tokenizer();
  const tokenized = missing.map((slot) => tokenize(tokenizer, request, lookup, slot, manifest.maxTokens));
  tokenized.forEach((encoded, i) => {
    if (!request.truncate && encoded.fullLength > manifest.maxTokens) {
      throw tooLong(request, lookup, manifest, missing[i], encoded.fullLength);
    }
  });
  checkInferenceTokens(request, tokenized);
  timings.tokenize = deps.now() - started;

  started = deps.now();
  const model = await deps.model();
  const vectors = await model.embedAll(
    tokenized.map((encoded) => encoded.ids),
    { limits: deps.batchLimits, tokenTypes: pairTokenTypes(tokenized) },
  );
  timings.inference = deps.now() - started;
  return tokenized.map((encoded, i) => ({ tokenCount: encoded.fullLength, vector: vectors[i] }));
}

/** A cross-encoder's pairs carry token types (query 0, document 1); other inputs have none. */
function pairTokenTypes(tokenized: readonly (TokenizedInput | TokenizedPair)[]): number[][] | undefined {
  if (!tokenized.some((encoded) => 'typeIds' in encoded)) return undefined;
  return tokenized.map((encoded) => ('typeIds' in encoded ? encoded.typeIds : encoded.ids.map(() => 0)));
}

function checkInferenceTokens(request: EmbedRequest, tokenized: readonly TokenizedInput[]): void {
  if (request.maxInferenceTokens === undefined) return;
  const total = tokenized.reduce((sum, encoded) => sum + encoded.ids.length, 0);
  if (total > request.maxInferenceTokens) {
    throw new ApiError(
      'too_many_inputs',
      `${request.param}: the uncached inputs come to ${total} tokens, more than the limit of ${request.maxInferenceTokens} per request`,
      { param: request.param },
    );
  }
}

/**
 * A text is encoded; a pair is framed with its query (never cut: a query too long for any document is refused); token
 * ids (OpenAI) are only framed with the special tokens, after a vocabulary check.
 */
function tokenize(
  tokenizer: BundleTokenizer,
  request: EmbedRequest,
  lookup: CacheLookup,
  slot: number,
  maxTokens: number,
): TokenizedInput | TokenizedPair {
  const input = lookup.inputs[slot];
  if ('text' in input) return tokenizer.encode(input.text, maxTokens, request.truncationDirection);
  if ('pair' in input) return tokenizePair(tokenizer, request, input.pair, maxTokens);
  const outOfRange = input.tokenIds.find((id) => id >= tokenizer.vocabularySize);
  if (outOfRange !== undefined) {
    const where = slotName(request, lookup, slot);
    throw new ApiError(
      'invalid_request',
      `${where}: token id ${outOfRange} is outside the vocabulary (${tokenizer.vocabularySize})`,
      { param: where },
    );
  }
  return tokenizer.frame(input.tokenIds, maxTokens, request.truncationDirection);
}

function tokenizePair(
  tokenizer: BundleTokenizer,
  request: EmbedRequest,
  [query, document]: readonly [string, string],
  maxTokens: number,
): TokenizedPair {
  try {
    return tokenizer.encodePair(query, document, maxTokens, request.truncationDirection);
  } catch (error) {
    if (!(error instanceof QueryTooLongError)) throw error;
    throw new ApiError(request.tooLongKind, `query: ${error.message}; shorten it`, { param: 'query' });
  }
}

function tooLong(request: EmbedRequest, lookup: CacheLookup, manifest: BundleManifest, slot: number, tokens: number) {
  const where = slotName(request, lookup, slot);
  return new ApiError(
    request.tooLongKind,
    `${where} has ${tokens} tokens, more than the model's maximum of ${manifest.maxTokens}; shorten it or ask for truncation`,
    { param: where },
  );
}

/** The request field of the first input behind a distinct key, e.g. "input[3]". */
function slotName(request: EmbedRequest, lookup: CacheLookup, slot: number): string {
  const index = lookup.slotOfInput.indexOf(slot);
  // A pair's document is always named by its index: a rerank's documents are a list even when there is one.
  const single = request.inputs.length === 1 && !('pair' in request.inputs[0]);
  return single ? request.param : `${request.param}[${index}]`;
}
