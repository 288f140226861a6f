/**
 * `edge-embed upload-bundle <bundle-dir> --binding <name> [--env <tenant>] [--local|--remote]`: puts a bundle into a
 * Workers KV namespace, content-addressed and chunked under KV's 25 MiB value limit (layout in
 * bundle-format/kv-layout.ts), by running `wrangler kv key put` once per value: the chunks first, the index last, so
 * a worker never sees an index whose chunks are missing. So if the bundle's index is already in the namespace, nothing
 * is written (unless --force); otherwise chunks already there (listed with their own sha256 and size as metadata, as
 * this command writes them) are skipped, so an interrupted upload resumes where it stopped. A worker serves it once its BUNDLE_HASH var is the bundle's contentHash (printed at the
 * end), so a tenant switches model without a code deploy.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { parseEncoderPlan } from '../../../bundle-format/encoder-plan.js';
import {
  chunkKey,
  DEFAULT_CHUNK_BYTES,
  KV_VALUE_LIMIT_BYTES,
  kvBundleFiles,
  planKvBundle,
} from '../../../bundle-format/kv-layout.js';
import { type BundleManifest, parseAnyBundleManifest } from '../../../bundle-format/manifest.js';
import { PackError } from '../errors.js';
import { positiveInteger } from './options.js';

interface UploadBundleOptions {
  binding: string;
  env?: string;
  local?: boolean;
  remote?: boolean;
  persistTo?: string;
  config?: string;
  chunkBytes: number;
  dryRun?: boolean;
  force?: boolean;
  json?: boolean;
}

export interface UploadPlan {
  contentHash: string;
  indexKey: string;
  values: Array<{ key: string; bytes: number }>;
  /** The index was already in the namespace, so nothing was written (content-addressed: same hash, same bundle). */
  alreadyPresent: boolean;
  /** Chunks left alone because the namespace already holds them, with their hash and size (an earlier, interrupted upload). */
  skipped: string[];
}

/** Runs wrangler with these arguments and resolves to its stdout; injectable so a test can interrupt an upload. */
export type WranglerRunner = (args: string[]) => Promise<string>;

/** What a chunk is stored with: its sha256 and size, which `wrangler kv key list` returns without reading the value. */
interface ChunkMetadata {
  sha256: string;
  bytes: number;
}

async function readBundle(dir: string) {
  const read = async (name: string) => {
    try {
      return new Uint8Array(await readFile(join(dir, name)));
    } catch {
      throw new PackError(
        'missing-input',
        `${dir} is not a bundle: ${name} is missing (make one with \`edge-embed pack\`)`,
      );
    }
  };
  const manifestBytes = await read('manifest.json');
  let manifest: BundleManifest;
  try {
    manifest = parseAnyBundleManifest(JSON.parse(new TextDecoder().decode(manifestBytes)));
  } catch (error) {
    throw new PackError(
      'bad-input',
      `${join(dir, 'manifest.json')} is not a valid bundle manifest: ${(error as Error).message}`,
    );
  }
  const files = Object.fromEntries(
    await Promise.all(kvBundleFiles(manifest).map(async (name) => [name, await read(name)] as const)),
  );
  return { manifest, files };
}

/**
 * Refuses a bundle whose encoder plan a worker would refuse (not JSON, malformed, of another planVersion, tensors past
 * plan.bin), so a bad plan is found at upload rather than as a 503 after the deploy.
 */
function checkEncoderPlan(dir: string, files: Record<string, Uint8Array>): void {
  const plan = files['plan.json'];
  const weights = files['plan.bin'];
  if (plan === undefined || weights === undefined) return;
  try {
    parseEncoderPlan(JSON.parse(new TextDecoder().decode(plan)), weights.byteLength);
  } catch (error) {
    throw new PackError(
      'bad-input',
      `${join(dir, 'plan.json')}: the encoder plan is refused: ${(error as Error).message}`,
    );
  }
}

