import type { AzureClients } from '../azure/azureClients.js';
import { fileServiceClient } from '../azure/fileShareClient.js';
import { pruneShareSnapshots, restoreShareFromSnapshot, snapshotShareOnce } from '../azure/shareSnapshots.js';
import type { StateShare, StateSnapshots } from './upgradeSteps.js';

/**
 * The upgrade's snapshots of a slug's state share, over Azure Files with the account key (the way
 * Container Apps mounts the share). The key stays inside the activity.
 */
export function stateShareSnapshots(azure: AzureClients): StateSnapshots {
  async function service(share: StateShare) {
    const client = await fileServiceClient(azure, {
      resourceGroup: share.resourceGroup,
      accountName: share.storageAccount,
    });
    if (!client) throw new Error(`storage account ${share.storageAccount} has no Azure Files endpoint`);
    return client;
  }
  return {
    async snapshot(share, key) {
      const taken = await snapshotShareOnce(await service(share), share.share, key, { purpose: 'upgrade' });
      return taken.id;
    },
    async restore(share, snapshot) {
      await restoreShareFromSnapshot((await service(share)).getShareClient(share.share), snapshot);
    },
    async prune(share, keep, protect) {
      await pruneShareSnapshots(await service(share), share.share, { keep, protect });
    },
  };
}
