import { isNotFound } from './azureErrors.js';
import { BrokerError, ErrorCodes } from '../errors.js';
import type { AzureClients } from './azureClients.js';
import { driftOf, getOrUndefined, ownershipTags, type Ensured } from './ensure.js';
import { OWNERSHIP_TAG_VALUE, OWNERSHIP_TAGS } from '../domain/footprint.js';

export interface ResourceGroupFacts {
  id: string;
  /** Created by this call: nothing inside it exists yet. */
  created: boolean;
}

/**
 * Creates the slug's resource group or brings its ownership tags back. Idempotent: it reads first
 * and writes only when the group is missing or a tag drifted; tags set by others are kept.
 * Refuses (ResourceNotOwned) a group of that name the broker does not own: the broker never
 * adopts, changes or later deletes what it did not create.
 */
export async function ensureResourceGroup(
  azure: AzureClients,
  input: { name: string; slug: string; location: string },
): Promise<Ensured<ResourceGroupFacts>> {
  const tags = ownershipTags(input.slug);
  const existing = await getOrUndefined(() => azure.resources.resourceGroups.get(input.name));
  if (existing) {
    if (existing.tags?.[OWNERSHIP_TAGS.managedBy] !== OWNERSHIP_TAG_VALUE) {
      throw new BrokerError(
        ErrorCodes.ResourceNotOwned,
        `resource group ${input.name} exists but is not managed by claw-broker (no managed-by: claw-broker tag); refusing to use it`,
      );
    }
    const drift = driftOf({ tags }, existing);
    if (drift.length === 0) return { value: { id: existing.id!, created: false } };
    const updated = await azure.resources.resourceGroups.createOrUpdate(input.name, {
      location: existing.location,
      tags: { ...existing.tags, ...tags },
    });
    return {
      value: { id: updated.id!, created: false },
      change: { resource: `resource group ${input.name}`, action: 'updated', fields: drift },
    };
  }
  const created = await azure.resources.resourceGroups.createOrUpdate(input.name, {
    location: input.location,
    tags,
  });
  return {
    value: { id: created.id!, created: true },
    change: { resource: `resource group ${input.name}`, action: 'created' },
  };
}

/** Every resource in the group (type and name), for failure reports. Empty when the group is gone. */
export async function listResourcesInGroup(
  azure: AzureClients,
  resourceGroup: string,
): Promise<{ type: string; name: string }[]> {
  const resources: { type: string; name: string }[] = [];
  try {
    for await (const resource of azure.resources.resources.listByResourceGroup(resourceGroup)) {
      resources.push({ type: resource.type ?? 'unknown', name: resource.name ?? 'unknown' });
    }
  } catch (error) {
    if (isNotFound(error)) return [];
    throw error;
  }
  return resources.sort((a, b) => `${a.type}/${a.name}`.localeCompare(`${b.type}/${b.name}`));
}
