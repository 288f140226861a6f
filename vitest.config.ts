import { defineConfig } from 'vitest/config';

// Node-side tests: the packager, the bundle format and the worker's plain-TypeScript pipeline.
// Tests that must run inside workerd live under worker/test/ and use vitest.workers.config.ts.
export default defineConfig({
  test: {
    include: ['model-packager/**/*.test.ts', 'bundle-format/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    pool: 'forks',
  },
});
