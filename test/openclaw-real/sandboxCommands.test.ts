import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../cli/main.js';

/**
 * `npm run sandbox -- --real-openclaw` as a person uses it: start it, provision a slug with the
 * printed CLI command, then run the printed curl commands exactly as printed: the running real
 * gateway, its /readyz through the simulator, a device asking to pair, and /devices in the chat.
 */
const dataDir = mkdtempSync(join(tmpdir(), 'claw-sandbox-real-'));
let child: ChildProcess | undefined;

afterAll(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGINT');
    await new Promise((resolve) => child!.once('exit', resolve));
  }
  rmSync(dataDir, { recursive: true, force: true });
});

describe('npm run sandbox -- --real-openclaw', () => {
  it('provisions with a real gateway and every printed real-OpenClaw command works as printed', async () => {
    child = spawn(
      process.execPath,
      ['--import', 'tsx', 'sandbox/main.ts', '--port', '0', '--data-dir', dataDir, '--real-openclaw'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const started = Date.now();
    while (!/export CLAW_BROKER_URL=(\S+) CLAW_BROKER_KEY=(\S+)/.test(output)) {
      if (child.exitCode !== null) throw new Error(`sandbox exited early:\n${output}`);
      if (Date.now() - started > 120_000) throw new Error(`sandbox did not come up:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const [, url, key] = /export CLAW_BROKER_URL=(\S+) CLAW_BROKER_KEY=(\S+)/.exec(output)!;
    expect(output).toContain('The real OpenClaw 2026.9.6 runs for the slug being provisioned');

    const lines: string[] = [];
    const code = await runCli(['request', 'provision', 'acme', '--param', 'channels=[]', '--wait'], {
      out: (text) => lines.push(text),
      err: (text) => lines.push(text),
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.min(ms, 1000))),
      env: { CLAW_BROKER_URL: url!, CLAW_BROKER_KEY: key! },
    });
    expect(lines.join('\n')).toMatch(/succeeded: acme provisioned/);
    expect(code).toBe(0);

    const section = output.slice(output.indexOf('The real OpenClaw'), output.indexOf('Ctrl-C stops'));
    const commandOf = (line: string) => line.replace(/\s{2,}#.*$/, '').trim();
    const printed = section
      .split('\n')
      .filter((line) => line.startsWith('  curl '))
      .map(commandOf);
    const messages = commandOf(/^ {2}curl .*# messages and their buttons$/m.exec(output)![0]);
    expect(printed).toHaveLength(4);
    const run = (command: string) => execFileSync('bash', ['-c', command], { encoding: 'utf8' });
    const [listing, readyz, pair, devices] = printed;
    expect(JSON.parse(run(listing!))).toMatchObject({
      gateways: [{ app: 'ca-acme', version: '2026.9.6', ready: true, exited: false }],
    });
    expect(JSON.parse(run(readyz!))).toEqual({ ready: true });
    expect(JSON.parse(run(pair!))).toMatchObject({ app: 'ca-acme', devices: 1 });
    // The device connects in a few seconds; /devices then answers in the chat with its card.
    let chat = '';
    for (
      let attempt = 0;
      attempt < 60 && !chat.includes('1 pending pairing request(s) for acme');
      attempt++
    ) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      expect(JSON.parse(run(devices!))).toMatchObject({ webhookStatus: 200 });
      chat = run(messages);
    }
    expect(chat).toContain('1 pending pairing request(s) for acme');
    expect(chat).toContain('Pairing request on acme');
  });
});
