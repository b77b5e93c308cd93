import type { Readable } from 'node:stream';
import {
  ShareServiceClient,
  StorageSharedKeyCredential,
  type ShareDirectoryClient,
  type ShareFileClient,
} from '@azure/storage-file-share';
import type { AzureClients } from '../azure/azureClients.js';
import { isNotFound } from '../azure/azureErrors.js';
import { getOrUndefined } from '../azure/ensure.js';
import { BuiltInRoles, removeRoleAssignments } from '../azure/roleAssignments.js';
import { readRecorded, type EntraClient, type OwnedObjectKind } from '../azure/entra.js';
import { storageAccountKey } from '../azure/storage.js';
import type { BrokerConfig } from '../config.js';
import { OWNERSHIP_TAGS, OWNERSHIP_TAG_VALUE, footprintNames } from '../domain/footprint.js';
import { describeLeftAlone } from './describe.js';
import type { BrokerStorage } from '../storage/brokerStorage.js';
import { entraObjectsOf, type EnvironmentRegistry } from '../storage/environmentRegistry.js';
import { TEARDOWN_BACKUP_CONTAINER } from '../storage/teardownBackupStore.js';
import type {
  BackupFacts,
  BackupInput,
  EntraOutcome,
  FinishInput,
  GroupResource,
  InspectInput,
  Inspection,
  MarkInput,
  TeardownPlan,
  VaultOutcome,
} from './contracts.js';

const VAULT_TYPE = 'microsoft.keyvault/vaults';
const STORAGE_TYPE = 'microsoft.storage/storageaccounts';
const IDENTITY_TYPE = 'microsoft.managedidentity/userassignedidentities';

export interface TeardownStepsDeps {
  config: Pick<BrokerConfig, 'nameSalt' | 'azure' | 'teardown' | 'image' | 'provisioning'>;
  azure: AzureClients;
  entra: EntraClient;
  registry: EnvironmentRegistry;
  storage: BrokerStorage;
  /** The broker's own object id in Entra: it removes only the Entra objects it owns. */
  brokerPrincipalId(): Promise<string>;
}

export type TeardownSteps = ReturnType<typeof createTeardownSteps>;

/**
 * Teardown's steps. Each is safe to run twice: it looks first and acts on what is still there
 * (a deleted group is not deleted again, a backup is written to the same place, a removed Entra
 * object is skipped). Ownership is established by looking, never assumed: the resource group must
 * carry the broker's ownership tags for this slug, and every resource in it too; the app
 * registration and the group must have the broker among their Entra owners.
 */
