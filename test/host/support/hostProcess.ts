/**
 * Runs the local host in its own process against Azure Storage (Azurite), for tests that kill it.
 * Env: STORAGE_CONNECTION, TASK_HUB, MASTER_KEY (optional). Prints "READY <baseUrl>" once listening.
 */
import { startLocalHost } from '../../../sandbox/host/index.js';

const connectionString = process.env['STORAGE_CONNECTION'];
if (!connectionString) throw new Error('STORAGE_CONNECTION is not set.');

const host = await startLocalHost({
  app: () => import('../apps/killable.js'),
  settings: { AzureWebJobsStorage: connectionString },
  storage: { connectionString },
  port: 0,
  taskHub: process.env['TASK_HUB'] ?? 'KillHub',
  hostJson: {},
  ...(process.env['MASTER_KEY'] ? { masterKey: process.env['MASTER_KEY'] } : {}),
});
process.stdout.write(`READY ${host.baseUrl}\n`);
