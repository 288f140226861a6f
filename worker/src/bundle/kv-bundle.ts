/**
 * A bundle read from Workers KV (written by `edge-embed upload-bundle`, layout in bundle-format/kv-layout.ts), chosen by
 * the BUNDLE_HASH var, so a tenant switches model by changing a var, not the code. The index's manifest must hash to
 * BUNDLE_HASH; every chunk's sha256 is checked on load, then each reassembled file against the manifest: a corrupt or
 * missing chunk fails the load with BundleUnavailableError (the API answers 503 naming the chunk) rather than serving
 * wrong vectors.
 */
import { isSha256Hex, sha256Hex } from '../../../bundle-format/hash.js';
import {
  bundleIndexKey,
  chunkKey,
  type KvBundleFile,
  type KvBundleIndex,
  kvBundleIndexProblem,
} from '../../../bundle-format/kv-layout.js';
import { checkContentHash } from '../../../bundle-format/manifest.js';
import type { KvNamespaceLike } from '../env.js';
import { type BundleSource, BundleUnavailableError } from './source.js';

/**
 * @example const bundle = kvBundle(env.BUNDLE_STORE, env.BUNDLE_HASH) // nothing is read until the first request
 */
export function kvBundle(kv: Pick<KvNamespaceLike, 'get'> | undefined, contentHash: string): BundleSource {
  const short = contentHash.slice(0, 12);
  let index: Promise<KvBundleIndex> | undefined;

  async function read(key: string, what: string): Promise<Uint8Array> {
    if (kv === undefined)
      throw new BundleUnavailableError('BUNDLE_HASH is set but the worker has no BUNDLE_STORE KV binding');
    let value: ArrayBuffer | null;
    try {
      value = await kv.get(key, 'arrayBuffer');
    } catch (error) {
      throw new BundleUnavailableError(`bundle ${short}: reading ${what} from KV failed (${String(error)})`);
    }
    if (value === null)
      throw new BundleUnavailableError(
        `bundle ${short}: ${what} is missing from BUNDLE_STORE (upload it with \`edge-embed upload-bundle\`)`,
      );
    return new Uint8Array(value);
  }

  function loadIndex(): Promise<KvBundleIndex> {
    index ??= (async () => {
      if (!isSha256Hex(contentHash))
        throw new BundleUnavailableError(
          `BUNDLE_HASH must be a 64-hex-digit bundle content hash, got "${contentHash}"`,
        );
      const bytes = await read(bundleIndexKey(contentHash), 'the bundle index');
      let parsed: unknown;
      try {
        parsed = JSON.parse(new TextDecoder().decode(bytes));
      } catch {
        throw new BundleUnavailableError(`bundle ${short}: the index in KV is not JSON`);
      }
      const problem = kvBundleIndexProblem(parsed, contentHash);
      if (problem !== null) throw new BundleUnavailableError(`bundle ${short}: ${problem}`);
      const loaded = parsed as KvBundleIndex;
      await checkContentHash(loaded.manifest).catch((error: Error) => {
        throw new BundleUnavailableError(`bundle ${short}: ${error.message}`);
      });
      return loaded;
    })();
    // A failed read is forgotten, so a later request retries (the service's Lazy does the same one level up).
    index.catch(() => (index = undefined));
    return index;
  }

  async function file(name: KvBundleFile): Promise<Uint8Array> {
    const { manifest, chunks } = await loadIndex();
    const refs = chunks[name];
    const parts = await Promise.all(
      refs.map(async (ref, i) => {
        const what = `chunk ${i + 1}/${refs.length} of ${name} (${ref.sha256.slice(0, 12)})`;
        const bytes = await read(chunkKey(ref.sha256), what);
        const actual = await sha256Hex(bytes);
        if (actual !== ref.sha256 || bytes.byteLength !== ref.bytes) {
          throw new BundleUnavailableError(
            `bundle ${short}: ${what} is corrupt in KV: its bytes hash to ${actual.slice(0, 12)}; re-upload the bundle`,
          );
        }
        return bytes;
      }),
    );
    const whole = parts.length === 1 ? parts[0] : concat(parts);
    if ((await sha256Hex(whole)) !== manifest.files[name].sha256) {
      throw new BundleUnavailableError(
        `bundle ${short}: the chunks of ${name} do not reassemble to the manifest's sha256`,
      );
    }
    return whole;
  }

  return {
    manifest: async () => (await loadIndex()).manifest,
    tokenizer: async () => JSON.parse(new TextDecoder().decode(await file('tokenizer.json'))) as object,
    model: () => file('model.onnx'),
  };
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}
