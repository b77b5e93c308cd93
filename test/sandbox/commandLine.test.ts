import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

/** `npm run sandbox -- --help`, typed as the README shows it, and a mistyped option. */
describe('the sandbox command line', () => {
  it('prints its options for --help and exits 0', async () => {
    const { stdout } = await run('npm', ['run', '--silent', 'sandbox', '--', '--help']);
    expect(stdout).toMatch(/^usage: npm run sandbox/m);
    for (const option of [
      '--reset',
      '--port',
      '--data-dir',
      '--propagation',
      '--azurite-default-ports',
      '--real-openclaw',
      '--help',
    ])
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

describe('a sandbox protects its data', () => {
  it('refuses to start, and above all to --reset, a data directory another sandbox holds, touching nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'claw-sandbox-'));
    const dataDir = join(dir, 'state');
    mkdirSync(dataDir);
    writeFileSync(join(dataDir, 'keep-me'), 'state of the running sandbox');
    // This test process plays the running sandbox.
    writeFileSync(`${dataDir}.lock`, JSON.stringify({ pid: process.pid, port: 7999 }));
    const failed = await run('npm', [
      'run',
      '--silent',
      'sandbox',
      '--',
      '--reset',
      '--data-dir',
      dataDir,
      '--port',
      '0',
    ]).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stderr).toContain(`another sandbox (pid ${process.pid}, port 7999) is using ${dataDir}`);
    expect(failed?.stderr).not.toMatch(/\n\s+at /);
    expect(readFileSync(join(dataDir, 'keep-me'), 'utf8')).toBe('state of the running sandbox');
  });

  it('refuses a busy port in one line before deleting or starting anything', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'claw-sandbox-'));
    const dataDir = join(dir, 'state');
    mkdirSync(dataDir);
    writeFileSync(join(dataDir, 'keep-me'), 'x');
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    try {
      const failed = await run('npm', [
        'run',
        '--silent',
        'sandbox',
        '--',
        '--reset',
        '--data-dir',
        dataDir,
        '--port',
        String(port),
      ]).then(
        () => undefined,
        (error: { code: number; stderr: string }) => error,
      );
      expect(failed?.code).toBe(1);
      expect(failed?.stderr.trim()).toBe(
        `claw-broker sandbox: port ${port} is already in use (another sandbox, func start, or another program); stop it or pass --port <another>. Nothing was changed.`,
      );
      expect(existsSync(join(dataDir, 'keep-me'))).toBe(true);
      // The refused start released its lock: the directory is free again.
      expect(existsSync(`${dataDir}.lock`)).toBe(false);
    } finally {
      server.close();
    }
  });
});
