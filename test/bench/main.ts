/**
 * `npm run bench`: runs every benchmark module under test/bench/*.bench.ts in one process and
 * prints each figure with its baseline and ratio, so a change can be compared in one run.
 * A module exports `run(): Promise<BenchResult[]>`.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  /** The figure the value is compared with (a lower bound, a baseline run, a target). */
  baseline?: { name: string; value: number };
  /** Ratio target, for example 1.1 for "wall time over critical path at most 1.1". */
  target?: number;
}

const here = dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
const modules = readdirSync(here)
  .filter((file) => file.endsWith('.bench.ts'))
  .filter((file) => only.length === 0 || only.some((name) => file.includes(name)))
  .sort();

let failed = false;
for (const file of modules) {
  const mod = (await import(pathToFileURL(join(here, file)).href)) as { run(): Promise<BenchResult[]> };
  console.log(`\n## ${file.replace('.bench.ts', '')}`);
  try {
    for (const result of await mod.run()) {
      let line = `${result.name}: ${formatNumber(result.value)} ${result.unit}`;
      if (result.baseline) {
        const ratio = result.value / result.baseline.value;
        line += ` | ${result.baseline.name}: ${formatNumber(result.baseline.value)} | ratio ${ratio.toFixed(2)}`;
        if (result.target !== undefined)
          line += ` (target <= ${result.target}) ${ratio <= result.target ? 'ok' : 'MISSED'}`;
      }
      console.log(line);
    }
  } catch (error) {
    failed = true;
    console.error(`${file} failed:`, error);
  }
}
process.exitCode = failed ? 1 : 0;

function formatNumber(value: number): string {
  return Math.abs(value) >= 100 ? value.toFixed(0) : value.toPrecision(3);
}
