/** The rotation sweep under Azure's latency profile (sweepBench.ts, mode `profile`). */
import { runSweepBench } from './sweepBench.js';
import type { BenchOptions, BenchSize } from './runner.js';

export const timeLimitMs = (size: BenchSize) => (size === 'smoke' ? 90_000 : 3_600_000);

export const run = (options: BenchOptions) => runSweepBench('profile', options);
