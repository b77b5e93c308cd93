import { lifecycleRequestSchema, type LifecycleRequest } from '../../shared/requests/lifecycleRequest.js';
import { aRequest } from '../support/requests.js';
import type { MaintenanceTarget, MaintenanceTiming } from '../../shared/maintenance/contracts.js';
import type { StepOutcome } from '../../shared/operations/outcome.js';

/** Shared inputs of the replayed orchestration tests (no secrets anywhere: names, versions, times). */

export const START = '2026-11-22T08:00:00.000Z';

export function requestOf<Op extends LifecycleRequest['op']>(
  op: Op,
  overrides: Record<string, unknown> = {},
): Extract<LifecycleRequest, { op: Op }> {
  return lifecycleRequestSchema.parse(aRequest({ op, requestId: `req-${op}-1`, ...overrides })) as Extract<
    LifecycleRequest,
    { op: Op }
  >;
}

export const target: MaintenanceTarget = {
  slug: 'acme',
  requestId: 'req-1',
  incarnation: 1,
  resourceGroup: 'claw-acme',
  keyVault: 'kv-acme-x1',
  vaultUri: 'https://kv-acme-x1.vault.azure.net/',
  storageAccount: 'stacmex1',
  stateFileShare: 'state',
  logContainer: 'logs',
  managedEnvironment: 'cae-acme',
  environmentStorage: 'state',
  containerApp: 'ca-acme',
  entraApplication: 'claw-acme',
  fqdn: 'ca-acme.example.net',
  openclawVersion: '2026.9.6',
};

export const maintenanceTiming: MaintenanceTiming = { verifyIntervalMs: 10_000, verifyTimeoutMs: 60_000 };

export function done<T>(value: T): StepOutcome<T> {
  return { status: 'done', value };
}

export function ms(from: string, to: string): number {
  return Date.parse(to) - Date.parse(from);
}