export function createTeardownSteps(deps: TeardownStepsDeps) {
  const { azure, config, registry } = deps;

  return {
    /**
     * Finds what teardown would remove, read-only. Refused when the group is not the broker's or
     * holds a resource the broker did not create; `gone` when there is nothing left to remove.
     */
    async inspect(input: InspectInput): Promise<Inspection> {
      const record = await registry.get(input.slug);
      const resourceGroup = `claw-${input.slug}`;
      const entraNames = { application: `claw-${input.slug}`, group: `shire-${input.slug}` };
      const group = await getOrUndefined(() => azure.resources.resourceGroups.get(resourceGroup));
      if (group) {
        const tags = group.tags ?? {};
        if (
          tags[OWNERSHIP_TAGS.managedBy] !== OWNERSHIP_TAG_VALUE ||
          tags[OWNERSHIP_TAGS.slug] !== input.slug
        ) {
          return {
            kind: 'refused',
            reason: `resource group ${resourceGroup} is not managed by claw-broker for ${input.slug} (tags ${OWNERSHIP_TAGS.managedBy}=${OWNERSHIP_TAG_VALUE}, ${OWNERSHIP_TAGS.slug}=${input.slug} missing); nothing was deleted`,
          };
        }
      }
      const resources: (GroupResource & { owned: boolean; location?: string | undefined })[] = [];
      if (group) {
        for await (const resource of azure.resources.resources.listByResourceGroup(resourceGroup)) {
          const tags = resource.tags ?? {};
          resources.push({
            type: resource.type ?? 'unknown',
            name: resource.name ?? 'unknown',
            owned:
              tags[OWNERSHIP_TAGS.managedBy] === OWNERSHIP_TAG_VALUE &&
              tags[OWNERSHIP_TAGS.slug] === input.slug,
            location: resource.location,
          });
        }
      }
      const foreign = resources.filter((resource) => !resource.owned);
      if (foreign.length > 0) {
        return {
          kind: 'refused',
          reason: `resource group ${resourceGroup} holds resources claw-broker did not create: ${foreign
            .slice(0, 5)
            .map((r) => `${r.type}/${r.name}`)
            .join(', ')}${foreign.length > 5 ? ` and ${foreign.length - 5} more` : ''}; nothing was deleted`,
        };
      }
      // Entra objects are found by name, which anyone can take: only those the broker owns are its.
      // Those provisioning recorded by id for this incarnation are its own: read by id, as a
      // replica may not list a fresh object by name nor show the broker among its owners yet.
      const brokerId = await deps.brokerPrincipalId();
      const recorded = entraObjectsOf(record);
      const entraLeftAlone: NonNullable<TeardownPlan['entraLeftAlone']> = [];
      const owned = async <T extends { id: string }>(
        kind: OwnedObjectKind,
        name: string,
        found: T | undefined,
      ): Promise<T | undefined> => {
        if (!found) return undefined;
        const ours = found.id === recorded?.application?.id || found.id === recorded?.group?.id;
        if (ours || (await deps.entra.ownedBy(brokerId, found.id))) return found;
        entraLeftAlone.push({ kind, name, id: found.id });
        return undefined;
      };
      // A recorded object not readable yet (replication) fails the activity, which is retried.
      const byRecordOrName = async <T extends { id: string }>(
        kind: OwnedObjectKind,
        entry: { id: string; at: string } | undefined,
        read: (id: string) => Promise<T | undefined>,
        find: () => Promise<T | undefined>,
      ): Promise<T | undefined> =>
        (await readRecorded(kind, entry, read, deps.config.provisioning.propagationTimeoutMs)) ??
        (await find());
      const application = await owned(
        'application',
        entraNames.application,
        await byRecordOrName(
          'application',
          recorded?.application,
          (id) => deps.entra.getApplication(id),
          () => deps.entra.findApplication(entraNames.application),
        ),
      );
      const entraGroup = await owned(
        'group',
        entraNames.group,
        await byRecordOrName(
          'group',
          recorded?.group,
          (id) => deps.entra.getGroup(id),
          () => deps.entra.findGroup(entraNames.group),
        ),
      );
      if (!group && !application && !entraGroup && (!record || record.state === 'deleted')) {
        return {
          kind: 'gone',
          reason: `${input.slug} is already gone: no resource group, no Entra objects of claw-broker${entraLeftAlone.map((o) => `; ${describeLeftAlone(o)}`).join('')}`,
        };
      }

      const vaultResource = resources.find((r) => r.type.toLowerCase() === VAULT_TYPE);
      let keyVault: TeardownPlan['keyVault'];
      if (vaultResource) {
        const vault = await getOrUndefined(() =>
          azure.keyVaults.vaults.get(resourceGroup, vaultResource.name),
        );
        keyVault = {
          name: vaultResource.name,
          location: vault?.location ?? vaultResource.location ?? group?.location ?? '',
          purgeProtection: vault?.properties.enablePurgeProtection === true,
        };
      } else if (record) {
        // The group is gone already (a retry): the vault may sit soft-deleted under its derived name.
        const names = footprintNames(input.slug, { salt: config.nameSalt, incarnation: record.incarnation });
        keyVault = {
          name: names.keyVault,
          location: group?.location ?? config.azure.location,
          purgeProtection: false,
        };
      }
      let purgeRefusal: string | undefined;
      if (input.purgeKeyVault && !config.teardown.allowKeyVaultPurge) {
        purgeRefusal = 'purging Key Vaults is not allowed by this broker (TEARDOWN_ALLOW_KEY_VAULT_PURGE)';
      } else if (input.purgeKeyVault && keyVault?.purgeProtection) {
        purgeRefusal = `Key Vault ${keyVault.name} has purge protection`;
      }
      const identityResource = resources.find((r) => r.type.toLowerCase() === IDENTITY_TYPE);
      const gatewayIdentity = identityResource
        ? await getOrUndefined(() =>
            azure.identities.userAssignedIdentities.get(resourceGroup, identityResource.name),
          )
        : undefined;
      const names = record
        ? footprintNames(input.slug, { salt: config.nameSalt, incarnation: record.incarnation })
        : undefined;
      const plan: TeardownPlan = {
        slug: input.slug,
        requestId: input.requestId,
        incarnation: record?.incarnation,
        resourceGroup,
        groupExists: group !== undefined,
        location: group?.location,
        resources: resources.map(({ type, name }) => ({ type, name })),
        keyVault,
        storageAccount: resources.find((r) => r.type.toLowerCase() === STORAGE_TYPE)?.name,
        gatewayPrincipalId: gatewayIdentity?.principalId,
        stateShare: names?.stateFileShare ?? 'openclaw-state',
        entra: {
          application: application ? { id: application.id, appId: application.appId } : undefined,
          group: entraGroup ? { id: entraGroup.id } : undefined,
        },
        entraNames,
        ...(entraLeftAlone.length > 0 ? { entraLeftAlone } : {}),
        purgeKeyVault: input.purgeKeyVault && purgeRefusal === undefined,
        purgeRefusal,
        backupRetentionMs: config.teardown.backupRetentionMs,
      };
      return { kind: 'plan', plan };
    },

    /** Marks the environment `deleting`. Safe to run twice: it sets values. */
    async markDeleting(input: MarkInput): Promise<void> {
      await registry.update(input.slug, (record) =>
        record ? { ...record, state: 'deleting', currentStep: 'teardown' } : undefined,
      );
    },

    /**
     * Copies every file of the state share into the broker's storage
     * (`teardown-backups/<slug>/<incarnation>/<requestId>/...`) with a manifest, each blob tagged
     * with its retention. Safe to run twice: the same request writes the same blobs again. The
     * storage key is read with the broker's identity and never leaves this step.
     */
    async backup(input: BackupInput): Promise<BackupFacts> {
      const { plan } = input;
      if (!plan.storageAccount) return { files: 0, bytes: 0, skipped: 'no storage account left to back up' };
      const account = await getOrUndefined(() =>
        azure.storage.storageAccounts.getProperties(plan.resourceGroup, plan.storageAccount!),
      );
      const fileEndpoint = account?.primaryEndpoints?.file;
      if (!account || !fileEndpoint)
        return { files: 0, bytes: 0, skipped: `storage account ${plan.storageAccount} is gone` };
      const key = await storageAccountKey(azure, {
        resourceGroup: plan.resourceGroup,
        accountName: plan.storageAccount,
      });
      const share = new ShareServiceClient(
        fileEndpoint,
        new StorageSharedKeyCredential(plan.storageAccount, key),
      ).getShareClient(plan.stateShare);
      const retainUntil = new Date(Date.parse(input.at) + plan.backupRetentionMs).toISOString();
      const prefix = `${plan.slug}/${plan.incarnation ?? 0}/${plan.requestId}`;
      const container = await deps.storage.container(TEARDOWN_BACKUP_CONTAINER);
      const metadata = { slug: plan.slug, requestid: plan.requestId, retainuntil: retainUntil };
      const manifest: { path: string; bytes: number }[] = [];
      const skipped: { path: string; reason: string }[] = [];
      try {
        for await (const file of walk(share.rootDirectoryClient, '')) {
          const name = backupBlobName(prefix, file.path);
          if (!name) {
            skipped.push({ path: file.path, reason: 'a path segment is empty, "." or ".."' });
            continue;
          }
          // Streamed, never whole in memory: a state file can be as large as the share allows.
          const download = await file.client.download();
          if (!download.readableStreamBody) throw new Error(`no content stream for ${file.path}`);
          await container
            .getBlockBlobClient(name)
            .uploadStream(download.readableStreamBody as Readable, BACKUP_BLOCK_BYTES, 2, { metadata });
          manifest.push({ path: file.path, bytes: download.contentLength ?? 0 });
        }
      } catch (error) {
        if (!isNotFound(error)) throw error;
        // No share: nothing to copy; the manifest says so.
      }
      const bytes = manifest.reduce((sum, file) => sum + file.bytes, 0);
      const text = JSON.stringify(
        {
          slug: plan.slug,
          incarnation: plan.incarnation,
          requestId: plan.requestId,
          source: { storageAccount: plan.storageAccount, share: plan.stateShare },
          takenAt: input.at,
          retainUntil,
          files: manifest,
          ...(skipped.length > 0 ? { skipped } : {}),
        },
        null,
        2,
      );
      await container.getBlockBlobClient(`${prefix}/manifest.json`).upload(text, Buffer.byteLength(text), {
        metadata,
        blobHTTPHeaders: { blobContentType: 'application/json' },
      });
      return {
        location: `${TEARDOWN_BACKUP_CONTAINER}/${prefix}/`,
        files: manifest.length,
        bytes,
        retainUntil,
      };
    },

    /**
     * Removes the gateway identity's AcrPull on the shared image registry (a grant outside the
     * group, which would outlive it), then deletes the resource group and waits until it is gone.
     * Safe to run twice: no assignment left and a missing group are both done.
     */
    async deleteResourceGroup(plan: TeardownPlan): Promise<void> {
      if (plan.gatewayPrincipalId) {
        await removeRoleAssignments(azure, {
          scope: config.image.registryId,
          principalId: plan.gatewayPrincipalId,
          roleDefinitionGuid: BuiltInRoles.acrPull,
        });
      }
      try {
        await azure.resources.resourceGroups.beginDeleteAndWait(plan.resourceGroup, azure.poll);
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    },

    /**
     * After the group is gone its vault sits soft-deleted: kept for recovery, or purged when the
     * plan says so (asked, allowed, no purge protection). Safe to run twice: it looks first.
     */
    async handleKeyVault(plan: TeardownPlan): Promise<VaultOutcome> {
      const vault = plan.keyVault;
      if (!vault?.location) return { outcome: 'absent' };
      const deleted = await getOrUndefined(() =>
        azure.keyVaults.vaults.getDeleted(vault.name, vault.location),
      );
      if (!deleted) return { name: vault.name, outcome: plan.purgeKeyVault ? 'purged' : 'absent' };
      if (plan.purgeKeyVault) {
        await azure.keyVaults.vaults.purgeDeleted(vault.name, vault.location, azure.poll).pollUntilDone();
        return { name: vault.name, outcome: 'purged' };
      }
      const until = deleted.properties?.scheduledPurgeDate;
      return {
        name: vault.name,
        outcome: 'kept',
        recoverableUntil: until ? new Date(until).toISOString() : undefined,
      };
    },

    /** Removes the slug's Entra app registration and group. Safe to run twice: missing ones are skipped. */
    async removeEntra(plan: TeardownPlan): Promise<EntraOutcome> {
      const removed: string[] = [];
      if (plan.entra.application && (await deps.entra.deleteApplication(plan.entra.application.id))) {
        removed.push(`Entra application ${plan.entraNames.application}`);
      }
      if (plan.entra.group && (await deps.entra.deleteGroup(plan.entra.group.id))) {
        removed.push(`Entra group ${plan.entraNames.group}`);
      }
      return { removed };
    },

    /** Marks the environment `deleted` with the backup's location. Safe to run twice: it sets values. */
    async finish(input: FinishInput): Promise<void> {
      const { plan } = input;
      await registry.update(plan.slug, (record) =>
        record
          ? {
              ...record,
              state: 'deleted',
              url: undefined,
              currentStep: undefined,
              progress: undefined,
              teardown: {
                requestId: plan.requestId,
                at: input.at,
                backupLocation: input.backup.location,
                backupRetainUntil: input.backup.retainUntil,
                keyVault: input.vault.outcome,
                keyVaultRecoverableUntil: input.vault.recoverableUntil,
              },
            }
          : undefined,
      );
    },
  };
}

/** Every file under a directory of the share, depth first, with its path. */
/** Block size of a streamed backup upload: two blocks in flight keep the step's memory small. */
const BACKUP_BLOCK_BYTES = 4 * 1024 * 1024;

/**
 * The blob a state file is backed up to, or undefined when its path could leave the request's
 * prefix. The share's content is the tenant's: a name of "." or ".." would be resolved by the URL
 * the storage SDK builds, and land under another slug's backups.
 */
export function backupBlobName(prefix: string, path: string): string | undefined {
  const segments = path.split('/');
  if (
    segments.some(
      (segment) => segment === '' || segment === '.' || segment === '..' || segment.includes('\\'),
    )
  )
    return undefined;
  return `${prefix}/files/${path}`;
}

async function* walk(
  directory: ShareDirectoryClient,
  path: string,
): AsyncGenerator<{ path: string; client: ShareFileClient }> {
  for await (const item of directory.listFilesAndDirectories()) {
    const child = path ? `${path}/${item.name}` : item.name;
    if (item.kind === 'directory') yield* walk(directory.getDirectoryClient(item.name), child);
    else yield { path: child, client: directory.getFileClient(item.name) };
  }
}
