/** The rotation sweep under Azure's latency profile (sweepBench.ts, mode `profile`). */
import { runSweepBench } from './sweepBench.js';
import type { BenchOptions, BenchSize } from './runner.js';

export const timeLimitMs = (size: BenchSize) => (size === 'smoke' ? 300_000 : 5_400_000);

export const run = (options: BenchOptions) => runSweepBench('profile', options);
