/**
 * A bundle read from Workers KV (written by `edge-embed upload-bundle`, layout in bundle-format/kv-layout.ts), chosen by
 * the BUNDLE_HASH var, so a tenant switches model by changing a var, not the code. The index's manifest must hash to
 * BUNDLE_HASH; every chunk's sha256 is checked on load, then each reassembled file against the manifest: a corrupt or
 * missing chunk fails the load with BundleUnavailableError (the API answers 503 naming the chunk) rather than serving
 * wrong vectors. The encoder plan's files are read only by the plan engine, model.onnx only by ONNX Runtime; an index
 * uploaded before plans were stored has no plan files, and its bundle serves through ONNX Runtime.
 */
import { isSha256Hex, sha256Hex } from '../../../bundle-format/hash.js';
import {
  bundleIndexKey,
  chunkKey,
  type KvBundleFile,
  type KvBundleIndex,
  kvBundleIndexProblem,
  kvModelFile,
} from '../../../bundle-format/kv-layout.js';
import { checkContentHash } from '../../../bundle-format/manifest.js';
import type { KvNamespaceLike } from '../env.js';
import { type BundleSource, BundleUnavailableError } from './source.js';

interface KvBundleContext {
  kv: Pick<KvNamespaceLike, 'get'> | undefined;
  contentHash: string;
  /** The hash's first 12 digits, for messages. */
  short: string;
}

/**
 * @example const bundle = kvBundle(env.BUNDLE_STORE, env.BUNDLE_HASH) // nothing is read until the first request
 */
export function kvBundle(kv: Pick<KvNamespaceLike, 'get'> | undefined, contentHash: string): BundleSource {
  const context: KvBundleContext = { kv, contentHash, short: contentHash.slice(0, 12) };
  let index: Promise<KvBundleIndex> | undefined;
  const loadIndex = (): Promise<KvBundleIndex> => {
    if (index === undefined) {
      index = readIndex(context);
      // A failed read is forgotten, so a later request retries (the service's Lazy does the same one level up).
      index.catch(() => {
        index = undefined;
      });
    }
    return index;
  };
  return {
    manifest: async () => (await loadIndex()).manifest,
    tokenizer: async () =>
      JSON.parse(new TextDecoder().decode(await readFile(context, await loadIndex(), 'tokenizer.json'))) as object,
    model: async () => {
      const index = await loadIndex();
      return readFile(context, index, kvModelFile(index.manifest));
    },
    planFiles: async () => {
      const index = await loadIndex();
      if (index.chunks['plan.json'] === undefined || index.chunks['plan.bin'] === undefined) return undefined;
      const text = new TextDecoder().decode(await readFile(context, index, 'plan.json'));
      let plan: unknown;
      try {
        plan = JSON.parse(text);
      } catch {
        throw new BundleUnavailableError(`bundle ${context.short}: plan.json is not JSON`);
      }
      return { plan, weights: () => readFile(context, index, 'plan.bin') };
    },
  };
}

/** One KV value's bytes; a missing binding, a failed read or a missing key is a BundleUnavailableError. */
async function readValue({ kv, short }: KvBundleContext, key: string, what: string): Promise<Uint8Array> {
  if (kv === undefined)
    throw new BundleUnavailableError('BUNDLE_HASH is set but the worker has no BUNDLE_STORE KV binding');
  let value: ArrayBuffer | null;
  try {
    value = await kv.get(key, 'arrayBuffer');
  } catch (error) {
    throw new BundleUnavailableError(`bundle ${short}: reading ${what} from KV failed (${String(error)})`);
  }
  if (value === null) {
    throw new BundleUnavailableError(
      `bundle ${short}: ${what} is missing from BUNDLE_STORE (upload it with \`edge-embed upload-bundle\`)`,
    );
  }
  return new Uint8Array(value);
}

/** The bundle's index, checked: its shape, and a manifest whose content hash is its own and BUNDLE_HASH. */
async function readIndex(context: KvBundleContext): Promise<KvBundleIndex> {
  const { contentHash, short } = context;
  if (!isSha256Hex(contentHash)) {
    throw new BundleUnavailableError(`BUNDLE_HASH must be a 64-hex-digit bundle content hash, got "${contentHash}"`);
  }
  const bytes = await readValue(context, bundleIndexKey(contentHash), 'the bundle index');
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
}

/** A bundle file reassembled from its chunks, each checked against its hash, the whole against the manifest's. */
async function readFile(context: KvBundleContext, index: KvBundleIndex, name: KvBundleFile): Promise<Uint8Array> {
  const refs = index.chunks[name] ?? [];
  const parts = await Promise.all(
    refs.map(async (ref, i) => {
      const what = `chunk ${i + 1}/${refs.length} of ${name} (${ref.sha256.slice(0, 12)})`;
      const bytes = await readValue(context, chunkKey(ref.sha256), what);
      const actual = await sha256Hex(bytes);
      if (actual !== ref.sha256 || bytes.byteLength !== ref.bytes) {
        throw new BundleUnavailableError(
          `bundle ${context.short}: ${what} is corrupt in KV: its bytes hash to ${actual.slice(0, 12)}; re-upload the bundle`,
        );
      }
      return bytes;
    }),
  );
  const whole = parts.length === 1 ? parts[0] : concat(parts);
  if ((await sha256Hex(whole)) !== index.manifest.files[name]?.sha256) {
    throw new BundleUnavailableError(
      `bundle ${context.short}: the chunks of ${name} do not reassemble to the manifest's sha256`,
    );
  }
  return whole;
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
