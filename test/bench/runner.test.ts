import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { runModules } from './runner.js';

const fixture = (name: string) => join(import.meta.dirname, 'fixtures', `${name}.bench.ts`);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('bench runner', () => {
  it('runs each module in its own process: a failure and a timeout are reported, the others still run', async () => {
    const pidFile = join(mkdtempSync(join(tmpdir(), 'bench-runner-')), 'grandchild.pid');
    process.env['BENCH_FIXTURE_PID_FILE'] = pidFile;
    const lines: string[] = [];
    try {
      const outcomes = await runModules(
        [fixture('fails'), fixture('hangs'), fixture('passes'), fixture('passes')],
        { size: 'smoke', write: (line) => lines.push(line) },
      );
      expect(outcomes.map((outcome) => [outcome.name, outcome.status])).toEqual([
        ['fails', 'failed'],
        ['hangs', 'timed out'],
        ['passes', 'passed'],
        ['passes', 'passed'],
      ]);
      expect(outcomes[0]!.reason).toBe('exited with code 1');
      expect(outcomes[1]!.reason).toMatch(/exceeded its time limit/);
      expect(lines.join('\n')).toContain('fails: this module always fails');
      expect(lines).toContain('hangs: waiting forever');
      // The second run of `passes` does not see what the first (or `fails`) left in its process.
      for (const outcome of outcomes.slice(2))
        expect(outcome.results).toEqual([
          { name: 'passes at smoke', value: 42, unit: 'things' },
          { name: 'state leaked from another module', value: 0, unit: 'flag' },
        ]);
      // The timed-out module's own child process was killed with it.
      const grandchild = Number(readFileSync(pidFile, 'utf8'));
      await expect.poll(() => alive(grandchild), { timeout: 5_000 }).toBe(false);
    } finally {
      delete process.env['BENCH_FIXTURE_PID_FILE'];
    }
  });
});

/** `npm run bench` as the README shows it: a mistyped option or module name stops before running anything. */
describe('the bench command line', () => {
  const run = promisify(execFile);
  const failure = (args: string[]) =>
    run('npm', ['run', '--silent', 'bench', '--', ...args]).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );

  it('names an unknown option and exits 2', async () => {
    const failed = await failure(['--smok']);
    expect(failed?.code).toBe(2);
    expect(failed?.stderr).toContain(
      'unknown option --smok; usage: npm run bench -- [--smoke] [module name ...]',
    );
  });

  it('says when no module matches and exits 2', async () => {
    const failed = await failure(['--smoke', 'no-such-module']);
    expect(failed?.code).toBe(2);
    expect(failed?.stderr).toContain('no bench module matches no-such-module');
  });
});
