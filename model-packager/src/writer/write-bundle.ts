import * as nodeFs from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { BUNDLE_FILES, type BundleManifest } from '../../../bundle-format/manifest.js';

/** The file-system calls writeBundle makes; tests pass one whose calls fail on cue. */
export interface BundleFs {
  mkdir(path: string, options?: { recursive?: boolean }): Promise<unknown>;
  writeFile(path: string, data: Uint8Array | string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  rm(path: string, options: { recursive: boolean; force: boolean }): Promise<void>;
}

const isMissing = (err: unknown) => (err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';

/**
 * Writes a bundle so that --out never holds a half-written bundle: files go to a sibling temp folder that is renamed
 * into place only once every file is on disk; an existing bundle at --out is replaced whole. On any failure the
 * previous bundle (if any) is back at --out and no temp folder is left; should even putting it back fail, the error
 * says where it is rather than deleting it.
 */
export async function writeBundle(
  outDir: string,
  files: {
    model: Uint8Array;
    tokenizer: Uint8Array;
    manifest: BundleManifest;
    plan?: { json: Uint8Array; weights: Uint8Array };
  },
  fs: BundleFs = nodeFs,
): Promise<void> {
  const target = resolve(outDir);
  await fs.mkdir(dirname(target), { recursive: true });
  const staging = join(dirname(target), `.${basename(target)}.tmp-${process.pid}-${Date.now()}`);
  const previous = `${staging}-old`;
  let movedAside = false;
  try {
    await fs.mkdir(staging);
    await fs.writeFile(join(staging, BUNDLE_FILES.model), files.model);
    await fs.writeFile(join(staging, BUNDLE_FILES.tokenizer), files.tokenizer);
    if (files.plan) {
      await fs.writeFile(join(staging, BUNDLE_FILES.plan), files.plan.json);
      await fs.writeFile(join(staging, BUNDLE_FILES.planWeights), files.plan.weights);
    }
    await fs.writeFile(join(staging, BUNDLE_FILES.manifest), `${JSON.stringify(files.manifest, null, 2)}\n`);
    // Only "nothing there yet" means there is no previous bundle; any other failure to move it aside is an error.
    try {
      await fs.rename(target, previous);
      movedAside = true;
    } catch (err) {
      if (!isMissing(err)) throw err;
    }
    await fs.rename(staging, target);
  } catch (err) {
    if (movedAside) {
      try {
        await fs.rename(previous, target);
      } catch (restoreErr) {
        await fs.rm(staging, { recursive: true, force: true }).catch(() => undefined);
        throw new Error(
          `writing the bundle failed (${(err as Error).message}) and the previous bundle could not be put back at ${target} ` +
            `(${(restoreErr as Error).message}); it is intact at ${previous}`,
        );
      }
    }
    await fs.rm(staging, { recursive: true, force: true });
    throw err;
  }
  await fs.rm(previous, { recursive: true, force: true });
}
