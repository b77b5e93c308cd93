/**
 * Runs benchmark modules, each in its own child process, one after another.
 *
 * Why a process each: the local host's function registrations, the broker's configuration and its
 * ARM pacers are per process, so a second module's world in the same process is not served (the
 * sweep module, run after the provision module, waited out its deadline with nothing enqueued).
 * A child that fails, or outlives the time limit its module declares, is reported as failed (and
 * its process group killed, Azurite with it); the next module still runs.
 *
 * Protocol: the child (child.ts) prints one line `BENCH_LIMIT <ms>` once its module is loaded, and
 * one line `BENCH_RESULTS <json>` when it has run; anything else it prints passes through.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

export type BenchSize = 'full' | 'smoke';

export interface BenchOptions {
  /** `smoke`: a small fleet that only proves the module still works (CI); `full`: the figures. */
  size: BenchSize;
}

export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  /** The figure the value is compared with (a lower bound, a baseline run, a target). */
  baseline?: { name: string; value: number };
  /** Ratio target, for example 1.1 for "wall time over critical path at most 1.1". */
  target?: number;
}

/** What a bench module exports. */
export interface BenchModule {
  run(options: BenchOptions): Promise<BenchResult[]>;
  /** How long the module may take at a size before it is reported as failed (ms). */
  timeLimitMs(size: BenchSize): number;
}

export interface ModuleOutcome {
  name: string;
  status: 'passed' | 'failed' | 'timed out';
  results: BenchResult[];
  seconds: number;
  /** Why it failed, when it did. */
  reason?: string;
}

export interface RunModulesOptions extends BenchOptions {
  /** How long a child may take to load its module and declare its limit (default 120 s). */
  loadLimitMs?: number;
  /** Where the children's own output goes (default: this process's stdout / stderr). */
  write?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Called as each module starts. */
  onStart?: (name: string) => void;
}

const RESULTS = 'BENCH_RESULTS ';
const LIMIT = 'BENCH_LIMIT ';
const childScript = join(dirname(fileURLToPath(import.meta.url)), 'child.ts');

/** Runs each module file in its own process, in order; resolves with every outcome. */
export async function runModules(files: string[], options: RunModulesOptions): Promise<ModuleOutcome[]> {
  const outcomes: ModuleOutcome[] = [];
  for (const file of files) outcomes.push(await runModule(file, options));
  return outcomes;
}

export function moduleName(file: string): string {
  return file.replace(/^.*\//, '').replace(/\.bench\.ts$/, '');
}

function runModule(file: string, options: RunModulesOptions): Promise<ModuleOutcome> {
  const write =
    options.write ?? ((line: string, stream: 'stdout' | 'stderr') => process[stream].write(`${line}\n`));
  const name = moduleName(file);
  options.onStart?.(name);
  const started = performance.now();
  // tsx's loader, as `npm run bench` runs this process; `detached` gives the child its own process
  // group, so a timed-out module is killed with whatever it started (Azurite).
  const child = spawn(process.execPath, ['--import', 'tsx', childScript, file, options.size], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
    env: process.env,
  });
  let results: BenchResult[] | undefined;
  let timedOut: string | undefined;
  const killGroup = () => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  const arm = (ms: number, what: string) =>
    setTimeout(() => {
      timedOut = `${what} (${Math.round(ms / 1000)} s)`;
      killGroup();
    }, ms);
  let timer = arm(options.loadLimitMs ?? 120_000, 'did not load within its load limit');
  createInterface({ input: child.stdout }).on('line', (line) => {
    if (line.startsWith(LIMIT)) {
      clearTimeout(timer);
      const limit = Number(line.slice(LIMIT.length));
      timer = arm(Math.max(0, limit - (performance.now() - started)), 'exceeded its time limit');
    } else if (line.startsWith(RESULTS)) {
      results = JSON.parse(line.slice(RESULTS.length)) as BenchResult[];
    } else write(line, 'stdout');
  });
  createInterface({ input: child.stderr }).on('line', (line) => write(line, 'stderr'));
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      // The module's own children (Azurite) must not outlive it.
      killGroup();
      const seconds = (performance.now() - started) / 1000;
      if (timedOut) resolve({ name, status: 'timed out', results: results ?? [], seconds, reason: timedOut });
      else if (code === 0 && results) resolve({ name, status: 'passed', results, seconds });
      else
        resolve({
          name,
          status: 'failed',
          results: results ?? [],
          seconds,
          reason: signal ? `killed by ${signal}` : `exited with code ${String(code)}`,
        });
    });
  });
}

/** One figure as a line: value, unit, and its baseline and ratio when it has one. */
export function formatResult(result: BenchResult): string {
  let line = `${result.name}: ${formatNumber(result.value)} ${result.unit}`;
  if (result.baseline) {
    const ratio = result.value / result.baseline.value;
    line += ` | ${result.baseline.name}: ${formatNumber(result.baseline.value)} | ratio ${ratio.toFixed(2)}`;
    if (result.target !== undefined)
      line += ` (target <= ${result.target}) ${ratio <= result.target ? 'ok' : 'MISSED'}`;
  }
  return line;
}

export function formatNumber(value: number): string {
  return Math.abs(value) >= 100 ? value.toFixed(0) : value.toPrecision(3);
}

export const childProtocol = { RESULTS, LIMIT };
