import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../cli/main.js';
import { trustSimulatorCertificate } from '../../sandbox/sim/index.js';

/**
 * `npm run sandbox` as a person uses it: start it, follow the printed instructions with the CLI
 * (provision a slug and watch it reach ready; tear it down and approve that from the simulated
 * admin chat), stop it with Ctrl-C, start it again over the same state.
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

/** Trusts the sandbox simulator's certificate (saved in its state file), as curl -k would skip. */
function trustSandboxCertificate(): void {
  const state = JSON.parse(readFileSync(join(dataDir, 'simulator.json'), 'utf8')) as {
    certificate: { certPem: string };
  };
  trustSimulatorCertificate(state.certificate.certPem);
}

interface AdminChat {
  messages: { messageId: number; text: string; buttons: string[] }[];
}

/** Polls a simulator admin URL until its JSON body satisfies `done`. */
async function untilJson(url: string, done: (body: AdminChat) => boolean): Promise<AdminChat> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const body = (await (await fetch(url)).json()) as AdminChat;
    if (done(body)) return body;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${url} never satisfied the condition`);
}

/**
 * Whether Debian's azure-cli is installed: .ci/run installs it, so in CI (CI set) its absence is a
 * failure; on a developer's machine without it the az step is skipped.
 */
function hasAzureCli(): boolean {
  try {
    execFileSync('az', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    if (process.env['CI']) throw new Error('azure-cli (az) is not installed; .ci/run installs it');
    return false;
  }
}

async function stop(sandbox: RunningSandbox): Promise<number | null> {
  sandbox.child.kill('SIGINT');
  return new Promise((resolve) => sandbox.child.once('exit', (code) => resolve(code)));
}

describe('npm run sandbox', () => {
  it('comes up with instructions that work (provision, teardown approved from the chat), stops cleanly on Ctrl-C, and keeps its state across a restart', async () => {
    const first = await startSandbox('--reset');
    expect(first.output()).toContain('claw-broker sandbox is up');
    expect(first.output()).toContain("npx claw-broker request provision acme --param channels='[]' --wait");

    // Provision with the CLI and watch it reach ready.
    const provisioned = await cli(
      first,
      'request',
      'provision',
      'acme',
      '--param',
      'channels=[]',
      '--request-id',
      'sandbox-1',
      '--wait',
    );
    // Progress shows step by step (which steps a 1 s poll catches depends on the machine's speed).
    expect(provisioned.out).toMatch(/^running: [a-zA-Z]+ \[\d+\/\d+\]$/m);
    expect(provisioned.out).toMatch(/succeeded: acme provisioned .* ready at https:\/\//);
    expect(provisioned.code).toBe(0);
    expect((await cli(first, 'envs')).out).toMatch(/acme\s+ready\s+2026\.9\.6\s+https:/);

    // Tear it down from the CLI and approve it from the simulated admin chat.
    expect((await cli(first, 'request', 'teardown', 'acme', '--request-id', 'sandbox-2')).code).toBe(0);
    const simUrl = /simulated Azure\s+(\S+)/.exec(first.output())![1]!;
    trustSandboxCertificate();
    const chat = await untilJson(`${simUrl}/admin/telegram/chats/-1001`, (body) => body.messages.length > 0);
    const approval = chat.messages.at(-1)!;
    expect(approval.text).toContain('teardown of acme');
    expect(approval.buttons).toEqual(['Approve', 'Reject']);
    // The function key is one operator, which may not approve the teardown it asked for.
    expect(first.output()).toContain('npx claw-broker approve <requestId>');
    const own = await cli(first, 'approve', 'sandbox-2');
    expect(own.code).toBe(1);
    expect(own.out).toMatch(/ApprovalForbidden.*the requester may not approve their own teardown/);
    const pressed = await fetch(`${simUrl}/admin/telegram/chats/-1001/messages/${approval.messageId}/press`, {
      method: 'POST',
      body: JSON.stringify({ button: 'Approve', as: 1001 }),
    });
    expect(await pressed.json()).toMatchObject({ pressed: 'Approve', webhookStatus: 200 });
    const tornDown = await cli(first, 'request', 'teardown', 'acme', '--request-id', 'sandbox-2', '--wait');
    expect(tornDown.out).toMatch(/succeeded: deleted claw-acme; backup at teardown-backups\/acme\//);
    expect((await cli(first, 'envs')).out).toMatch(/acme\s+deleted/);

    // The printed Azure CLI command, run as printed, enqueues a request the broker takes.
    const azLine = /^\s*(az storage message put .*)$/m.exec(first.output())?.[1];
    expect(azLine).toBeDefined();
    if (hasAzureCli()) {
      execFileSync('bash', ['-c', azLine!], { stdio: 'pipe' });
      for (let attempt = 0; attempt < 100; attempt++) {
        const status = await cli(first, '-o', 'json', 'status', 'az-1');
        if (status.code === 0 && !/"status": "queued"/.test(status.out)) break;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      const status = JSON.parse((await cli(first, '-o', 'json', 'status', 'az-1')).out) as {
        status: string;
        slug: string;
      };
      expect(status.slug).toBe('azq');
      expect(['running', 'succeeded']).toContain(status.status);
    }

    expect(await stop(first)).toBe(0);
    expect(first.output()).toContain('stopped.');

    const simulatorUrl = /simulated Azure\s+(\S+)/.exec(first.output())?.[1];
    // Again over the same state, with Azurite on its usual ports for other tools.
    const second = await startSandbox('--azurite-default-ports');
    expect(second.output()).toContain(`simulated Azure  ${simulatorUrl}`);
    expect(second.output()).toMatch(
      /storage\s+.*BlobEndpoint=http:\/\/127\.0\.0\.1:10000\/devstoreaccount1;QueueEndpoint=http:\/\/127\.0\.0\.1:10001\/devstoreaccount1;TableEndpoint=http:\/\/127\.0\.0\.1:10002\/devstoreaccount1/,
    );
    expect(second.output()).toMatch(/restored the simulated world from /);
    const again = await cli(second, '--json', 'status', 'sandbox-2');
    expect(JSON.parse(again.out)).toMatchObject({
      requestId: 'sandbox-2',
      op: 'teardown',
      slug: 'acme',
      status: 'succeeded',
    });
    expect(await stop(second)).toBe(0);
  }, 300_000);
});
