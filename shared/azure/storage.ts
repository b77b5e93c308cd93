import type { AzureClients } from './azureClients.js';
import {
  driftOf,
  getOrUndefined,
  ownershipTags,
  readUnlessNew,
  type Change,
  type EnsureOptions,
} from './ensure.js';

export interface StorageFacts {
  id: string;
  accountName: string;
}

/**
 * Security settings of the slug's storage account. Shared-key access stays on: Container Apps
 * mounts Azure Files over SMB with the account key (identity-based SMB mounts are not offered),
 * and that key is kept in the slug's Key Vault, never in app config. Blob public access is off, TLS
 * 1.2 and HTTPS only.
 */
const SECURITY = {
  allowBlobPublicAccess: false,
  minimumTlsVersion: 'TLS1_2',
  enableHttpsTrafficOnly: true,
  allowSharedKeyAccess: true,
} as const;

/** The state share's quota in GiB: OpenClaw's state (SQLite, pairing, media cache) is small. */
export const STATE_SHARE_QUOTA_GIB = 5;

/**
 * The slug's storage account with the OpenClaw state file share and the log-shipping blob
 * container. Idempotent: each of the three is read first and written only when missing or (for the
 * account) when a security setting or tag drifted. Returns every change made.
 */
export async function ensureStorage(
  azure: AzureClients,
  input: {
    resourceGroup: string;
    accountName: string;
    shareName: string;
    containerName: string;
    slug: string;
    location: string;
  },
  options: EnsureOptions = {},
): Promise<{ value: StorageFacts; changes: Change[] }> {
  const { resourceGroup, accountName } = input;
  const tags = ownershipTags(input.slug);
  const changes: Change[] = [];
  const accounts = azure.storage.storageAccounts;
  const existing = await readUnlessNew(options.inNewGroup, () =>
    accounts.getProperties(resourceGroup, accountName),
  );
  let id: string;
  if (!existing) {
    const created = await accounts.create(
      resourceGroup,
      accountName,
      {
        location: input.location,
        sku: { name: 'Standard_LRS' },
        kind: 'StorageV2',
        tags,
        ...SECURITY,
      },
      azure.poll,
    );
    id = created.id!;
    changes.push({ resource: `storage account ${accountName}`, action: 'created' });
  } else {
    id = existing.id!;
    const drift = driftOf({ tags, ...SECURITY }, existing);
    if (drift.length > 0) {
      await accounts.update(resourceGroup, accountName, { tags: { ...existing.tags, ...tags }, ...SECURITY });
      changes.push({ resource: `storage account ${accountName}`, action: 'updated', fields: drift });
    }
  }

  const share = await readUnlessNew(options.inNewGroup, () =>
    azure.storage.fileShares.get(resourceGroup, accountName, input.shareName),
  );
  if (!share) {
    await azure.storage.fileShares.create(resourceGroup, accountName, input.shareName, {
      shareQuota: STATE_SHARE_QUOTA_GIB,
    });
    changes.push({ resource: `file share ${accountName}/${input.shareName}`, action: 'created' });
  }
  const container = await readUnlessNew(options.inNewGroup, () =>
    azure.storage.blobContainers.get(resourceGroup, accountName, input.containerName),
  );
  if (!container) {
    await azure.storage.blobContainers.create(resourceGroup, accountName, input.containerName, {
      publicAccess: 'None',
    });
    changes.push({ resource: `blob container ${accountName}/${input.containerName}`, action: 'created' });
  }
  return { value: { id, accountName }, changes };
}

/**
 * The account's first key. Secret: callers use it inside the activity (Key Vault write, the
 * environment's share registration) and never return or log it. A POST (it counts as an ARM
 * write), so callers ask only when they are about to write with it.
 */
export async function storageAccountKey(
  azure: AzureClients,
  input: { resourceGroup: string; accountName: string },
): Promise<string> {
  const keys = await azure.storage.storageAccounts.listKeys(input.resourceGroup, input.accountName);
  const key = keys.keys?.[0]?.value;
  if (!key) throw new Error(`storage account ${input.accountName} listed no keys`);
  return key;
}

/** Whether a storage account name is free or already this footprint's account. */
export async function storageAccountNameUsable(
  azure: AzureClients,
  input: { resourceGroup: string; accountName: string },
): Promise<boolean> {
  const own = await getOrUndefined(() =>
    azure.storage.storageAccounts.getProperties(input.resourceGroup, input.accountName),
  );
  if (own) return true;
  const answer = await azure.storage.storageAccounts.checkNameAvailability({
    name: input.accountName,
    type: 'Microsoft.Storage/storageAccounts',
  });
  return answer.nameAvailable === true;
}
