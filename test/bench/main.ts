/**
 * `npm run bench`: runs every benchmark module under test/bench/*.bench.ts, each in its own process
 * (runner.ts), one after another, and prints each figure with its baseline and ratio.
 *
 *   npm run bench                   every module, full size
 *   npm run bench -- sweep          the modules whose name contains "sweep"
 *   npm run bench -- --smoke        every module at its smoke size (CI: each must complete)
 *
 * Exits non-zero when a module failed or exceeded its time limit; the others still run.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { formatResult, runModules, type BenchSize } from './runner.js';

export type { BenchOptions, BenchResult, BenchSize } from './runner.js';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const size: BenchSize = args.includes('--smoke') || process.env['BENCH_SIZE'] === 'smoke' ? 'smoke' : 'full';
const unknown = args.filter((arg) => arg.startsWith('--') && arg !== '--smoke');
if (unknown.length > 0) {
  console.error(`unknown option ${unknown.join(', ')}; usage: npm run bench -- [--smoke] [module name ...]`);
  process.exit(2);
}
const only = args.filter((arg) => !arg.startsWith('--'));
const files = readdirSync(here)
  .filter((file) => file.endsWith('.bench.ts'))
  .filter((file) => only.length === 0 || only.some((name) => file.includes(name)))
  .sort()
  .map((file) => join(here, file));
if (files.length === 0) {
  console.error(`no bench module matches ${only.join(', ')}`);
  process.exit(2);
}

const outcomes = await runModules(files, {
  size,
  onStart: (name) => console.log(`\n## ${name} (${size}): running in its own process`),
});
console.log(`\n# Figures (${size})`);
for (const outcome of outcomes) {
  console.log(
    `\n## ${outcome.name}: ${outcome.status} in ${outcome.seconds.toFixed(0)} s${outcome.reason ? ` (${outcome.reason})` : ''}`,
  );
  for (const result of outcome.results) console.log(formatResult(result));
}
const failed = outcomes.filter((outcome) => outcome.status !== 'passed');
if (failed.length > 0)
  console.error(
    `\n${failed.length} of ${outcomes.length} bench modules failed: ${failed.map((o) => o.name).join(', ')}`,
  );
process.exitCode = failed.length > 0 ? 1 : 0;
