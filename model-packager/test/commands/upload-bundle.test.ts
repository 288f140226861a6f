/**
 * `edge-embed upload-bundle`: the CLI writes a bundle into wrangler's local KV (--local --persist-to) as
 * content-addressed chunks under the size limit plus an index, which a Miniflare instance over the same folder reads
 * back byte for byte; an interrupted upload resumed by a rerun that writes only what is missing; refusals for a folder
 * that is not a bundle and for files that do not match their manifest.
 */
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Miniflare } from 'miniflare';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENCODER_PLAN_VERSION, READABLE_PLAN_VERSIONS } from '../../../bundle-format/encoder-plan.js';
import { sha256Hex } from '../../../bundle-format/hash.js';
import {
  bundleIndexKey,
  chunkKey,
  type KvBundleIndex,
  kvBundleIndexProblem,
} from '../../../bundle-format/kv-layout.js';
import { type BundleManifest, computeContentHash } from '../../../bundle-format/manifest.js';
import { runWrangler, uploadBundle, type WranglerRunner } from '../../src/commands/upload-bundle.js';

const root = join(import.meta.dirname, '../../..');
const bundle = join(root, 'bundles/default');
const run = promisify(execFile);

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [join(root, 'bin/edge-embed.mjs'), ...args], { cwd: root });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failure = error as { code: number; stdout: string; stderr: string };
    return { code: failure.code, stdout: failure.stdout, stderr: failure.stderr };
  }
}

