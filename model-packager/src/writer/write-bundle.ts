import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { BUNDLE_FILES, type BundleManifest } from '../../../bundle-format/manifest.js';

/**
 * Writes a bundle so that --out never holds a half-written bundle: files go to a sibling temp folder that is renamed
 * into place only once every file is on disk; an existing bundle at --out is replaced whole.
 */
export async function writeBundle(
  outDir: string,
  files: { model: Uint8Array; tokenizer: Uint8Array; manifest: BundleManifest },
): Promise<void> {
  const target = resolve(outDir);
  await mkdir(dirname(target), { recursive: true });
  const staging = join(dirname(target), `.${basename(target)}.tmp-${process.pid}-${Date.now()}`);
  const previous = `${staging}-old`;
  try {
    await mkdir(staging);
    await writeFile(join(staging, BUNDLE_FILES.model), files.model);
    await writeFile(join(staging, BUNDLE_FILES.tokenizer), files.tokenizer);
    await writeFile(join(staging, BUNDLE_FILES.manifest), `${JSON.stringify(files.manifest, null, 2)}\n`);
    const hadPrevious = await rename(target, previous).then(
      () => true,
      () => false,
    );
    await rename(staging, target);
    if (hadPrevious) await rm(previous, { recursive: true, force: true });
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    throw err;
  }
}
