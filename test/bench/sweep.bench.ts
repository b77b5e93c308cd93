/** The rotation sweep with Azure's latencies switched off (sweepBench.ts, mode `instant`). */
import { runSweepBench } from './sweepBench.js';
import type { BenchOptions, BenchSize } from './runner.js';

export const timeLimitMs = (size: BenchSize) => (size === 'smoke' ? 90_000 : 1_800_000);

export const run = (options: BenchOptions) => runSweepBench('instant', options);
