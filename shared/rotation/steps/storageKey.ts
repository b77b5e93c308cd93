import type { AzureClients } from '../../azure/azureClients.js';
import { statusOf } from '../../azure/azureErrors.js';
import { fileServiceClient } from '../../azure/fileShareClient.js';
import { SLUG_SECRET_NAMES } from '../../domain/footprint.js';
import {
  MAINTENANCE_TAGS,
  type MaintenanceTarget,
  type StorageKeyName,
} from '../../maintenance/contracts.js';
import { latestVersion, writeVersion } from '../../maintenance/keyVaultVersions.js';
import { asStepOutcome, done, notYet, preconditionFailed } from '../../operations/outcome.js';
import type { StorageMoveInput, StorageRegenerateInput, StorageVerifyInput } from '../contracts.js';
import type { RotationContext } from './context.js';

export const STORAGE_KEYS: readonly StorageKeyName[] = ['key1', 'key2'];

/** The storage account's keys by name, with their values and creation times. */
export async function accountKeys(azure: AzureClients, target: MaintenanceTarget) {
  const listed = await azure.storage.storageAccounts.listKeys(target.resourceGroup, target.storageAccount);
  const keys = new Map<StorageKeyName, { value: string; createdAt: string }>();
  for (const key of listed.keys ?? []) {
    const name = key.keyName?.toLowerCase() as StorageKeyName | undefined;
    if (name && STORAGE_KEYS.includes(name) && key.value) {
      keys.set(name, { value: key.value, createdAt: key.creationTime?.toISOString() ?? '' });
    }
  }
  return keys;
}

/**
 * Moves every consumer of the storage account key to the standby key: first the environment's
 * file share registration, then the stored secret (a new version tagged with the key's name),
 * so a stored secret naming the standby key implies the share registration uses it too. Only
 * while the stored secret still holds the planned key (or already the standby one: a second
 * run). The key in use is not touched.
 */
export function storageMove(
  ctx: Pick<RotationContext, 'azure' | 'vaultOf' | 'pollIntervalMs'>,
  input: StorageMoveInput,
) {
  const { azure, vaultOf, pollIntervalMs } = ctx;
  return asStepOutcome(async () => {
    const { target } = input;
    const vault = vaultOf(target);
    const [keys, stored] = await Promise.all([
      accountKeys(azure, target),
      latestVersion(vault, SLUG_SECRET_NAMES.storageKey),
    ]);
    const standby = keys.get(input.toKey);
    const inUse = keys.get(input.fromKey);
    if (!standby || !inUse)
      throw new Error(`storage account ${target.storageAccount} listed no ${input.toKey}`);
    if (stored?.value === standby.value && stored.tags[MAINTENANCE_TAGS.keyName] === input.toKey) {
      return done({ moved: false });
    }
    if (stored?.value !== inUse.value) {
      throw preconditionFailed(
        `the stored storage key is no longer ${input.fromKey} as planned: a newer rotation happened; nothing changed`,
      );
    }
    await azure.containerApps.managedEnvironmentsStorages.createOrUpdate(
      target.resourceGroup,
      target.managedEnvironment,
      target.environmentStorage,
      {
        properties: {
          azureFile: {
            accountName: target.storageAccount,
            shareName: target.stateFileShare,
            accessMode: 'ReadWrite',
            accountKey: standby.value,
          },
        },
      },
    );
    await writeVersion(vault, SLUG_SECRET_NAMES.storageKey, standby.value, {
      tags: { [MAINTENANCE_TAGS.keyName]: input.toKey, [MAINTENANCE_TAGS.request]: target.requestId },
      pollIntervalMs,
    });
    return done({ moved: true });
  });
}

/**
 * Confirms the move: the gateway is ready after its restart (it mounted the share again) and
 * the key now in use opens the state share (one Azure Files call signed with it). Reads only.
 */
export function storageVerify(
  ctx: Pick<RotationContext, 'azure' | 'vaultOf' | 'readiness'>,
  input: StorageVerifyInput,
) {
  const { azure, vaultOf, readiness } = ctx;
  return asStepOutcome(async () => {
    const { target } = input;
    const stored = await latestVersion(vaultOf(target), SLUG_SECRET_NAMES.storageKey);
    if (stored?.tags[MAINTENANCE_TAGS.keyName] !== input.toKey) {
      throw preconditionFailed(`the stored storage key is not ${input.toKey}: a newer rotation happened`);
    }
    const notReady = await readiness(target);
    if (notReady) return notYet(notReady);
    const service = await fileServiceClient(
      azure,
      { resourceGroup: target.resourceGroup, accountName: target.storageAccount },
      { accountKey: stored.value },
    );
    if (!service) throw new Error(`storage account ${target.storageAccount} is gone or has no file endpoint`);
    const share = service.getShareClient(target.stateFileShare);
    try {
      await share.getProperties();
    } catch (error) {
      if (statusOf(error) === 403) return notYet(`the state share refuses ${input.toKey} (403)`);
      throw error;
    }
    return done({});
  });
}

/**
 * Regenerates the key that was in use before the move, only when every consumer is on the other
 * key: the stored secret must hold the standby key's current value and name, and must not hold
 * the key about to be regenerated. Never regenerates the key in use. Safe to run twice: a key
 * whose creation time moved since the plan was regenerated already and is left alone.
 */
export function storageRegenerate(
  ctx: Pick<RotationContext, 'azure' | 'vaultOf'>,
  input: StorageRegenerateInput,
) {
  const { azure, vaultOf } = ctx;
  return asStepOutcome(async () => {
    const { target } = input;
    const [keys, stored] = await Promise.all([
      accountKeys(azure, target),
      latestVersion(vaultOf(target), SLUG_SECRET_NAMES.storageKey),
    ]);
    const old = keys.get(input.fromKey);
    const standby = keys.get(input.toKey);
    if (!old || !standby) throw new Error(`storage account ${target.storageAccount} listed no keys`);
    if (Date.parse(old.createdAt) !== Date.parse(input.fromKeyCreatedAt)) {
      return done({ regenerated: false });
    }
    if (
      !stored ||
      stored.value === old.value ||
      stored.value !== standby.value ||
      stored.tags[MAINTENANCE_TAGS.keyName] !== input.toKey
    ) {
      throw preconditionFailed(`${input.fromKey} is still (or again) the key in use; it was not regenerated`);
    }
    await azure.storage.storageAccounts.regenerateKey(target.resourceGroup, target.storageAccount, {
      keyName: input.fromKey,
    });
    return done({ regenerated: true });
  });
}
