import { defineConfig } from 'vitest/config';

/**
 * The real-OpenClaw tier (`npm run test:openclaw`): the pinned real releases, installed by `npm run
 * openclaw:install`, run on loopback with what the broker renders. One file at a time: a real
 * gateway takes ~10-40 s to get ready and ~0.8 GB of memory, and the channel listeners have fixed ports.
 */
export default defineConfig({
  test: {
    include: ['test/openclaw-real/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 240_000,
    hookTimeout: 240_000,
    fileParallelism: false,
    maxWorkers: 1,
    // CLI runs within a file (config validate, security audit) wait mostly on I/O: a few at once.
    maxConcurrency: 4,
  },
});
