import type { BrokerConfig } from '../config.js';
import type { EnvironmentRecord } from '../storage/environmentRegistry.js';
import { FLAGGED_SECRETS, type FlaggedSecret, type RotatableSecret } from './contracts.js';

/** The rotation policy: the age at which each secret is due, from configuration. */
export interface RotationPolicy {
  maxAgeMs: Readonly<Record<RotatableSecret | FlaggedSecret, number>>;
}

export const ROTATABLE_SECRETS: readonly RotatableSecret[] = [
  'gateway-token',
  'storage-key',
  'entra-client-secret',
];

export function rotationPolicy(config: Pick<BrokerConfig, 'rotation'>): RotationPolicy {
  return {
    maxAgeMs: {
      'gateway-token': config.rotation.gatewayTokenMaxAgeMs,
      'storage-key': config.rotation.storageKeyMaxAgeMs,
      'entra-client-secret': config.rotation.entraSecretMaxAgeMs,
      'telegram-bot-token': config.rotation.botTokenMaxAgeMs,
    },
  };
}

export interface DueSecret {
  kind: RotatableSecret | FlaggedSecret;
  /** When the secret was last set (or last skipped by policy), from the registry. */
  since: string;
}

/**
 * The secrets of an environment that are due by policy at `now`: set at least their maximum age
 * ago (by the registry's secret ages). A secret a rotation had to skip (a tenant policy) counts
 * from the skip, so it is looked at again one policy period later, not every day. A bot token is
 * due once per age: when it has been flagged since it was last set, it is not due again.
 * Secrets the registry has no age for (not set up) are never due.
 */
export function dueSecrets(record: EnvironmentRecord, now: Date, policy: RotationPolicy): DueSecret[] {
  const due: DueSecret[] = [];
  const at = now.getTime();
  for (const kind of ROTATABLE_SECRETS) {
    const setAt = record.secretAges[kind];
    if (!setAt) continue;
    const skippedAt = record.maintenance?.skipped?.[kind]?.at;
    const since = skippedAt && Date.parse(skippedAt) > Date.parse(setAt) ? skippedAt : setAt;
    if (at - Date.parse(since) >= policy.maxAgeMs[kind]) due.push({ kind, since });
  }
  for (const kind of FLAGGED_SECRETS) {
    const setAt = record.secretAges[kind];
    if (!setAt) continue;
    const flaggedAt = record.maintenance?.flags?.[kind]?.flaggedAt;
    if (flaggedAt && Date.parse(flaggedAt) >= Date.parse(setAt)) continue;
    if (at - Date.parse(setAt) >= policy.maxAgeMs[kind]) due.push({ kind, since: setAt });
  }
  return due;
}
