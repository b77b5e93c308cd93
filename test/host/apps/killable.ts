/**
 * A three-step orchestration whose activities record every execution in Azure Table storage, so a
 * test can count runs across host processes. Step "b" waits for a gate blob before doing anything,
 * which gives the test a moment to kill the host between step "a" and step "b".
 */
import { randomUUID } from 'node:crypto';
import { TableClient } from '@azure/data-tables';
import { BlobServiceClient } from '@azure/storage-blob';
import * as df from 'durable-functions';
import type { OrchestrationContext } from 'durable-functions';

import { GATE_CONTAINER, RUNS_TABLE } from './killableNames.js';

function connection(): string {
  const value = process.env['AzureWebJobsStorage'];
  if (!value) throw new Error('AzureWebJobsStorage is not set.');
  return value;
}

async function recordRun(step: string): Promise<void> {
  const table = TableClient.fromConnectionString(connection(), RUNS_TABLE, { allowInsecureConnection: true });
  await table.createTable();
  await table.createEntity({ partitionKey: step, rowKey: randomUUID(), pid: process.pid });
}

async function waitForGate(): Promise<void> {
  const container = BlobServiceClient.fromConnectionString(connection()).getContainerClient(GATE_CONTAINER);
  await container.createIfNotExists();
  await container.getBlockBlobClient(`b-waiting-${process.pid}`).upload('waiting', 7);
  while (!(await container.getBlockBlobClient('gate-open').exists())) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

df.app.activity('killableStep', {
  handler: async (step: string) => {
    if (step === 'b') await waitForGate();
    await recordRun(step);
    return step.toUpperCase();
  },
});

df.app.orchestration('threeSteps', function* (context: OrchestrationContext) {
  const results: string[] = [];
  for (const step of ['a', 'b', 'c'])
    results.push((yield context.df.callActivity('killableStep', step)) as string);
  return results;
});
