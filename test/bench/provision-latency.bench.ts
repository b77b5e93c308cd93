/** Provisioning under Azure's latency profile, time-compressed (provisionBench.ts, mode `profile`). */
import { runProvisionBench } from './provisionBench.js';
import type { BenchOptions, BenchSize } from './runner.js';

export const timeLimitMs = (size: BenchSize) => (size === 'smoke' ? 300_000 : 1_800_000);

export const run = (options: BenchOptions) => runProvisionBench('profile', options);
