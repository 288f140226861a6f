/**
 * writeBundle replaces --out whole or not at all: with a bundle already at --out, a failure at any step (a file write,
 * moving the old bundle aside, the final rename) leaves the old bundle at --out byte for byte and no temp folder
 * beside it. Failures are injected through writeBundle's fs parameter; everything else is the real file system.
 */
import * as nodeFs from 'node:fs/promises';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BundleManifest } from '../../../bundle-format/manifest.js';
import { type BundleFs, writeBundle } from '../../src/writer/write-bundle.js';

let parent: string;
let out: string;

beforeEach(async () => {
  parent = await mkdtemp(join(tmpdir(), 'edge-embed-write-bundle-'));
  out = join(parent, 'bundle');
});

afterEach(async () => {
  await rm(parent, { recursive: true, force: true });
});

const files = (tag: string) => ({
  model: new TextEncoder().encode(`model bytes ${tag}`),
  tokenizer: new TextEncoder().encode(`{"tokenizer":"${tag}"}`),
  // writeBundle only serialises the manifest; its fields do not matter here.
  manifest: { modelName: tag } as unknown as BundleManifest,
});

/** Every file under dir (relative path -> contents), so "intact" means the same files with the same bytes. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) {
      const path = join(entry.parentPath, entry.name);
      result[path.slice(dir.length + 1)] = await readFile(path, 'utf8');
    }
  }
  return result;
}

/** An old bundle at --out, with a file the new one does not have. */
async function oldBundle(): Promise<Record<string, string>> {
  await mkdir(out);
  await writeFile(join(out, 'model.onnx'), 'old model');
  await writeFile(join(out, 'tokenizer.json'), '{"old":true}');
  await writeFile(join(out, 'manifest.json'), '{"modelName":"old"}\n');
  await writeFile(join(out, 'notes.txt'), 'only in the old bundle');
  return snapshot(out);
}

const errno = (code: string) => Object.assign(new Error(`${code}: injected failure`), { code });
const isStaging = (path: string) => basename(path).startsWith(`.${basename(out)}.tmp-`) && !path.endsWith('-old');

/** The real fs, except that `fail` may throw for a call before it reaches the disk. */
function failingFs(fail: {
  rename?: (from: string, to: string) => Error | undefined;
  writeFile?: (path: string) => Error | undefined;
}): BundleFs {
  return {
    mkdir: (path, options) => nodeFs.mkdir(path, options),
    rm: (path, options) => nodeFs.rm(path, options),
    writeFile: async (path, data) => {
      const error = fail.writeFile?.(path);
      if (error) throw error;
      return nodeFs.writeFile(path, data);
    },
    rename: async (from, to) => {
      const error = fail.rename?.(from, to);
      if (error) throw error;
      return nodeFs.rename(from, to);
    },
  };
}

describe('writeBundle', () => {
  it('writes the three files to a new --out and leaves nothing beside it', async () => {
    await writeBundle(out, files('new'));
    expect(await snapshot(out)).toEqual({
      'model.onnx': 'model bytes new',
      'tokenizer.json': '{"tokenizer":"new"}',
      'manifest.json': `${JSON.stringify({ modelName: 'new' }, null, 2)}\n`,
    });
    expect(await readdir(parent)).toEqual(['bundle']);
  });

  it('replaces an existing bundle whole (no file of the old one survives) and leaves nothing beside it', async () => {
    await oldBundle();
    await writeBundle(out, files('new'));
    expect(Object.keys(await snapshot(out)).sort()).toEqual(['manifest.json', 'model.onnx', 'tokenizer.json']);
    expect(await readFile(join(out, 'model.onnx'), 'utf8')).toBe('model bytes new');
    expect(await readdir(parent)).toEqual(['bundle']);
  });

  it('puts the old bundle back when the final rename into --out fails, and removes the temp folders', async () => {
    const before = await oldBundle();
    const renames: Array<[string, string]> = [];
    const fs = failingFs({
      rename: (from, to) => {
        renames.push([from, to]);
        return isStaging(from) && to === out ? errno('EXDEV') : undefined;
      },
    });
    await expect(writeBundle(out, files('new'), fs)).rejects.toThrow('EXDEV: injected failure');
    expect(await snapshot(out)).toEqual(before);
    expect(await readdir(parent)).toEqual(['bundle']);
    // The failure really came after the old bundle had been moved aside: out -> old, staging -> out (failed), old -> out.
    expect(
      renames.map(([from, to]) => [
        from === out ? 'out' : isStaging(from) ? 'staging' : 'old',
        to === out ? 'out' : 'old',
      ]),
    ).toEqual([
      ['out', 'old'],
      ['staging', 'out'],
      ['old', 'out'],
    ]);
  });

  it('keeps the old bundle when a file write fails, and removes the temp folder', async () => {
    const before = await oldBundle();
    const fs = failingFs({ writeFile: (path) => (path.endsWith('tokenizer.json') ? errno('ENOSPC') : undefined) });
    await expect(writeBundle(out, files('new'), fs)).rejects.toThrow('ENOSPC: injected failure');
    expect(await snapshot(out)).toEqual(before);
    expect(await readdir(parent)).toEqual(['bundle']);
  });

  it('keeps the old bundle when it cannot be moved aside (not mistaken for "no old bundle")', async () => {
    const before = await oldBundle();
    const fs = failingFs({ rename: (from) => (from === out ? errno('EBUSY') : undefined) });
    await expect(writeBundle(out, files('new'), fs)).rejects.toThrow('EBUSY: injected failure');
    expect(await snapshot(out)).toEqual(before);
    expect(await readdir(parent)).toEqual(['bundle']);
  });

  it('leaves no --out and no temp folder when the first write of a bundle fails at the final rename', async () => {
    const fs = failingFs({ rename: (from, to) => (isStaging(from) && to === out ? errno('EXDEV') : undefined) });
    await expect(writeBundle(out, files('new'), fs)).rejects.toThrow('EXDEV: injected failure');
    expect(await readdir(parent)).toEqual([]);
  });

  it('never deletes the old bundle: if putting it back fails too, the error says where it is', async () => {
    const before = await oldBundle();
    let aside = '';
    const fs = failingFs({
      rename: (from, to) => {
        if (from === out) aside = to;
        return to === out ? errno('EXDEV') : undefined;
      },
    });
    const error = await writeBundle(out, files('new'), fs).then(
      () => undefined,
      (err: Error) => err,
    );
    expect(error?.message).toMatch(
      /^writing the bundle failed \(EXDEV: injected failure\) and the previous bundle could not be put back/,
    );
    expect(aside).not.toBe('');
    expect(error?.message).toContain(`it is intact at ${aside}`);
    expect(await snapshot(aside)).toEqual(before);
    // Only the old bundle's folder remains; the new files' temp folder is gone.
    expect(await readdir(parent)).toEqual([basename(aside)]);
  });
});
