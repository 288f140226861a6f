/**
 * A tenant switching model without a code deploy, end to end: `edge-embed upload-bundle --local` puts the MiniLM-sized
 * fixture bundle into wrangler's local KV, and `wrangler dev --var BUNDLE_HASH:<its contentHash>` serves that bundle
 * (its model name, dimensions and hash in /info, real vectors) instead of the compiled-in default.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { needs } from '../support/requirements.js';
import { devFetch, startWranglerDev, type WranglerDev } from './wrangler-dev.js';

const root = join(import.meta.dirname, '../..');
const fixture = join(root, 'bundles/minilm-fixture');

const built = existsSync(join(fixture, 'manifest.json')) && existsSync(join(root, 'bundles/default/manifest.json'));

describe.skipIf(needs(built, 'bundles/minilm-fixture and bundles/default (npm run build)'))(
  'a bundle uploaded to KV, served by BUNDLE_HASH',
  () => {
    let dev: WranglerDev | undefined;
    let persist: string | undefined;
    afterAll(async () => {
      await dev?.stop();
      if (persist !== undefined) await rm(persist, { recursive: true, force: true });
    });

    it('serves the uploaded bundle in place of the compiled-in one', async () => {
      persist = await mkdtemp(join(tmpdir(), 'edge-embed-kv-bundle-'));
      const manifest = JSON.parse(await readFile(join(fixture, 'manifest.json'), 'utf8')) as {
        contentHash: string;
        modelName: string;
        dimensions: number;
      };
      await promisify(execFile)(
        process.execPath,
        [
          join(root, 'bin/edge-embed.mjs'),
          'upload-bundle',
          fixture,
          '--binding',
          'BUNDLE_STORE',
          '--local',
          '--persist-to',
          persist,
        ],
        { cwd: root },
      );
      dev = await startWranglerDev({ persistTo: persist, args: ['--var', `BUNDLE_HASH:${manifest.contentHash}`] });

      const response = await devFetch(`${dev.url}/v1/embeddings`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ input: ['a tenant switched model', 'without a deploy'] }),
      });
      expect(response.status).toBe(200);
      const body = (await response.json()) as { model: string; data: Array<{ embedding: number[] }> };
      expect(body.model).toBe(manifest.modelName);
      expect(body.data.map((item) => item.embedding.length)).toEqual([manifest.dimensions, manifest.dimensions]);
      const info = (await (await devFetch(`${dev.url}/info`)).json()) as { bundle_hash: string; loaded: boolean };
      expect(info).toMatchObject({ bundle_hash: manifest.contentHash, loaded: true });
    });
  },
);
