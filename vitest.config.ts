import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Tests start their own Azurite, simulator and local host on free loopback ports.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
