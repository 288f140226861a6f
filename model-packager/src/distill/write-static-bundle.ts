/**
 * The static bundle's writer, with the pack writer's guarantee (writer/write-bundle.ts): the files go to a sibling temp
 * folder renamed into place once all are on disk, so --out never holds a half-written bundle, and a bundle already
 * there is replaced whole or left as it was.
 */
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { BUNDLE_FILES, type StaticBundleManifest } from '../../../bundle-format/manifest.js';

/** @example await writeStaticBundle('bundles/static-default', { embeddings, tokenizer, manifest }) */
export async function writeStaticBundle(
  outDir: string,
  files: { embeddings: Uint8Array; tokenizer: Uint8Array; manifest: StaticBundleManifest },
): Promise<void> {
  const target = resolve(outDir);
  await mkdir(dirname(target), { recursive: true });
  const staging = join(dirname(target), `.${basename(target)}.tmp-${process.pid}-${Date.now()}`);
  const previous = `${staging}-old`;
  let movedAside = false;
  try {
    await mkdir(staging);
    await writeFile(join(staging, BUNDLE_FILES.embeddings), files.embeddings);
    await writeFile(join(staging, BUNDLE_FILES.tokenizer), files.tokenizer);
    await writeFile(join(staging, BUNDLE_FILES.manifest), `${JSON.stringify(files.manifest, null, 2)}\n`);
    try {
      await rename(target, previous);
      movedAside = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    await rename(staging, target);
  } catch (err) {
    if (movedAside) await rename(previous, target);
    await rm(staging, { recursive: true, force: true });
    throw err;
  }
  await rm(previous, { recursive: true, force: true });
}
