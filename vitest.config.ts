import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The real-OpenClaw tier has its own config (vitest.openclaw.config.ts, `npm run test:openclaw`).
    exclude: ['test/openclaw-real/**', 'node_modules/**'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Tests start their own Azurite, simulator and local host on free loopback ports.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
