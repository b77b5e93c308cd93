/** Provisioning with Azure's latencies switched off (provisionBench.ts, mode `instant`). */
import { runProvisionBench } from './provisionBench.js';
import type { BenchOptions, BenchSize } from './runner.js';

export const timeLimitMs = (size: BenchSize) => (size === 'smoke' ? 300_000 : 1_800_000);

export const run = (options: BenchOptions) => runProvisionBench('instant', options);
