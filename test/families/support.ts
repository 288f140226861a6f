/** Helpers for the model-family tests: the fixture CLI, a bundle folder as the worker's BundleSource, JSON POSTs. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from 'commander';
import { vi } from 'vitest';
import { registerFixtureCommand } from '../../model-packager/src/commands/fixture.js';
import { nodeOrt } from '../../model-packager/src/runtime/ort-node.js';
import type { BundleSource } from '../../worker/src/bundle/source.js';
import { createApp } from '../../worker/src/http/app.js';

/** Runs `edge-embed fixture <args>` in-process, quietly. */
export async function fixtureCli(args: string[]): Promise<void> {
  const program = new Command('edge-embed').exitOverride();
  registerFixtureCommand(program);
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  try {
    await program.parseAsync(['fixture', ...args], { from: 'user' });
  } finally {
    log.mockRestore();
  }
}

function folderSource(dir: string): BundleSource {
  const json = async (name: string) => JSON.parse(await readFile(join(dir, name), 'utf8')) as object;
  return {
    manifest: () => json('manifest.json'),
    tokenizer: () => json('tokenizer.json'),
    model: async () => new Uint8Array(await readFile(join(dir, 'model.onnx'))),
  };
}

/** The worker's HTTP app in Node on a bundle folder; `post` sends a JSON body. */
export function workerOn(bundleDir: string): { post: (path: string, body: unknown) => Promise<Response> } {
  const app = createApp({ bundle: folderSource(bundleDir), ort: nodeOrt });
  return {
    post: async (path, body) =>
      app.request(path, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }),
  };
}
