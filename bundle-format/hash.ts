/**
 * The one sha256 of the bundle format: file hashes, chunk keys and the content hash are all lowercase hex sha256.
 * Web Crypto only, so the packager (Node) and the worker (workerd) hash with the same code. The content hash itself
 * (computeContentHash, checkContentHash) is in manifest.ts, beside the fields it covers.
 */

/** A lowercase hex sha256, as the manifest and the KV layout store it. */
export const SHA256_HEX = /^[0-9a-f]{64}$/;

/** @example isSha256Hex(env.BUNDLE_HASH) // false for a typo, so it is refused before any KV read */
export function isSha256Hex(value: unknown): value is string {
  return typeof value === 'string' && SHA256_HEX.test(value);
}

/**
 * The lowercase hex sha256 of some bytes; a string is hashed as its UTF-8 bytes (as node:crypto's `update` does).
 * @example await sha256Hex('abc') // 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'
 */
export async function sha256Hex(data: Uint8Array | string): Promise<string> {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  const digest = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, '0')).join('');
}
