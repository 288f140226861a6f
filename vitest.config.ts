import { defineConfig } from 'vitest/config';

// Node-side tests: the packager, the bundle format and runtime, the tenant script and the end-to-end runs against `wrangler dev`
// (test/). Every test of the worker's own code, its pipeline included, lives under worker/test/ and runs inside
// workerd with vitest.workers.config.ts.
export default defineConfig({
  test: {
    include: [
      'model-packager/**/*.test.ts',
      'bundle-format/**/*.test.ts',
      'bundle-runtime/**/*.test.ts',
      'test/**/*.test.ts',
    ],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    pool: 'forks',
  },
});
