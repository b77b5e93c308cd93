import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../cli/main.js';
import { startBrokerOnHost, type BrokerOnHost } from '../support/brokerHost.js';

/** The claw-broker CLI against the broker running on the local host. */
let broker: BrokerOnHost;

beforeAll(async () => {
  broker = await startBrokerOnHost();
});

afterAll(async () => {
  await broker?.stop();
});

async function cli(...args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(['--url', broker.host.baseUrl, ...args], {
    out: (text) => out.push(text),
    err: (text) => err.push(text),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.min(ms, 25))),
    env: { CLAW_BROKER_KEY: broker.host.functionKey },
  });
  return { code, out, err };
}

describe('the claw-broker CLI', () => {
  it('submits a request and follows it step by step with --wait until it succeeds', async () => {
    const running = cli(
      'request',
      'provision',
      'cli-alpha',
      '--request-id',
      'cli-1',
      '--param',
      'channels=["telegram"]',
      '--wait',
    );
    await broker.release('cli-1');
    const { code, out } = await running;
    expect(code).toBe(0);
    expect(out[0]).toBe('cli-1 submitted (provision cli-alpha)');
    expect(out).toContain('running: waiting for release [1/2]');
    expect(out.at(-1)).toBe('succeeded: done for cli-alpha');
  });

  it('exits 1 when a waited-for request fails, with the reason on the last line', async () => {
    const running = cli('request', 'provision', 'cli-beta', '--request-id', 'cli-2', '--wait');
    await broker.release('cli-2', 'fail');
    const { code, out } = await running;
    expect(code).toBe(1);
    expect(out.at(-1)).toMatch(/^failed: .*failed as the test asked/);
  });

  it('prints JSON for scripts', async () => {
    const { code, out } = await cli('--json', 'status', 'cli-1');
    expect(code).toBe(0);
    expect(JSON.parse(out.join('\n'))).toMatchObject({
      requestId: 'cli-1',
      status: 'succeeded',
      op: 'provision',
      slug: 'cli-alpha',
    });
  });

  it('explains a refused request with its code and each problem, and exits 1', async () => {
    const { code, err } = await cli('request', 'provision', 'Not-Valid');
    expect(code).toBe(1);
    expect(err[0]).toMatch(/^error: RequestSchemaViolation: /);
    expect(err.some((line) => line.startsWith('  - slug: '))).toBe(true);
  });

  it('refuses a parameter that is not key=value before calling the broker', async () => {
    const { code, err } = await cli('request', 'provision', 'cli-gamma', '--param', 'novalue');
    expect(code).not.toBe(0);
    expect(err.join('\n')).toContain('expected key=value, got "novalue"');
  });

  it('takes secrets only from files, so a value never sits on the command line', async () => {
    const inline = await cli('request', 'provision', 'cli-delta', '--secret', 'telegramBotToken=123:abc');
    expect(inline.code).not.toBe(0);
    expect(inline.err.join('\n')).toContain('expected name=@file');
    expect(inline.err.join('\n')).not.toContain('123:abc');
    const missing = await cli(
      'request',
      'provision',
      'cli-delta',
      '--secret',
      'telegramBotToken=@/nonexistent/token',
    );
    expect(missing.err.join('\n')).toContain('cannot read the secret file /nonexistent/token');
  });

  it('reports an unknown request as not found and exits 1', async () => {
    const { code, err } = await cli('status', 'no-such-request');
    expect(code).toBe(1);
    expect(err[0]).toBe('error: NotFound: no request with id no-such-request');
  });

  it('lists environments and rejected messages as tables', async () => {
    await broker.host.enqueue('lifecycle-requests', '{"broken":');
    await broker.host.waitForIdle();
    const rejected = await cli('rejected');
    expect(rejected.code).toBe(0);
    expect(rejected.out[0]).toMatch(/^ID\s+RECEIVED\s+CODE\s+REQUEST\s+REASON/);
    expect(rejected.out.join('\n')).toContain('RequestInvalidJson');
    const envs = await cli('envs');
    expect(envs.code).toBe(0);
  });

  it('says where it tried when the broker cannot be reached', async () => {
    const code = await runCli(['--url', 'http://127.0.0.1:9', 'envs'], {
      out: () => undefined,
      err: (text) => expect(text).toContain('cannot reach the broker at http://127.0.0.1:9'),
      sleep: async () => undefined,
      env: {},
    });
    expect(code).toBe(1);
  });

  it('exits 2 for a usage error without calling the broker: a number option that is not a number, an unknown output format, an unknown option', async () => {
    for (const args of [
      ['request', 'provision', 'cli-eta', '--wait', '--poll', 'abc'],
      ['rejected', '--limit', 'abc'],
      ['audit', '--limit', '0'],
      ['-o', 'yaml', 'envs'],
      ['envs', '--bogus'],
    ]) {
      const { code, err } = await cli(...args);
      expect({ args, code }).toEqual({ args, code: 2 });
      expect(err.join('\n')).toMatch(/error: /);
    }
    const { err } = await cli('rejected', '--limit', 'abc');
    expect(err.join('\n')).toContain('--limit takes a whole number from 1 to 1000');
  });

  it('gives up --wait after --timeout with exit 3, saying the request goes on', async () => {
    const { code, err } = await cli(
      'request',
      'provision',
      'cli-theta',
      '--request-id',
      'cli-3',
      '--wait',
      '--timeout',
      '1',
    );
    expect(code).toBe(3);
    expect(err.join('\n')).toContain('cli-3 did not end within 1 s; it goes on: claw-broker status cli-3');
    await broker.release('cli-3');
  });

  it('prints its version, and tab-separated or JSON output on request', async () => {
    const version = await cli('--version');
    expect(version.code).toBe(0);
    expect(version.out.join('')).toMatch(/^\d+\.\d+\.\d+/);
    const tsv = await cli('-o', 'tsv', 'status', 'cli-1');
    expect(tsv.code).toBe(0);
    expect(tsv.out.join('\n').split('\n')[0]).toBe('KEY\tVALUE');
    expect(tsv.out.join('\n')).toContain('requestId\tcli-1');
    const json = await cli('-o', 'json', 'envs');
    expect(Array.isArray(JSON.parse(json.out.join('\n')))).toBe(true);
  });

  it('warns when the key is given on the command line, where it shows in ps and shell history', async () => {
    const err: string[] = [];
    const code = await runCli(['--url', broker.host.baseUrl, '--key', broker.host.functionKey, 'envs'], {
      out: () => undefined,
      err: (text) => err.push(text),
      sleep: async () => undefined,
      env: {},
    });
    expect(code).toBe(0);
    expect(err.join('\n')).toContain('warning: --key shows the function key');
  });

  it('takes a list param as comma-separated items, as the README writes rotate-secrets --param secrets=gateway-token', async () => {
    const { code } = await cli(
      'request',
      'rotate-secrets',
      'cli-iota',
      '--request-id',
      'cli-4',
      '--param',
      'secrets=gateway-token',
    );
    expect(code).toBe(0);
    const status = await cli('-o', 'json', 'status', 'cli-4');
    // Accepted by the schema (a plain string was refused: "params.secrets: expected array").
    expect(JSON.parse(status.out.join('\n'))).toMatchObject({ requestId: 'cli-4', op: 'rotate-secrets' });
    expect(JSON.parse(status.out.join('\n'))['reason'] ?? '').not.toMatch(/schema|expected array/);
  });
});
