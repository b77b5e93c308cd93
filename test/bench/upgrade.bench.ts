/** A fleet upgrade wave through three rings under ARM's throttle and Azure's latencies (upgradeBench.ts). */
import { runUpgradeBench } from './upgradeBench.js';
import type { BenchOptions, BenchSize } from './runner.js';

export const timeLimitMs = (size: BenchSize) => (size === 'smoke' ? 300_000 : 3_600_000);

export const run = (options: BenchOptions) => runUpgradeBench(options);
