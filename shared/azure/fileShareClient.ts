import {
  ShareServiceClient,
  StorageSharedKeyCredential,
  type ShareClientOptions,
} from '@azure/storage-file-share';
import type { AzureClients } from './azureClients.js';
import { getOrUndefined } from './ensure.js';
import { storageAccountKey } from './storage.js';

export interface StorageAccountRef {
  resourceGroup: string;
  accountName: string;
}

export interface FileServiceClientOptions {
  /**
   * The key to sign with. Without it, the account's first key is read from ARM (listKeys, a POST
   * that counts as a write). Rotation passes the key it means to prove works.
   */
  accountKey?: string;
  clientOptions?: ShareClientOptions;
}

/**
 * The Azure Files service of a storage account, signed with an account key (Shared Key: Container
 * Apps mounts the share with the key, and the broker reads and writes it the same way). Undefined
 * when the account is gone or has no file endpoint. Secret: the client holds the key; callers keep
 * it inside the activity and never return or log it.
 */
export async function fileServiceClient(
  azure: AzureClients,
  account: StorageAccountRef,
  options: FileServiceClientOptions = {},
): Promise<ShareServiceClient | undefined> {
  const properties = await getOrUndefined(() =>
    azure.storage.storageAccounts.getProperties(account.resourceGroup, account.accountName),
  );
  const endpoint = properties?.primaryEndpoints?.file;
  if (!endpoint) return undefined;
  const key = options.accountKey ?? (await storageAccountKey(azure, account));
  return new ShareServiceClient(
    endpoint,
    new StorageSharedKeyCredential(account.accountName, key),
    options.clientOptions,
  );
}
