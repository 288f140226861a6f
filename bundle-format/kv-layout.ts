/**
 * How a bundle is stored in Workers KV (the contract between `edge-embed upload-bundle` and the worker's KV bundle
 * source). Content-addressed, so uploads deduplicate and a value never changes once written:
 *
 * - `bundle/<contentHash>`: JSON {@link KvBundleIndex}: the manifest and, per file, the sha256 and size of its chunks;
 * - `chunk/<sha256>`: the bytes of one chunk, at most {@link KV_VALUE_LIMIT_BYTES} (KV's 25 MiB value limit).
 *
 * The index is written last, so a bundle whose index is readable has all its chunks. The reader checks every chunk's
 * sha256 and each reassembled file against the manifest's sha256, so a corrupt or missing chunk is an error, never
 * wrong vectors. Uses only WebCrypto, so it runs in Node and in workerd.
 */
import { isSha256Hex, sha256Hex } from './hash.js';
import { BUNDLE_FILES, type BundleManifest, checkContentHash } from './manifest.js';

/** KV's maximum value size. */
export const KV_VALUE_LIMIT_BYTES = 25 * 1024 * 1024;
/** Default chunk size: 24 MiB, a margin under the limit. */
export const DEFAULT_CHUNK_BYTES = 24 * 1024 * 1024;
export const KV_BUNDLE_FORMAT = 1;
/**
 * The bundle files stored as chunks (the manifest travels inside the index): the model by kind, the tokenizer, and the
 * encoder plan's two files when the manifest lists them.
 */
export type KvBundleFile =
  | typeof BUNDLE_FILES.model
  | typeof BUNDLE_FILES.embeddings
  | typeof BUNDLE_FILES.tokenizer
  | typeof BUNDLE_FILES.plan
  | typeof BUNDLE_FILES.planWeights;

/**
 * The files a bundle of this manifest's kind stores in KV: a transformer's model.onnx, or a static bundle's
 * embeddings.bin (its table), then tokenizer.json, then plan.json and plan.bin when the manifest lists them. Every
 * reader needs the first two ({@link kvRequiredFiles}); the plan's are optional in an index, so a bundle uploaded before
 * plans were stored still serves (through ONNX Runtime) and an index without them keeps its shape.
 * @example kvBundleFiles(manifest) // ['embeddings.bin', 'tokenizer.json'] for a static bundle
 */
export function kvBundleFiles(manifest: Pick<BundleManifest, 'kind' | 'files'>): KvBundleFile[] {
  const files = manifest.files ?? {};
  const hasPlan = files[BUNDLE_FILES.plan] !== undefined && files[BUNDLE_FILES.planWeights] !== undefined;
  return [...kvRequiredFiles(manifest), ...(hasPlan ? [BUNDLE_FILES.plan, BUNDLE_FILES.planWeights] : [])];
}

/** The files every KV index of this manifest's kind holds: the model (or table) and the tokenizer. */
export function kvRequiredFiles(manifest: Pick<BundleManifest, 'kind'>): [KvBundleFile, KvBundleFile] {
  return [kvModelFile(manifest), BUNDLE_FILES.tokenizer];
}

/** The file the engine is built from: model.onnx, or embeddings.bin for a static bundle. */
export function kvModelFile(manifest: Pick<BundleManifest, 'kind'>): KvBundleFile {
  return manifest.kind === 'static' ? BUNDLE_FILES.embeddings : BUNDLE_FILES.model;
}

export interface KvChunkRef {
  sha256: string;
  bytes: number;
}

export interface KvBundleIndex {
  kvFormat: typeof KV_BUNDLE_FORMAT;
  /** The bundle's manifest.json, parsed (a reader validates it with parseBundleManifest before use). */
  manifest: BundleManifest;
  /** The chunks of each of {@link kvBundleFiles} (the plan's files may be absent: an upload from before plans). */
  chunks: Partial<Record<KvBundleFile, KvChunkRef[]>>;
}

/** @example bundleIndexKey(manifest.contentHash) // 'bundle/3f9c…' */
export function bundleIndexKey(contentHash: string): string {
  return `bundle/${contentHash}`;
}

export function chunkKey(sha256: string): string {
  return `chunk/${sha256}`;
}

