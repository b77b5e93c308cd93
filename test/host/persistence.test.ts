import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { TableClient } from '@azure/data-tables';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type RunningAzurite } from '../../sandbox/azurite.js';
import { GATE_CONTAINER, RUNS_TABLE } from './apps/killableNames.js';

const hostScript = fileURLToPath(new URL('./support/hostProcess.ts', import.meta.url));
/** The management API takes the system or master key, as in Azure. */
const MASTER_KEY = 'persistence-test-master-key';

interface HostProcess {
  child: ChildProcess;
  baseUrl: string;
}

function startHostProcess(connectionString: string): Promise<HostProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', hostScript], {
    env: { ...process.env, STORAGE_CONNECTION: connectionString, TASK_HUB: 'KillHub', MASTER_KEY },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const ready = /READY (\S+)/.exec(output);
      if (ready) {
        child.stdout?.off('data', onData);
        resolve({ child, baseUrl: ready[1]! });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code, signal) =>
      reject(new Error(`host exited (${code ?? signal}) before READY:\n${output}`)),
    );
  });
}

function killHard(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

/** Polls until `check` returns a value; the bound is a safety net, not an assertion. */
async function eventually<T>(check: () => Promise<T | undefined>, what: string): Promise<T> {
  for (let i = 0; i < 600; i++) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`Gave up waiting for ${what}.`);
}

describe('a host killed in the middle of an orchestration', () => {
  let azurite: RunningAzurite;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    azurite = await startAzurite();
  });
  afterAll(async () => {
    for (const child of children)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await azurite?.stop();
  });

  it('resumes after a restart and runs each completed activity exactly once', async () => {
    const first = await startHostProcess(azurite.connectionString);
    children.push(first.child);
    const started = await fetch(`${first.baseUrl}/durabletask/orchestrators/threeSteps/kill-1`, {
      method: 'POST',
      headers: { 'x-functions-key': MASTER_KEY },
    });
    expect(started.status).toBe(202);

    const gates = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(
      GATE_CONTAINER,
    );
    await gates.createIfNotExists();
    await eventually(async () => {
      for await (const blob of gates.listBlobsFlat({ prefix: 'b-waiting-' })) return blob.name;
      return undefined;
    }, 'step b to start in the first host');
    await killHard(first.child);

    await gates.getBlockBlobClient('gate-open').upload('open', 4);
    const second = await startHostProcess(azurite.connectionString);
    children.push(second.child);
    const status = await eventually(async () => {
      const response = await fetch(`${second.baseUrl}/durabletask/instances/kill-1`, {
        headers: { 'x-functions-key': MASTER_KEY },
      });
      const body = (await response.json()) as { runtimeStatus: string; output: unknown };
      return body.runtimeStatus === 'Completed' ? body : undefined;
    }, 'kill-1 to complete in the second host');
    expect(status.output).toEqual(['A', 'B', 'C']);

    const runs = TableClient.fromConnectionString(azurite.connectionString, RUNS_TABLE, {
      allowInsecureConnection: true,
    });
    const counts: Record<string, number> = {};
    const pids: Record<string, Set<number>> = {};
    for await (const entity of runs.listEntities<{ pid: number }>()) {
      counts[entity.partitionKey!] = (counts[entity.partitionKey!] ?? 0) + 1;
      (pids[entity.partitionKey!] ??= new Set()).add(entity.pid);
    }
    expect(counts).toEqual({ a: 1, b: 1, c: 1 });
    expect(pids['a']).toEqual(new Set([first.child.pid]));
    expect(pids['c']).toEqual(new Set([second.child.pid]));
    await killHard(second.child);
  });
});
