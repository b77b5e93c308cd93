import type { AzureClients } from './azureClients.js';
import { driftOf, ownershipTags, readUnlessNew, type EnsureOptions, type Ensured } from './ensure.js';

export interface IdentityFacts {
  id: string;
  principalId: string;
  clientId: string;
}

/**
 * The slug's user-assigned identity (the gateway identity: pulls the image, reads Key Vault).
 * Idempotent: read first; created when missing, tags repaired when drifted. Its principal keeps
 * its object id across re-runs, so role assignments made for it stay valid.
 */
export async function ensureManagedIdentity(
  azure: AzureClients,
  input: { resourceGroup: string; name: string; slug: string; location: string },
  options: EnsureOptions = {},
): Promise<Ensured<IdentityFacts>> {
  const tags = ownershipTags(input.slug);
  const existing = await readUnlessNew(options.inNewGroup, () =>
    azure.identities.userAssignedIdentities.get(input.resourceGroup, input.name),
  );
  const drift = existing ? driftOf({ tags }, existing) : [];
  if (existing && drift.length === 0) return { value: factsOf(existing) };
  const written = await azure.identities.userAssignedIdentities.createOrUpdate(
    input.resourceGroup,
    input.name,
    {
      location: existing?.location ?? input.location,
      tags: { ...existing?.tags, ...tags },
    },
  );
  return {
    value: factsOf(written),
    change: existing
      ? { resource: `managed identity ${input.name}`, action: 'updated', fields: drift }
      : { resource: `managed identity ${input.name}`, action: 'created' },
  };
}

function factsOf(identity: { id?: string; principalId?: string; clientId?: string }): IdentityFacts {
  return { id: identity.id!, principalId: identity.principalId!, clientId: identity.clientId! };
}
