import type { Vault, VaultProperties } from '@azure/arm-keyvault';
import { BrokerError, ErrorCodes } from '../errors.js';
import type { AzureClients } from './azureClients.js';
import { driftOf, getOrUndefined, ownershipTags, type Ensured } from './ensure.js';

export interface VaultFacts {
  id: string;
  /** `https://<vault>.vault.azure.net/`, with the trailing slash. */
  vaultUri: string;
}

/** Days a deleted vault (and its name) is kept; the broker never turns soft delete off. */
export const KEY_VAULT_SOFT_DELETE_DAYS = 90;

/**
 * The slug's Key Vault: RBAC mode (no access policies: the gateway identity and the broker get
 * roles), soft delete on, standard SKU. Idempotent: read first; created when missing, recovered
 * when the same vault sits soft-deleted (its secrets come back with it), and its security settings
 * put back when they drifted (RBAC mode, soft delete, public access, tags).
 */
export async function ensureKeyVault(
  azure: AzureClients,
  input: { resourceGroup: string; name: string; slug: string; location: string; tenantId: string },
): Promise<Ensured<VaultFacts>> {
  const tags = ownershipTags(input.slug);
  const desired: VaultProperties = {
    tenantId: input.tenantId,
    sku: { family: 'A', name: 'standard' },
    enableRbacAuthorization: true,
    enableSoftDelete: true,
    softDeleteRetentionInDays: KEY_VAULT_SOFT_DELETE_DAYS,
    publicNetworkAccess: 'Enabled',
    accessPolicies: [],
  };
  const resource = `Key Vault ${input.name}`;
  const existing = await getOrUndefined(() => azure.keyVaults.vaults.get(input.resourceGroup, input.name));
  if (existing) {
    // A GET may leave these out (the 2026-02-01 getVault example shows none of them); absent, each
    // is its spec default (enableRbacAuthorization true, enableSoftDelete true, publicNetworkAccess
    // "enabled"), so only a value shown and different is drift.
    const shown = existing.properties;
    const drift = driftOf(
      {
        tags,
        properties: {
          enableRbacAuthorization: true,
          enableSoftDelete: true,
          publicNetworkAccess: 'Enabled',
        },
      },
      {
        ...existing,
        properties: {
          ...shown,
          enableRbacAuthorization: shown.enableRbacAuthorization ?? true,
          enableSoftDelete: shown.enableSoftDelete ?? true,
          publicNetworkAccess: shown.publicNetworkAccess ?? 'enabled',
        },
      },
    );
    if (existing.properties.provisioningState === 'Failed') drift.push('provisioningState (Failed)');
    if (drift.length === 0) return { value: factsOf(existing) };
    const updated = await azure.keyVaults.vaults.beginCreateOrUpdateAndWait(
      input.resourceGroup,
      input.name,
      {
        location: existing.location!,
        tags: { ...existing.tags, ...tags },
        properties: { ...desired, softDeleteRetentionInDays: existing.properties.softDeleteRetentionInDays },
      },
      azure.poll,
    );
    return { value: factsOf(updated), change: { resource, action: 'updated', fields: drift } };
  }

  const deleted = await getOrUndefined(() => azure.keyVaults.vaults.getDeleted(input.name, input.location));
  const ours =
    deleted?.properties?.vaultId !== undefined &&
    deleted.properties.vaultId
      .toLowerCase()
      .includes(`/resourcegroups/${input.resourceGroup.toLowerCase()}/`);
  if (deleted && !ours) {
    throw new BrokerError(
      ErrorCodes.ResourceNotOwned,
      `Key Vault name ${input.name} is reserved by a soft-deleted vault outside ${input.resourceGroup}`,
    );
  }
  const created = await azure.keyVaults.vaults.beginCreateOrUpdateAndWait(
    input.resourceGroup,
    input.name,
    {
      location: input.location,
      tags,
      properties: deleted ? { ...desired, createMode: 'recover' } : desired,
    },
    azure.poll,
  );
  return { value: factsOf(created), change: { resource, action: deleted ? 'recovered' : 'created' } };
}

/**
 * Whether a vault name can be used by this footprint: free, or already this footprint's vault
 * (live or soft-deleted in its resource group). A name held elsewhere, including by a vault soft-
 * deleted by an earlier incarnation's teardown, is not.
 */
export async function keyVaultNameUsable(
  azure: AzureClients,
  input: { resourceGroup: string; name: string },
): Promise<boolean> {
  const own = await getOrUndefined(() => azure.keyVaults.vaults.get(input.resourceGroup, input.name));
  if (own) return true;
  const answer = await azure.keyVaults.vaults.checkNameAvailability({
    name: input.name,
    type: 'Microsoft.KeyVault/vaults',
  });
  return answer.nameAvailable === true;
}

function factsOf(vault: Vault): VaultFacts {
  const uri = vault.properties.vaultUri!;
  return { id: vault.id!, vaultUri: uri.endsWith('/') ? uri : `${uri}/` };
}
