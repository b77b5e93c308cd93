import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../cli/main.js';

/**
 * `npm run sandbox` as a person uses it: start it, follow the printed instructions with the CLI,
 * stop it with Ctrl-C, start it again over the same state.
 */
const dataDir = mkdtempSync(join(tmpdir(), 'claw-sandbox-'));
const children: ChildProcess[] = [];

afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

interface RunningSandbox {
  child: ChildProcess;
  output: () => string;
  url: string;
  key: string;
}

async function startSandbox(...args: string[]): Promise<RunningSandbox> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'sandbox/main.ts', '--port', '0', '--data-dir', dataDir, ...args],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.push(child);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exported = await new Promise<RegExpExecArray>((resolve, reject) => {
    const timer = setInterval(() => {
      const match = /export CLAW_BROKER_URL=(\S+) CLAW_BROKER_KEY=(\S+)/.exec(output);
      if (match) {
        clearInterval(timer);
        resolve(match);
      } else if (child.exitCode !== null) {
        clearInterval(timer);
        reject(new Error(`sandbox exited early:\n${output}`));
      }
    }, 50);
  });
  return { child, output: () => output, url: exported[1]!, key: exported[2]! };
}

async function cli(sandbox: RunningSandbox, ...args: string[]): Promise<{ code: number; out: string }> {
  const out: string[] = [];
  const code = await runCli(args, {
    out: (text) => out.push(text),
    err: (text) => out.push(text),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.min(ms, 100))),
    env: { CLAW_BROKER_URL: sandbox.url, CLAW_BROKER_KEY: sandbox.key },
  });
  return { code, out: out.join('\n') };
}

async function stop(sandbox: RunningSandbox): Promise<number | null> {
  sandbox.child.kill('SIGINT');
  return new Promise((resolve) => sandbox.child.once('exit', (code) => resolve(code)));
}

describe('npm run sandbox', () => {
  it('comes up with instructions that work, stops cleanly on Ctrl-C, and keeps its state across a restart', async () => {
    const first = await startSandbox('--reset');
    expect(first.output()).toContain('claw-broker sandbox is up');
    expect(first.output()).toContain("npx claw-broker request provision acme --param channels='[]' --wait");

    const submitted = await cli(first, '--json', 'request', 'renew-sas', 'acme', '--request-id', 'sandbox-1');
    expect(submitted.code).toBe(0);
    const followed = await cli(first, 'status', 'sandbox-1');
    expect(followed.out).toContain('sandbox-1  renew-sas acme');
    expect((await cli(first, 'envs')).code).toBe(0);

    expect(await stop(first)).toBe(0);
    expect(first.output()).toContain('stopped.');

    const simulatorUrl = /simulated Azure\s+(\S+)/.exec(first.output())?.[1];
    const second = await startSandbox();
    expect(second.output()).toContain(`simulated Azure  ${simulatorUrl}`);
    expect(second.output()).toMatch(/restored the simulated world from /);
    const again = await cli(second, '--json', 'status', 'sandbox-1');
    expect(JSON.parse(again.out)).toMatchObject({ requestId: 'sandbox-1', op: 'renew-sas', slug: 'acme' });
    expect(await stop(second)).toBe(0);
  }, 120_000);
});