/** Runs wrangler; resolves to its stdout. */
export function runWrangler(args: string[]): Promise<string> {
  const wrangler = createRequire(import.meta.url).resolve('wrangler/bin/wrangler.js');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [wrangler, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false' },
    });
    let stdout = '';
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0
        ? resolve(stdout)
        : reject(
            new PackError(
              'bad-option',
              `wrangler ${args.slice(0, 4).join(' ')} … failed (exit ${code})`,
              output.trim().split('\n').slice(-8),
            ),
          ),
    );
  });
}

/** The keys under `prefix` with their metadata (`wrangler kv key list --prefix`, a JSON array of {name, metadata}). */
async function kvList(
  prefix: string,
  common: string[],
  wrangler: WranglerRunner,
): Promise<Array<{ name?: unknown; metadata?: unknown }>> {
  const stdout = await wrangler(['kv', 'key', 'list', '--prefix', prefix, ...common]);
  let listed: unknown;
  try {
    listed = JSON.parse(stdout.slice(stdout.indexOf('[')));
  } catch {
    throw new PackError(
      'bad-option',
      `wrangler kv key list printed no JSON list of keys`,
      stdout.trim().split('\n').slice(-8),
    );
  }
  return Array.isArray(listed) ? (listed as Array<{ name?: unknown; metadata?: unknown }>) : [];
}

/**
 * The chunk keys already in the namespace whose metadata names the sha256 and size the key stands for. A chunk
 * without that metadata (written before uploads recorded it) is written again rather than trusted.
 */
async function chunksPresent(common: string[], wrangler: WranglerRunner): Promise<Map<string, ChunkMetadata>> {
  const present = new Map<string, ChunkMetadata>();
  for (const { name, metadata } of await kvList(chunkKey(''), common, wrangler)) {
    const meta = metadata as Partial<ChunkMetadata> | undefined;
    if (typeof name === 'string' && typeof meta?.sha256 === 'string' && name === chunkKey(meta.sha256))
      present.set(name, { sha256: meta.sha256, bytes: Number(meta.bytes) });
  }
  return present;
}

/**
 * Uploads the bundle in `dir`; returns what was (or, with dryRun, would be) written.
 * @example await uploadBundle('bundles/default', { binding: 'BUNDLE_STORE', local: true, chunkBytes: 24 << 20 })
 */
