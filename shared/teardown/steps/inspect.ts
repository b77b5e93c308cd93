import type { AzureClients } from '../../azure/azureClients.js';
import { getOrUndefined } from '../../azure/ensure.js';
import { readRecorded, type OwnedObjectKind } from '../../azure/entra.js';
import { OWNERSHIP_TAGS, OWNERSHIP_TAG_VALUE, footprintNames } from '../../domain/footprint.js';
import { entraObjectsOf, type EnvironmentRecord } from '../../storage/environmentRegistry.js';
import type { GroupResource, InspectInput, Inspection, TeardownPlan } from '../contracts.js';
import { describeLeftAlone } from '../describe.js';
import type { TeardownStepsDeps } from './deps.js';

const VAULT_TYPE = 'microsoft.keyvault/vaults';
const STORAGE_TYPE = 'microsoft.storage/storageaccounts';
const IDENTITY_TYPE = 'microsoft.managedidentity/userassignedidentities';

type FoundResource = GroupResource & { owned: boolean; location?: string | undefined };

/** Every resource in the group, each marked owned when it carries the broker's tags for this slug. */
async function groupResources(azure: AzureClients, resourceGroup: string, slug: string) {
  const resources: FoundResource[] = [];
  for await (const resource of azure.resources.resources.listByResourceGroup(resourceGroup)) {
    const tags = resource.tags ?? {};
    resources.push({
      type: resource.type ?? 'unknown',
      name: resource.name ?? 'unknown',
      owned: tags[OWNERSHIP_TAGS.managedBy] === OWNERSHIP_TAG_VALUE && tags[OWNERSHIP_TAGS.slug] === slug,
      location: resource.location,
    });
  }
  return resources;
}

/**
 * The slug's Entra application and group that are the broker's, and those found by name but left
 * alone (not the broker's).
 */
async function ownedEntraObjects(
  deps: Pick<TeardownStepsDeps, 'entra' | 'config' | 'brokerPrincipalId'>,
  record: EnvironmentRecord | undefined,
  entraNames: TeardownPlan['entraNames'],
) {
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
    (await readRecorded(kind, entry, read, deps.config.provisioning.propagationTimeoutMs)) ?? (await find());
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
  return { application, entraGroup, entraLeftAlone };
}

/** The slug's Key Vault: the one in the group, else (the group gone) its derived name. */
async function keyVaultOf(
  deps: Pick<TeardownStepsDeps, 'azure' | 'config'>,
  slug: string,
  record: EnvironmentRecord | undefined,
  resourceGroup: string,
  groupLocation: string | undefined,
  resources: FoundResource[],
): Promise<TeardownPlan['keyVault']> {
  const { azure, config } = deps;
  const vaultResource = resources.find((r) => r.type.toLowerCase() === VAULT_TYPE);
  let keyVault: TeardownPlan['keyVault'];
  if (vaultResource) {
    const vault = await getOrUndefined(() => azure.keyVaults.vaults.get(resourceGroup, vaultResource.name));
    keyVault = {
      name: vaultResource.name,
      location: vault?.location ?? vaultResource.location ?? groupLocation ?? '',
      purgeProtection: vault?.properties.enablePurgeProtection === true,
    };
  } else if (record) {
    // The group is gone already (a retry): the vault may sit soft-deleted under its derived name.
    const names = footprintNames(slug, { salt: config.nameSalt, incarnation: record.incarnation });
    keyVault = {
      name: names.keyVault,
      location: groupLocation ?? config.azure.location,
      purgeProtection: false,
    };
  }
  return keyVault;
}

/**
 * Finds what teardown would remove, read-only. Refused when the group is not the broker's or
 * holds a resource the broker did not create; `gone` when there is nothing left to remove.
 */
export async function inspect(deps: TeardownStepsDeps, input: InspectInput): Promise<Inspection> {
  const { azure, config, registry } = deps;
  const record = await registry.get(input.slug);
  const resourceGroup = `claw-${input.slug}`;
  const entraNames = { application: `claw-${input.slug}`, group: `shire-${input.slug}` };
  const group = await getOrUndefined(() => azure.resources.resourceGroups.get(resourceGroup));
  if (group) {
    const tags = group.tags ?? {};
    if (tags[OWNERSHIP_TAGS.managedBy] !== OWNERSHIP_TAG_VALUE || tags[OWNERSHIP_TAGS.slug] !== input.slug) {
      return {
        kind: 'refused',
        reason: `resource group ${resourceGroup} is not managed by claw-broker for ${input.slug} (tags ${OWNERSHIP_TAGS.managedBy}=${OWNERSHIP_TAG_VALUE}, ${OWNERSHIP_TAGS.slug}=${input.slug} missing); nothing was deleted`,
      };
    }
  }
  const resources = group ? await groupResources(azure, resourceGroup, input.slug) : [];
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
  const { application, entraGroup, entraLeftAlone } = await ownedEntraObjects(deps, record, entraNames);
  if (!group && !application && !entraGroup && (!record || record.state === 'deleted')) {
    return {
      kind: 'gone',
      reason: `${input.slug} is already gone: no resource group, no Entra objects of claw-broker${entraLeftAlone.map((o) => `; ${describeLeftAlone(o)}`).join('')}`,
    };
  }

  const keyVault = await keyVaultOf(deps, input.slug, record, resourceGroup, group?.location, resources);
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
}
