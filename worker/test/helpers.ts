/** Helpers for the workerd tests: call the worker with the test env (plus overrides) and wait for its background work. */
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import type { Hono } from 'hono';
import { sha256Hex } from '../../bundle-format/hash.js';
import { chunkKey, type KvBundleIndex, type KvEntry, planKvBundle } from '../../bundle-format/kv-layout.js';
import { type BundleManifest, computeContentHash } from '../../bundle-format/manifest.js';
import type { BundleSource } from '../src/bundle/source.js';
import type { Env } from '../src/env.js';
import worker from '../src/index.js';

export const testEnv = env as unknown as Env;

type Fetcher = Pick<Hono<{ Bindings: Env }>, 'fetch'>;

/** Sends a request to the worker (or another app) and waits for its ctx.waitUntil work, as workerd would. */
export async function call(
  path: string,
  init: { method?: string; body?: unknown; headers?: Record<string, string> } = {},
  envOverrides: Partial<Env> = {},
  app: Fetcher = worker,
): Promise<Response> {
  const method = init.method ?? (init.body === undefined ? 'GET' : 'POST');
  const body =
    init.body === undefined ? undefined : typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
  const request = new Request(`http://edge-embed.test${path}`, {
    method,
    body,
    headers: { 'content-type': 'application/json', ...init.headers },
  });
  const ctx = createExecutionContext();
  const response = await app.fetch(request, { ...testEnv, ...envOverrides }, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

/** POST /v1/embeddings and return the float vectors. */
export async function openAiVectors(input: string | string[], envOverrides: Partial<Env> = {}): Promise<number[][]> {
  const response = await call('/v1/embeddings', { body: { input, model: 'any' } }, envOverrides);
  if (response.status !== 200) throw new Error(`status ${response.status}: ${await response.text()}`);
  const body = (await response.json()) as { data: Array<{ embedding: number[] }> };
  return body.data.map((item) => item.embedding);
}

/** POST /embed (text-embeddings-inference) and return the vectors. */
export async function teiVectors(inputs: string[], extra: Record<string, unknown> = {}): Promise<number[][]> {
  const response = await call('/embed', { body: { inputs, ...extra } });
  if (response.status !== 200) throw new Error(`status ${response.status}: ${await response.text()}`);
  return (await response.json()) as number[][];
}

export interface InfoBody {
  loaded: boolean;
  dimensions: number;
  bundle_hash: string;
  model_id: string;
  wasm_heap_bytes: number | null;
  counters: Record<string, number>;
}

export async function info(): Promise<InfoBody> {
  return (await (await call('/info')).json()) as InfoBody;
}

export { cosine } from '../../bundle-runtime/similarity.js';

/** Texts of clearly different token lengths, unique per call site via the tag. */
export function mixedTexts(tag: string, count: number): string[] {
  const words = ['river', 'stone', 'quiet', 'market', 'lantern', 'orbit', 'meadow', 'signal', 'harbor', 'copper'];
  return Array.from(
    { length: count },
    (_, i) =>
      `${tag} ${i} ${Array.from({ length: 1 + ((i * 7) % 40) }, (_, j) => words[(i + j) % words.length]).join(' ')}`,
  );
}

/**
 * A bundle as `upload-bundle` stores it in BUNDLE_STORE, in 1 MiB chunks; returns its index and the entries written.
 * The JSON module imports re-serialise tokenizer.json and plan.json, so the manifest's hashes of those (and with them
 * the contentHash) are recomputed for those bytes. The plan's files go up when the source has them (else the manifest
 * loses them: a bundle without a plan).
 *
 * Chunks already in BUNDLE_STORE are not written again (KV values never change once written; upload-bundle skips
 * them too), so upload a bundle in a `beforeAll`, before the file's first inference: a later upload of it, or of a
 * variant sharing its files, then writes little more than its index. Megabytes of KV puts after an inference hang
 * workerd at 100% CPU at random on a 2-CPU machine (tenants.test.ts did, about one run in three): V8's only worker
 * thread, compiling the test isolate's hot code, waits for that isolate's GC, while the main thread spins in the KV
 * simulator isolate's cppgc sweep task waiting for that same worker thread. A deadlock in workerd's V8 platform, not
 * in the worker.
 */
export async function uploadBundleEntries(bundle: BundleSource): Promise<{ index: KvBundleIndex; entries: KvEntry[] }> {
  const manifest = structuredClone((await bundle.manifest()) as BundleManifest);
  const fileOf = async (bytes: Uint8Array) => ({ bytes: bytes.byteLength, sha256: await sha256Hex(bytes) });
  const tokenizer = new TextEncoder().encode(JSON.stringify(await bundle.tokenizer()));
  manifest.files['tokenizer.json'] = await fileOf(tokenizer);
  const modelFile = manifest.kind === 'static' ? 'embeddings.bin' : 'model.onnx';
  const files: Record<string, Uint8Array> = { [modelFile]: await bundle.model(), 'tokenizer.json': tokenizer };
  const plan = await bundle.planFiles?.();
  if (plan !== undefined) {
    files['plan.json'] = new TextEncoder().encode(JSON.stringify(plan.plan));
    files['plan.bin'] = await plan.weights();
    manifest.files['plan.json'] = await fileOf(files['plan.json']);
    manifest.files['plan.bin'] = await fileOf(files['plan.bin']);
  } else {
    delete manifest.files['plan.json'];
    delete manifest.files['plan.bin'];
  }
  const { contentHash: _, ...withoutHash } = manifest;
  manifest.contentHash = await computeContentHash(withoutHash);
  const planned = await planKvBundle(manifest, files as Parameters<typeof planKvBundle>[1], 1024 * 1024);
  const store = testEnv.BUNDLE_STORE as unknown as KVNamespace;
  const present = await chunkKeysIn(store);
  for (const entry of planned.entries) if (!present.has(entry.key)) await store.put(entry.key, entry.value);
  return planned;
}

async function chunkKeysIn(store: KVNamespace): Promise<Set<string>> {
  const keys = new Set<string>();
  let cursor: string | undefined;
  do {
    const page = await store.list({ prefix: chunkKey(''), cursor });
    for (const { name } of page.keys) keys.add(name);
    cursor = page.list_complete ? undefined : page.cursor;
  } while (cursor !== undefined);
  return keys;
}

/** {@link uploadBundleEntries}, returning the uploaded bundle's contentHash. */
export async function uploadBundle(bundle: BundleSource): Promise<string> {
  return (await uploadBundleEntries(bundle)).index.manifest.contentHash;
}
