import { readFileSync } from 'node:fs';
import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { parse } from 'smol-toml';
import { defineConfig } from 'vitest/config';

// Tests that run inside workerd (the real Workers runtime) with the bindings of wrangler.toml. Must run from the
// repository root (the folder holding node_modules), or the ORT wasm import is not found. The first ORT inference of a
// test file takes several seconds: hence the long timeouts. The main module (`exports.default` of cloudflare:workers)
// is wrangler.toml's main, the entry a deploy uploads and `npm start` serves (worker/test/default-entry.test.ts); the
// tests of the other entries, the full worker/src/index.ts among them, import them.
const { main } = parse(readFileSync('./wrangler.toml', 'utf8')) as { main: string };

export default defineConfig({
  plugins: [
    cloudflareTest({
      main: `./${main}`,
      wrangler: { configPath: './wrangler.toml' },
      // Miniflare's Analytics Engine binding (its local simulator accepts data points and keeps none); wrangler.toml
      // only shows it commented out, so a deployment writes nowhere until an operator binds a dataset.
      miniflare: { analyticsEngineDatasets: { ANALYTICS: { dataset: 'edge_embed_test' } } },
    }),
  ],
  test: {
    include: ['worker/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // The worker's one-line JSON request logs drown the test output; errors still show.
    onConsoleLog: (log) => !log.includes('"event":"request"'),
  },
});
