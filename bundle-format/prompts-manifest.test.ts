/** The optional `prompts` field: hashed when present, so bundles without it keep their hash; the default must exist. */
import { describe, expect, it } from 'vitest';
import defaultManifest from '../bundles/default/manifest.json';
import { checkContentHash, computeContentHash, parseBundleManifest } from './manifest.js';

const base = parseBundleManifest(defaultManifest);
const prompts = { query: 'query: ', passage: 'passage: ' };

describe('manifest prompts', () => {
  it('leave the hash of a bundle without them as it was', async () => {
    expect(base.prompts).toBeUndefined();
    await expect(checkContentHash(base)).resolves.toBeUndefined();
  });

  it('change the content hash by their names, texts and default, not by their order', async () => {
    const withPrompts = await computeContentHash({ ...base, prompts, defaultPromptName: null });
    expect(withPrompts).not.toBe(base.contentHash);
    const reordered = { passage: 'passage: ', query: 'query: ' };
    expect(await computeContentHash({ ...base, prompts: reordered, defaultPromptName: null })).toBe(withPrompts);
    for (const other of [{ ...prompts, query: 'Query: ' }, { query: 'query: ' }]) {
      expect(await computeContentHash({ ...base, prompts: other, defaultPromptName: null })).not.toBe(withPrompts);
    }
    expect(await computeContentHash({ ...base, prompts, defaultPromptName: 'query' })).not.toBe(withPrompts);
  });

  it('refuse a default prompt name that is not one of them', () => {
    expect(parseBundleManifest({ ...base, prompts, defaultPromptName: 'query' }).defaultPromptName).toBe('query');
    expect(() => parseBundleManifest({ ...base, prompts, defaultPromptName: 'document' })).toThrow(
      /defaultPromptName: must name one of the prompts/,
    );
    expect(() => parseBundleManifest({ ...base, defaultPromptName: 'query' })).toThrow(/defaultPromptName/);
  });
});
