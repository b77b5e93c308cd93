/** The rotation sweep with Azure's latencies switched off (sweepBench.ts, mode `instant`). */
import { runSweepBench } from './sweepBench.js';
import type { BenchOptions, BenchSize } from './runner.js';

export const timeLimitMs = (size: BenchSize) => (size === 'smoke' ? 300_000 : 3_600_000);

export const run = (options: BenchOptions) => runSweepBench('instant', options);
