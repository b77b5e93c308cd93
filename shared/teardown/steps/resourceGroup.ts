import { isNotFound } from '../../azure/azureErrors.js';
import { getOrUndefined } from '../../azure/ensure.js';
import { BuiltInRoles, removeRoleAssignments } from '../../azure/roleAssignments.js';
import type { TeardownPlan, VaultOutcome } from '../contracts.js';
import type { TeardownStepsDeps } from './deps.js';

/**
 * Removes the gateway identity's AcrPull on the shared image registry (a grant outside the
 * group, which would outlive it), then deletes the resource group and waits until it is gone.
 * Safe to run twice: no assignment left and a missing group are both done.
 */
export async function deleteResourceGroup(
  deps: Pick<TeardownStepsDeps, 'azure' | 'config'>,
  plan: TeardownPlan,
): Promise<void> {
  const { azure, config } = deps;
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
}

/**
 * After the group is gone its vault sits soft-deleted: kept for recovery, or purged when the
 * plan says so (asked, allowed, no purge protection). Safe to run twice: it looks first.
 */
export async function handleKeyVault(
  deps: Pick<TeardownStepsDeps, 'azure'>,
  plan: TeardownPlan,
): Promise<VaultOutcome> {
  const { azure } = deps;
  const vault = plan.keyVault;
  if (!vault?.location) return { outcome: 'absent' };
  const deleted = await getOrUndefined(() => azure.keyVaults.vaults.getDeleted(vault.name, vault.location));
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
}
