import { createHash } from 'node:crypto';
import type { AzureClients } from './azureClients.js';
import { codeOf, isNotFound, statusOf } from './azureErrors.js';
import { readUnlessNew, type Change, type EnsureOptions } from './ensure.js';

/** Built-in role definition ids (the same in every cloud and tenant). */
export const BuiltInRoles = {
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6',
  keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7',
  acrPull: '7f951dda-4ed3-4680-a7ca-43fe172d538d',
  /** The broker signs log-shipping SAS with a user-delegation key (renew-sas)... */
  storageBlobDelegator: 'db58b8e5-c6ad-4a2a-8342-4190687cbf4a',
  /** ...and a SAS can grant no more than its signer holds, so the signer also needs write. */
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe',
} as const;

export interface RoleGrant {
  /** For reports: "gateway identity: Key Vault Secrets User on kv-...". */
  readonly label: string;
  readonly scope: string;
  readonly roleDefinitionGuid: string;
  readonly principalId: string;
}

export type GrantOutcome =
  { status: 'present'; change?: Change | undefined } | { status: 'principal-not-found'; message: string };

/**
 * The assignment's name: a GUID derived from (scope, principal, role), as Bicep's
 * `guid(scope, principalId, roleDefinitionId)` does, so every run addresses the same assignment.
 */
export function roleAssignmentName(
  grant: Pick<RoleGrant, 'scope' | 'principalId' | 'roleDefinitionGuid'>,
): string {
  const hex = createHash('sha256')
    .update(`${grant.scope.toLowerCase()}\n${grant.principalId.toLowerCase()}\n${grant.roleDefinitionGuid}`)
    .digest('hex');
  // Shaped as an RFC 4122 version-5-style GUID (ARM requires a GUID name).
  const variant = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/**
 * Makes sure the principal holds the role at the scope. Idempotent: reads the deterministic
 * assignment first and writes only when it is missing (a deleted assignment is re-created: drift).
 * `principalType: ServicePrincipal` lets ARM accept a principal that has not replicated yet; when
 * ARM still answers PrincipalNotFound the outcome says so, and the caller waits and retries
 * instead of sleeping here. An equal assignment under another name (RoleAssignmentExists) counts
 * as present.
 */
export async function ensureRoleAssignment(
  azure: AzureClients,
  grant: RoleGrant,
  options: EnsureOptions = {},
): Promise<GrantOutcome> {
  const name = roleAssignmentName(grant);
  const assignments = azure.authorization.roleAssignments;
  const existing = await readUnlessNew(options.inNewGroup, () => assignments.get(grant.scope, name));
  if (existing) return { status: 'present' };
  const subscription = /^\/subscriptions\/([^/]+)/i.exec(grant.scope)?.[1] ?? azure.subscriptionId;
  try {
    await assignments.create(grant.scope, name, {
      roleDefinitionId: `/subscriptions/${subscription}/providers/Microsoft.Authorization/roleDefinitions/${grant.roleDefinitionGuid}`,
      principalId: grant.principalId,
      principalType: 'ServicePrincipal',
    });
  } catch (error) {
    if (codeOf(error) === 'PrincipalNotFound') {
      return {
        status: 'principal-not-found',
        message: `${grant.label}: principal ${grant.principalId} not found yet`,
      };
    }
    if (statusOf(error) === 409 && codeOf(error) === 'RoleAssignmentExists') return { status: 'present' };
    throw error;
  }
  return { status: 'present', change: { resource: `role assignment (${grant.label})`, action: 'created' } };
}

/**
 * Removes the principal's assignments of one role made directly at `scope` (under any name), for
 * grants that live outside a slug's resource group and so do not go with it (the gateway
 * identity's AcrPull on the shared registry). Safe to run twice: a second run finds none. Returns
 * how many it removed.
 */
export async function removeRoleAssignments(
  azure: AzureClients,
  grant: Pick<RoleGrant, 'scope' | 'principalId' | 'roleDefinitionGuid'>,
): Promise<number> {
  const assignments = azure.authorization.roleAssignments;
  let removed = 0;
  for await (const assignment of assignments.listForScope(grant.scope, {
    filter: `principalId eq '${grant.principalId}'`,
  })) {
    const sameScope = assignment.scope?.toLowerCase() === grant.scope.toLowerCase();
    const sameRole = assignment.roleDefinitionId?.toLowerCase().endsWith(`/${grant.roleDefinitionGuid}`);
    if (!sameScope || !sameRole || assignment.principalId !== grant.principalId || !assignment.name) continue;
    try {
      await assignments.delete(grant.scope, assignment.name);
      removed++;
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }
  return removed;
}
