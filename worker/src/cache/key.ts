/**
 * Cache keys: `e1:<bundle content hash>:<options that change the vector>:<sha256 of the input>`, 135-140 bytes, far
 * under KV's 512-byte limit. The bundle hash namespaces the key, so two bundles never share an entry; a tenant's
 * deployment (TENANT_ID) adds `t:<tenant>:` in front (EmbeddingCache), so tenants never do either. The cached vector
 * is the model's full output, so `dimensions` and normalisation (applied when responding) are not part of the key.
 * A prompt is part of the text by the time it gets here (embedding/prompts.ts), so it is in the hashed payload: two
 * prompts never share an entry, and `query: cats` sent with or without prompt_name `query` rightly does. A pair's
 * payload is the JSON of [query, document], so the same document under two queries makes two keys. A cache with no tier
 * outside the isolate keys by the payload itself ({@link inIsolateKey}).
 */
import { sha256Hex } from '../../../bundle-format/hash.js';

/** A text, token ids (OpenAI), or a cross-encoder's (query, document) pair, whose cached value is the pair's logits. */
export type CacheInput =
  | { text: string }
  | { tokenIds: number[] }
  | { pair: readonly [query: string, document: string] };

/** What changes the model output for one input besides the bundle: which end is cut when it is too long. */
export interface VectorOptions {
  truncationDirection: 'right' | 'left';
}

/**
 * @example await cacheKey(manifest.contentHash, { truncationDirection: 'right' }, { text: 'hello' })
 * // 'e1:<64 hex>:r:t:<64 hex>'
 */
export async function cacheKey(contentHash: string, options: VectorOptions, input: CacheInput): Promise<string> {
  const [direction, kind, payload] = keyParts(options, input);
  return `e1:${contentHash}:${direction}:${kind}:${await sha256Hex(payload)}`;
}

/**
 * The key of an input in a cache that never leaves the isolate (the LRU alone: no Cache API, no KV, so no key limit):
 * the payload itself instead of its sha256. A digest per input cost more than a static bundle's whole vector (32
 * digests took 0.7 ms in Node, the static pipeline about 1 ms per 32 texts), and the LRU's Map hashes the string anyway.
 * The fields before the payload have fixed lengths, so two inputs never share a key; its own prefix keeps it apart from
 * {@link cacheKey}'s.
 * @example inIsolateKey(manifest.contentHash, { truncationDirection: 'right' }, { text: 'hello' }) // 'm1:<64 hex>:r:t:hello'
 */
export function inIsolateKey(contentHash: string, options: VectorOptions, input: CacheInput): string {
  const [direction, kind, payload] = keyParts(options, input);
  return `m1:${contentHash}:${direction}:${kind}:${payload}`;
}

function keyParts(options: VectorOptions, input: CacheInput): [direction: string, kind: string, payload: string] {
  const direction = options.truncationDirection === 'right' ? 'r' : 'l';
  if ('text' in input) return [direction, 't', input.text];
  if ('pair' in input) return [direction, 'p', JSON.stringify(input.pair)];
  return [direction, 'i', input.tokenIds.join(',')];
}