export interface KvEntry {
  key: string;
  value: Uint8Array;
}

/**
 * The KV entries of a bundle: its distinct chunks, then the index (last). Refuses a manifest whose contentHash is not
 * its own and files that do not match the manifest's sha256, so a stale folder is never uploaded under the wrong hash.
 * @example const { index, entries } = await planKvBundle(manifest, { 'model.onnx': model, 'tokenizer.json': tok })
 */
export async function planKvBundle(
  manifest: BundleManifest,
  files: Partial<Record<KvBundleFile, Uint8Array>>,
  chunkBytes = DEFAULT_CHUNK_BYTES,
): Promise<{ index: KvBundleIndex; entries: KvEntry[] }> {
  if (!Number.isInteger(chunkBytes) || chunkBytes < 1 || chunkBytes > KV_VALUE_LIMIT_BYTES) {
    throw new Error(`chunk size must be an integer from 1 to ${KV_VALUE_LIMIT_BYTES} bytes, got ${chunkBytes}`);
  }
  if (!isSha256Hex(manifest.contentHash)) throw new Error('manifest.json has no valid contentHash');
  await checkContentHash(manifest);
  const chunks: KvBundleIndex['chunks'] = {};
  const entries = new Map<string, Uint8Array>();
  for (const name of kvBundleFiles(manifest)) {
    const bytes = files[name];
    if (bytes === undefined)
      throw new Error(`${name} is missing (a ${manifest.kind ?? 'transformer'} bundle needs it)`);
    const expected = manifest.files?.[name];
    const actual = await sha256Hex(bytes);
    if (expected === undefined || expected.sha256 !== actual || expected.bytes !== bytes.byteLength) {
      throw new Error(`${name} does not match manifest.json (sha256 ${actual}, ${bytes.byteLength} bytes)`);
    }
    const refs: KvChunkRef[] = [];
    chunks[name] = refs;
    for (let offset = 0; offset < bytes.byteLength || offset === 0; offset += chunkBytes) {
      const chunk = bytes.subarray(offset, Math.min(offset + chunkBytes, bytes.byteLength));
      const sha256 = await sha256Hex(chunk);
      refs.push({ sha256, bytes: chunk.byteLength });
      entries.set(chunkKey(sha256), chunk);
      if (bytes.byteLength === 0) break;
    }
  }
  const index: KvBundleIndex = { kvFormat: KV_BUNDLE_FORMAT, manifest, chunks };
  const list = [...entries].map(([key, value]) => ({ key, value }));
  list.push({ key: bundleIndexKey(manifest.contentHash), value: new TextEncoder().encode(JSON.stringify(index)) });
  return { index, entries: list };
}

/**
 * Checks that a parsed index value has the shape of {@link KvBundleIndex} for `contentHash`; returns a reason or null.
 */
export function kvBundleIndexProblem(value: unknown, contentHash: string): string | null {
  if (typeof value !== 'object' || value === null) return 'the index is not a JSON object';
  const index = value as Partial<KvBundleIndex>;
  if (index.kvFormat !== KV_BUNDLE_FORMAT)
    return `unknown kvFormat ${String(index.kvFormat)} (expected ${KV_BUNDLE_FORMAT})`;
  if (typeof index.manifest !== 'object' || index.manifest === null) return 'the index has no manifest';
  if (index.manifest.contentHash !== contentHash)
    return `the index holds bundle ${String(index.manifest.contentHash)}, not ${contentHash}`;
  const optional = new Set<KvBundleFile>([BUNDLE_FILES.plan, BUNDLE_FILES.planWeights]);
  for (const name of kvBundleFiles(index.manifest)) {
    const refs = index.chunks?.[name];
    if (refs === undefined && optional.has(name)) continue;
    if (
      !Array.isArray(refs) ||
      refs.some((ref) => !isSha256Hex(ref?.sha256) || !Number.isInteger(ref?.bytes) || ref.bytes < 0)
    ) {
      return `the index lists no valid chunks for ${name}`;
    }
    if (typeof index.manifest.files?.[name]?.sha256 !== 'string') return `the manifest has no sha256 for ${name}`;
  }
  return null;
}
