/** The `kind` field: static manifests are checked for their own files, and hash differently from transformers. */
import { describe, expect, it } from 'vitest';
import defaultManifest from '../bundles/default/manifest.json';
import {
  checkContentHash,
  computeContentHash,
  parseAnyBundleManifest,
  parseBundleManifest,
  type StaticBundleManifest,
} from './manifest.js';

const file = { bytes: 10, sha256: 'a'.repeat(64) };

async function staticManifest(): Promise<StaticBundleManifest> {
  const withoutHash: Omit<StaticBundleManifest, 'contentHash'> = {
    kind: 'static',
    formatVersion: 1,
    modelName: 'tiny-static',
    dimensions: 4,
    allowedDimensions: [4],
    maxTokens: 16,
    pooling: 'mean',
    normalize: true,
    inputs: ['input_ids'],
    output: 'sentence_embedding',
    inputDtype: 'int32',
    tokenizerConfig: {},
    quantization: 'int8-storage',
    vocabulary: { before: 5, after: 5 },
    files: { 'embeddings.bin': file, 'tokenizer.json': { bytes: 3, sha256: 'b'.repeat(64) } },
    bytes: { total: 13, embeddings: 10, layers: 0, tokenizer: 3 },
    sourceFiles: {},
    fidelity: null,
    wasmHeapBytes: null,
    createdBy: 'test',
    static: {
      teacher: { contentHash: 'c'.repeat(64), modelName: 'teacher' },
      rows: 5,
      pcaDimensions: null,
      weighting: { scheme: 'sif', a: 1e-3, source: 'test' },
      agreement: null,
    },
  };
  return { ...withoutHash, contentHash: await computeContentHash(withoutHash) };
}

/** A manifest as loose JSON, to break on purpose. */
type Loose = { kind?: string; files: Record<string, unknown>; static?: unknown };

describe('bundle kind', () => {
  it('reads a manifest without kind as a transformer, with its hash unchanged', async () => {
    const json: Record<string, unknown> = defaultManifest;
    expect(json.kind).toBeUndefined();
    const manifest = parseBundleManifest(json);
    await expect(checkContentHash(manifest)).resolves.toBeUndefined();
  });

  it('parses a static manifest, which the transformer-only parser refuses by name', async () => {
    const manifest = await staticManifest();
    expect(parseAnyBundleManifest(JSON.parse(JSON.stringify(manifest))).kind).toBe('static');
    expect(() => parseBundleManifest(manifest)).toThrow(/kind: this is a static bundle/);
  });

  it.each([
    ['no embeddings.bin', (m: Loose) => delete m.files['embeddings.bin'], /files\.embeddings\.bin/],
    ['a model.onnx', (m: Loose) => (m.files['model.onnx'] = file), /a static bundle has no model\.onnx/],
    ['no static block', (m: Loose) => delete m.static, /static: Required/],
    ['an unknown kind', (m: Loose) => (m.kind = 'sparse'), /kind/],
  ])('refuses a static manifest with %s', async (_, edit, message) => {
    const manifest = JSON.parse(JSON.stringify(await staticManifest()));
    edit(manifest);
    expect(() => parseAnyBundleManifest(manifest)).toThrow(message);
  });

  it('hashes the kind, the table and the dimensions of a static bundle', async () => {
    const manifest = await staticManifest();
    const hash = manifest.contentHash;
    expect(await computeContentHash({ ...manifest, dimensions: 8 })).not.toBe(hash);
    const otherTable = { ...manifest.files, 'embeddings.bin': { bytes: 10, sha256: 'd'.repeat(64) } };
    expect(await computeContentHash({ ...manifest, files: otherTable })).not.toBe(hash);
    const asTransformer = { ...manifest, kind: undefined, files: { ...manifest.files, 'model.onnx': file } };
    expect(await computeContentHash(asTransformer)).not.toBe(hash);
  });
});