describe('edge-embed upload-bundle', () => {
  let persist: string;
  beforeAll(async () => {
    persist = await mkdtemp(join(tmpdir(), 'edge-embed-upload-test-'));
  });
  afterAll(() => rm(persist, { recursive: true, force: true }));

  it('writes chunks and an index into local KV that read back as the bundle files', async () => {
    const chunkBytes = 4 * 1024 * 1024;
    const result = await cli([
      'upload-bundle',
      bundle,
      '--binding',
      'BUNDLE_STORE',
      '--local',
      '--persist-to',
      persist,
      '--chunk-bytes',
      String(chunkBytes),
      '--json',
    ]);
    expect(result.stderr).not.toMatch(/error/i);
    expect(result.code).toBe(0);
    const plan = JSON.parse(result.stdout) as {
      contentHash: string;
      indexKey: string;
      values: Array<{ key: string; bytes: number }>;
    };
    const manifest = JSON.parse(await readFile(join(bundle, 'manifest.json'), 'utf8')) as { contentHash: string };
    expect(plan.contentHash).toBe(manifest.contentHash);
    expect(plan.indexKey).toBe(bundleIndexKey(manifest.contentHash));
    expect(plan.values.at(-1)?.key).toBe(plan.indexKey);
    expect(plan.values.every((value) => value.bytes <= chunkBytes || value.key === plan.indexKey)).toBe(true);

    const mf = new Miniflare({
      modules: true,
      script: 'export default { fetch() { return new Response(null) } }',
      kvNamespaces: ['BUNDLE_STORE'],
      kvPersist: join(persist, 'v3/kv'),
    });
    try {
      const kv = await mf.getKVNamespace('BUNDLE_STORE');
      const index = JSON.parse((await kv.get(plan.indexKey, 'text'))!) as KvBundleIndex;
      expect(kvBundleIndexProblem(index, manifest.contentHash)).toBeNull();
      expect(Object.keys(index.chunks).sort()).toEqual(['model.onnx', 'plan.bin', 'plan.json', 'tokenizer.json']);
      for (const name of ['model.onnx', 'tokenizer.json', 'plan.json', 'plan.bin'] as const) {
        const parts: Buffer[] = [];
        for (const ref of index.chunks[name]!) {
          const value = new Uint8Array((await kv.get(chunkKey(ref.sha256), 'arrayBuffer'))!);
          expect(await sha256Hex(value)).toBe(ref.sha256);
          parts.push(Buffer.from(value));
        }
        expect(Buffer.concat(parts).equals(await readFile(join(bundle, name)))).toBe(true);
      }
      expect(index.chunks['model.onnx']!.length).toBeGreaterThan(1);
    } finally {
      await mf.dispose();
    }
  });

  it('writes nothing when the bundle is already in the namespace, and everything again with --force', async () => {
    const args = [
      'upload-bundle',
      bundle,
      '--binding',
      'BUNDLE_STORE',
      '--local',
      '--persist-to',
      persist,
      '--chunk-bytes',
      String(4 * 1024 * 1024),
      '--json',
    ];
    const again = await cli(args);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ alreadyPresent: true });
    const human = await cli(args.filter((arg) => arg !== '--json'));
    expect(human.stdout).toMatch(/already in BUNDLE_STORE: nothing written/);
    const forced = await cli([...args, '--force']);
    expect(forced.code).toBe(0);
    expect(JSON.parse(forced.stdout)).toMatchObject({ alreadyPresent: false });

    // A different namespace folder does not have it: the upload writes.
    const elsewhere = await mkdtemp(join(tmpdir(), 'edge-embed-upload-test-'));
    try {
      const fresh = await cli([
        'upload-bundle',
        bundle,
        '--binding',
        'BUNDLE_STORE',
        '--local',
        '--persist-to',
        elsewhere,
        '--json',
      ]);
      expect(JSON.parse(fresh.stdout)).toMatchObject({ alreadyPresent: false });
    } finally {
      await rm(elsewhere, { recursive: true, force: true });
    }
  });

  it('resumes an interrupted upload: the rerun writes only the chunks missing or not stored with their hash', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'edge-embed-upload-resume-'));
    const opts = { binding: 'BUNDLE_STORE', local: true, persistTo: folder, chunkBytes: 2 * 1024 * 1024, json: true };
    const putsOf = (runs: string[][]) => runs.filter((args) => args[2] === 'put').map((args) => args[3]);
    try {
      // The connection drops at the 4th put: three chunks are in KV, the rest and the index are not.
      let puts = 0;
      const interrupted: WranglerRunner = async (args) => {
        if (args[2] === 'put' && ++puts > 3) throw new Error('connection reset by peer');
        return runWrangler(args);
      };
      await expect(uploadBundle(bundle, opts, () => {}, interrupted)).rejects.toThrow('connection reset');
      const { values, indexKey } = await uploadBundle(bundle, { ...opts, dryRun: true });
      expect(values.length).toBeGreaterThan(4);
      // One of the three is overwritten the way an older upload left it: without its hash as metadata.
      const scratch = join(folder, 'stale');
      await writeFile(scratch, 'stale bytes');
      await runWrangler([
        'kv',
        'key',
        'put',
        values[0].key,
        '--path',
        scratch,
        '--binding',
        'BUNDLE_STORE',
        '--local',
        '--persist-to',
        folder,
      ]);

      const runs: string[][] = [];
      const recording: WranglerRunner = (args) => {
        runs.push(args);
        return runWrangler(args);
      };
      const resumed = await uploadBundle(bundle, opts, () => {}, recording);
      expect(resumed.alreadyPresent).toBe(false);
      expect(resumed.skipped).toEqual([values[1].key, values[2].key]);
      expect(putsOf(runs)).toEqual([values[0].key, ...values.slice(3).map((value) => value.key)]);
      expect(putsOf(runs).at(-1)).toBe(indexKey);

      // The bundle reads back whole, every chunk with its hash.
      const mf = new Miniflare({
        modules: true,
        script: 'export default { fetch() { return new Response(null) } }',
        kvNamespaces: ['BUNDLE_STORE'],
        kvPersist: join(folder, 'v3/kv'),
      });
      try {
        const kv = await mf.getKVNamespace('BUNDLE_STORE');
        const index = JSON.parse((await kv.get(indexKey, 'text'))!) as KvBundleIndex;
        expect(Object.keys(index.chunks).sort()).toEqual(['model.onnx', 'plan.bin', 'plan.json', 'tokenizer.json']);
        for (const name of ['model.onnx', 'tokenizer.json', 'plan.json', 'plan.bin'] as const) {
          const parts: Buffer[] = [];
          for (const ref of index.chunks[name]!) {
            const value = new Uint8Array((await kv.get(chunkKey(ref.sha256), 'arrayBuffer'))!);
            expect(await sha256Hex(value)).toBe(ref.sha256);
            parts.push(Buffer.from(value));
          }
          expect(Buffer.concat(parts).equals(await readFile(join(bundle, name)))).toBe(true);
        }
      } finally {
        await mf.dispose();
      }

      // --force writes every value again.
      runs.length = 0;
      await uploadBundle(bundle, { ...opts, force: true }, () => {}, recording);
      expect(putsOf(runs)).toEqual(values.map((value) => value.key));
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });

  it('plans a static bundle as its table (embeddings.bin) and tokenizer, and refuses one whose table is missing', async () => {
    const staticBundle = join(root, 'bundles/static-default');
    const chunkBytes = 1024 * 1024;
    const { contentHash, values } = await uploadBundle(staticBundle, { binding: 'B', chunkBytes, dryRun: true });
    const table = new Uint8Array(await readFile(join(staticBundle, 'embeddings.bin')));
    const firstChunk = chunkKey(await sha256Hex(table.subarray(0, chunkBytes)));
    expect(values.map((value) => value.key)).toContain(firstChunk);
    expect(values.filter((value) => value.key.startsWith('chunk/')).length).toBe(
      Math.ceil(table.byteLength / chunkBytes) + 1,
    );
    expect(values.at(-1)?.key).toBe(bundleIndexKey(contentHash));

    const noTable = await mkdtemp(join(tmpdir(), 'edge-embed-static-'));
    try {
      await cp(staticBundle, noTable, { recursive: true });
      await rm(join(noTable, 'embeddings.bin'));
      const result = await cli(['upload-bundle', noTable, '--binding', 'B', '--dry-run']);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/is not a bundle: embeddings.bin is missing/);
    } finally {
      await rm(noTable, { recursive: true, force: true });
    }
  });

  it('refuses a folder that is not a bundle and files that do not match their manifest, writing nothing', async () => {
    const notBundle = await cli(['upload-bundle', persist, '--binding', 'BUNDLE_STORE', '--local']);
    expect(notBundle.code).toBe(1);
    expect(notBundle.stderr).toMatch(/is not a bundle: manifest.json is missing/);

    const stale = await mkdtemp(join(tmpdir(), 'edge-embed-stale-'));
    try {
      await cp(bundle, stale, { recursive: true });
      await writeFile(join(stale, 'tokenizer.json'), '{}');
      await expect(uploadBundle(stale, { binding: 'BUNDLE_STORE', chunkBytes: 1024 })).rejects.toThrow(
        /tokenizer.json does not match manifest.json/,
      );
    } finally {
      await rm(stale, { recursive: true, force: true });
    }
    const future = await mkdtemp(join(tmpdir(), 'edge-embed-future-plan-'));
    try {
      // A plan of an unknown version whose bytes the manifest (and contentHash) do cover: refused in one line.
      await cp(bundle, future, { recursive: true });
      const plan = JSON.parse(await readFile(join(future, 'plan.json'), 'utf8')) as { planVersion: number };
      const unknownVersion = ENCODER_PLAN_VERSION + 1;
      const planBytes = Buffer.from(JSON.stringify({ ...plan, planVersion: unknownVersion }));
      await writeFile(join(future, 'plan.json'), planBytes);
      const manifest = JSON.parse(await readFile(join(future, 'manifest.json'), 'utf8')) as BundleManifest;
      manifest.files['plan.json'] = { bytes: planBytes.byteLength, sha256: await sha256Hex(planBytes) };
      const { contentHash: _, ...fields } = manifest;
      manifest.contentHash = await computeContentHash(fields);
      await writeFile(join(future, 'manifest.json'), JSON.stringify(manifest));
      const refused = await cli(['upload-bundle', future, '--binding', 'BUNDLE_STORE', '--dry-run']);
      expect(refused.code).toBe(1);
      expect(refused.stderr.trim().split('\n')).toEqual([
        `edge-embed: error: ${join(future, 'plan.json')}: the encoder plan is refused: encoder plan version ${unknownVersion} is not supported (this reader knows ${READABLE_PLAN_VERSIONS.join(' and ')})`,
      ]);
    } finally {
      await rm(future, { recursive: true, force: true });
    }
    const tooBig = await cli(['upload-bundle', bundle, '--binding', 'B', '--chunk-bytes', String(26 * 1024 * 1024)]);
    // An option value out of range is a usage error: exit 2 (README), where a refused bundle above exits 1.
    expect(tooBig.code, tooBig.stderr).toBe(2);
    expect(tooBig.stderr).toMatch(/--chunk-bytes <n>' argument '27262976' is invalid/);
  });
});
