import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

/** `npm run sandbox -- --help`, typed as the README shows it, and a mistyped option. */
describe('the sandbox command line', () => {
  it('prints its options for --help and exits 0', async () => {
    const { stdout } = await run('npm', ['run', '--silent', 'sandbox', '--', '--help']);
    expect(stdout).toMatch(/^usage: npm run sandbox/m);
    for (const option of ['--reset', '--port', '--data-dir', '--propagation', '--help'])
      expect(stdout).toContain(option);
  });

  it('names an unknown option and exits 2 without a stack trace', async () => {
    const failed = await run('npm', ['run', '--silent', 'sandbox', '--', '--bogus']).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failed?.code).toBe(2);
    expect(failed?.stderr).toContain("Unknown option '--bogus'");
    expect(failed?.stderr).not.toMatch(/\n\s+at /);
  });

  it('refuses a port that is not a number', async () => {
    const failed = await run('npm', ['run', '--silent', 'sandbox', '--', '--port', 'eighty']).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failed?.code).toBe(2);
    expect(failed?.stderr).toContain('--port must be a whole number');
  });
});
