import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * Every command `npm run sandbox` prints, typed as printed: the lines of "In another terminal" and
 * of the admin chat's block, run in one shell in the repository (where `npx claw-broker` resolves
 * to this checkout), in order. Lines with a placeholder (`<requestId>`, `<messageId>`) need a value
 * from an earlier answer; scenario/sandbox.test.ts runs those with the value filled in.
 */
const dataDir = mkdtempSync(join(tmpdir(), 'claw-sandbox-printed-'));
let child: ChildProcess | undefined;

afterAll(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGINT');
    await new Promise((resolve) => child!.once('exit', resolve));
  }
  rmSync(dataDir, { recursive: true, force: true });
  rmSync('bot-token', { force: true });
});

function printedCommands(output: string, from: string, to: string): string[] {
  const section = output.slice(output.indexOf(from) + from.length, output.indexOf(to));
  return section
    .split('\n')
    .filter((line) => /^ {2}\S/.test(line))
    .map((line) => line.replace(/\s{2,}#.*$/, '').trim())
    .filter((line) => !/<[a-zA-Z]+>/.test(line));
}

describe('what npm run sandbox prints', () => {
  it('runs as printed, line by line in one shell', async () => {
    child = spawn(
      process.execPath,
      ['--import', 'tsx', 'sandbox/main.ts', '--port', '0', '--data-dir', dataDir],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const started = Date.now();
    while (!output.includes('Ctrl-C stops the sandbox')) {
      if (child.exitCode !== null) throw new Error(`sandbox exited early:\n${output}`);
      if (Date.now() - started > 120_000) throw new Error(`sandbox did not come up:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const terminal = printedCommands(output, 'In another terminal:', 'Enqueue a request');
    const chat = printedCommands(output, 'and their hands:', 'Ctrl-C stops');
    expect(terminal[0]).toMatch(/^export CLAW_BROKER_URL=/);
    expect(terminal).toContain("npx claw-broker request provision acme --param channels='[]' --wait");
    expect(terminal).toContain(
      'npx claw-broker request provision zeta --secret telegramBotToken=@bot-token --wait',
    );
    expect(chat).toContain('npx claw-broker request teardown acme');

    const script = ['set -e', ...terminal, ...chat].join('\n');
    const result = await new Promise<{ code: number; out: string }>((resolve) => {
      execFile(
        'bash',
        ['-c', script],
        { timeout: 600_000, maxBuffer: 16 * 1024 * 1024 },
        (error, stdout, stderr) =>
          resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` }),
      );
    });
    expect(result.out).toMatch(/succeeded: acme provisioned .* ready at https:\/\//);
    expect(result.out).toMatch(/succeeded: zeta provisioned .* ready at https:\/\//);
    expect(result.out).toMatch(/acme\s+ready/);
    // The teardown waits for the admin chat, whose messages and /envs answer the chat lines read.
    expect(result.out).toMatch(/^[0-9a-f-]{36} queued\nstatus: http:\/\/\S+\/api\/requests\/[0-9a-f-]{36}$/m);
    expect(result.out).toContain('"chatId":-1001');
    expect(result.out).toContain('"webhookStatus":200');
    expect(result.code, result.out).toBe(0);
  }, 600_000);
});
