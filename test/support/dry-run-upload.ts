/**
 * What `wrangler deploy --dry-run` would upload for an entry, for the tests that check which files a tenant's build
 * carries (ORT or not, model.onnx or not).
 */
import { spawnSync } from 'node:child_process';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const root = join(import.meta.dirname, '../..');
const wrangler = createRequire(import.meta.url).resolve('wrangler/bin/wrangler.js');

/**
 * Runs `wrangler deploy --dry-run <args> --outdir <outdir>` in the repository root; returns the uploaded file names
 * (content-hash prefix dropped, sorted) and the text of its JavaScript.
 * @example await dryRunUpload(join(tmp, 'acme'), ['--env', 'acme'])
 */
export async function dryRunUpload(outdir: string, args: string[]): Promise<{ files: string[]; script: string }> {
  const result = spawnSync(process.execPath, [wrangler, 'deploy', '--dry-run', ...args, '--outdir', outdir], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false' },
  });
  if (result.status !== 0) throw new Error(`wrangler exited ${result.status}: ${result.stderr}`);
  const names = (await readdir(outdir)).filter((file) => !file.endsWith('.map') && file !== 'README.md');
  const scripts = names.filter((file) => file.endsWith('.js'));
  const script = (await Promise.all(scripts.map((file) => readFile(join(outdir, file), 'utf8')))).join('\n');
  return { files: names.map((file) => file.replace(/^[0-9a-f]{40}-/, '')).sort(), script };
}

/** Whether the JavaScript bundles onnxruntime-web: esbuild marks each bundled module with a `// <path>` line. */
export const bundlesOrt = (script: string) => /^\/\/ node_modules\/onnxruntime-web\//m.test(script);

/**
 * What `wrangler deploy --dry-run` would upload for `main` alone (no tenants, no bindings): a config written beside
 * wrangler.toml, so `main` and the rules resolve as there, and removed afterwards.
 * @example await dryRunEntry(join(tmp, 'plan'), 'worker/src/index-plan.ts')
 */
export async function dryRunEntry(outdir: string, main: string): Promise<{ files: string[]; script: string }> {
  const config = join(root, `.upload-test-${process.pid}-${main.replace(/\W/g, '_')}.toml`);
  await writeFile(
    config,
    `name = "edge-embed-upload-test"\nmain = "${main}"\ncompatibility_date = "2026-04-01"\n` +
      'rules = [{ type = "Data", globs = ["**/*.onnx"], fallthrough = true }]\n',
  );
  try {
    return await dryRunUpload(outdir, ['--config', config]);
  } finally {
    await rm(config, { force: true });
  }
}
