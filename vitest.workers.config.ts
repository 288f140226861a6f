import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';

// Tests that run inside workerd (the real Workers runtime) against the worker in worker/src/index.ts, with the
// bindings of wrangler.toml. Must run from the repository root (the folder holding node_modules), or the ORT wasm
// import is not found. The first ORT inference of a test file takes several seconds: hence the long timeouts.
export default defineConfig({
  plugins: [
    cloudflareTest({
      main: './worker/src/index.ts',
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
