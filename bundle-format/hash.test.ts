/**
 * The bundle format's hashes: sha256Hex against a known digest, and the content hash of the default bundle
 * (`npm run build`) recomputed from its manifest (an existing bundle keeps its hash), refused once a field changes.
 */
import { describe, expect, it } from 'vitest';
import defaultManifest from '../bundles/default/manifest.json';
import { sha256Hex } from './hash.js';
import { type BundleManifest, checkContentHash, computeContentHash, parseBundleManifest } from './manifest.js';

describe('sha256Hex', () => {
  it('gives the lowercase hex digest of bytes, and of a string as UTF-8', async () => {
    const abc = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';
    expect(await sha256Hex('abc')).toBe(abc);
    expect(await sha256Hex(new Uint8Array([0x61, 0x62, 0x63]))).toBe(abc);
    expect(await sha256Hex('é')).toBe(await sha256Hex(new Uint8Array([0xc3, 0xa9])));
  });
});

describe('the content hash', () => {
  it('of the default bundle is recomputed from its manifest, and refused once a vector-affecting field changes', async () => {
    const manifest = parseBundleManifest(defaultManifest);
    const { contentHash, ...withoutHash } = manifest;
    expect(await computeContentHash(withoutHash)).toBe(contentHash);
    await expect(checkContentHash(manifest)).resolves.toBeUndefined();
    await expect(checkContentHash({ ...manifest, maxTokens: manifest.maxTokens - 1 })).rejects.toThrow(
      /not the hash of its fields/,
    );
    // Fields that do not change a vector (names, figures) are outside the hash.
    const renamed: BundleManifest = { ...manifest, modelName: 'renamed', fidelity: null };
    await expect(checkContentHash(renamed)).resolves.toBeUndefined();
  });
});