export async function uploadBundle(
  dir: string,
  opts: UploadBundleOptions,
  log: (line: string) => void = () => {},
  wrangler: WranglerRunner = runWrangler,
): Promise<UploadPlan> {
  if (opts.local && opts.remote) throw new PackError('bad-option', 'give at most one of --local and --remote');
  if (opts.persistTo !== undefined && opts.remote)
    throw new PackError('bad-option', '--persist-to only applies to --local');
  const { manifest, files } = await readBundle(dir);
  let planned: Awaited<ReturnType<typeof planKvBundle>>;
  try {
    planned = await planKvBundle(manifest, files, opts.chunkBytes);
  } catch (error) {
    throw new PackError('bad-input', `${dir}: ${(error as Error).message}`);
  }
  checkEncoderPlan(dir, files);
  const plan: UploadPlan = {
    contentHash: manifest.contentHash,
    indexKey: planned.entries[planned.entries.length - 1].key,
    values: planned.entries.map((entry) => ({ key: entry.key, bytes: entry.value.byteLength })),
    alreadyPresent: false,
    skipped: [],
  };
  if (opts.dryRun) return plan;

  const common = ['--binding', opts.binding];
  if (opts.env !== undefined) common.push('--env', opts.env);
  if (opts.config !== undefined) common.push('--config', opts.config);
  common.push(opts.remote ? '--remote' : '--local');
  if (opts.persistTo !== undefined) common.push('--persist-to', opts.persistTo);
  // The index is written last, so an index in KV means every chunk it names is there too.
  const indexListed = opts.force ? [] : await kvList(plan.indexKey, common, wrangler);
  if (indexListed.some((entry) => entry.name === plan.indexKey)) {
    log(`  ${plan.indexKey} is already in ${opts.binding}: nothing to write`);
    return { ...plan, alreadyPresent: true };
  }
  // Resuming an interrupted upload: chunks are content-addressed, so one listed with its own hash and size is done.
  const present = opts.force ? new Map<string, ChunkMetadata>() : await chunksPresent(common, wrangler);

  const scratch = await mkdtemp(join(tmpdir(), 'edge-embed-upload-'));
  try {
    for (const [i, entry] of planned.entries.entries()) {
      const isChunk = entry.key !== plan.indexKey;
      if (isChunk && present.get(entry.key)?.bytes === entry.value.byteLength) {
        log(`  skip ${entry.key} (already there)`);
        plan.skipped.push(entry.key);
        continue;
      }
      const file = join(scratch, `value-${i}`);
      await writeFile(file, entry.value);
      log(`  put ${entry.key} (${entry.value.byteLength} bytes)`);
      const metadata: ChunkMetadata | undefined = isChunk
        ? { sha256: entry.key.slice(chunkKey('').length), bytes: entry.value.byteLength }
        : undefined;
      const withMetadata = metadata === undefined ? [] : ['--metadata', JSON.stringify(metadata)];
      await wrangler(['kv', 'key', 'put', entry.key, '--path', file, ...withMetadata, ...common]);
      await rm(file);
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  return plan;
}

/** Adds the `upload-bundle` subcommand to the edge-embed program. */
export function registerUploadBundleCommand(program: Command): void {
  program
    .command('upload-bundle')
    .description(
      'put a bundle into a Workers KV namespace (content-addressed chunks + index) so a worker serves it by BUNDLE_HASH',
    )
    .argument(
      '<bundle-dir>',
      'a packed bundle (manifest.json, model.onnx, tokenizer.json, and plan.json + plan.bin if listed)',
    )
    .requiredOption('--binding <name>', 'the KV binding in wrangler.toml, e.g. BUNDLE_STORE')
    .option('--env <tenant>', 'the wrangler environment (tenant) whose namespace to use')
    .option('--local', "write to wrangler's local KV (wrangler dev); the default")
    .option('--remote', 'write to the KV namespace on Cloudflare')
    .option('--persist-to <dir>', 'local persistence folder (as given to wrangler dev --persist-to)')
    .option('--config <path>', 'wrangler configuration file')
    .option(
      '--chunk-bytes <n>',
      'bytes per chunk (at most the 25 MiB KV value limit)',
      positiveInteger('--chunk-bytes', KV_VALUE_LIMIT_BYTES),
      DEFAULT_CHUNK_BYTES,
    )
    .option('--dry-run', 'print the keys and sizes without writing')
    .option('--force', 'write every value even if the bundle or some of its chunks are already in the namespace')
    .option('--json', 'print the result as JSON')
    .action(async (dir: string, opts: UploadBundleOptions) => {
      const plan = await uploadBundle(dir, opts, opts.json ? () => {} : (line) => console.log(line));
      if (opts.json) {
        console.log(JSON.stringify(plan, null, 2));
        return;
      }
      const total = plan.values
        .filter((value) => !plan.skipped.includes(value.key))
        .reduce((sum, value) => sum + value.bytes, 0);
      if (plan.alreadyPresent) {
        console.log(
          `bundle ${plan.contentHash} is already in ${opts.binding}${opts.env ? ` (env ${opts.env})` : ''}: nothing written (--force rewrites it)`,
        );
        console.log(`serve it with the var BUNDLE_HASH = "${plan.contentHash}"`);
        return;
      }
      const skipped = plan.skipped.length === 0 ? '' : ` (skipped ${plan.skipped.length} chunks already there)`;
      console.log(
        `${opts.dryRun ? 'would write' : 'wrote'} ${plan.values.length - plan.skipped.length} values${skipped} (${total} bytes) to ${opts.binding}${opts.env ? ` (env ${opts.env})` : ''}` +
          `\nserve it with the var BUNDLE_HASH = "${plan.contentHash}"`,
      );
    });
}
