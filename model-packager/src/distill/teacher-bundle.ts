/** Reading the teacher: a transformer bundle folder (manifest.json, model.onnx, tokenizer.json), checked. */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  BUNDLE_FILES,
  parseAnyBundleManifest,
  type TransformerBundleManifest,
} from '../../../bundle-format/manifest.js';
import { PackError } from '../errors.js';

export interface TeacherBundle {
  dir: string;
  manifest: TransformerBundleManifest;
  model: Uint8Array;
  tokenizerJson: object;
  /** The raw tokenizer.json bytes (a static bundle without pruning ships them unchanged). */
  tokenizerBytes: Uint8Array;
}

async function readBundleFile(dir: string, name: string): Promise<Uint8Array> {
  const path = join(dir, name);
  if (!existsSync(path)) throw new PackError('missing-input', `${path} is missing (is ${dir} a bundle?)`);
  return readFile(path);
}

function parseJson(bytes: Uint8Array, path: string): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (err) {
    throw new PackError('bad-input', `${path} is not valid JSON (${(err as Error).message})`);
  }
}

/**
 * @example const teacher = await readTeacherBundle('bundles/default')
 */
export async function readTeacherBundle(dir: string): Promise<TeacherBundle> {
  if (!existsSync(dir)) throw new PackError('missing-input', `teacher bundle ${dir} does not exist`);
  const manifestPath = join(dir, BUNDLE_FILES.manifest);
  const manifestJson = parseJson(await readBundleFile(dir, BUNDLE_FILES.manifest), manifestPath);
  let manifest: ReturnType<typeof parseAnyBundleManifest>;
  try {
    manifest = parseAnyBundleManifest(manifestJson);
  } catch (err) {
    throw new PackError('bad-input', `${manifestPath}: ${(err as Error).message}`);
  }
  if (manifest.kind === 'static') {
    throw new PackError('bad-input', `${dir} is a static bundle; distill needs a transformer bundle as the teacher`);
  }
  const tokenizerBytes = await readBundleFile(dir, BUNDLE_FILES.tokenizer);
  return {
    dir,
    manifest: manifest as TransformerBundleManifest,
    model: await readBundleFile(dir, BUNDLE_FILES.model),
    tokenizerJson: parseJson(tokenizerBytes, join(dir, BUNDLE_FILES.tokenizer)) as object,
    tokenizerBytes,
  };
}
