import { formatDuration } from '../duration.js';
import type { TeardownPlan } from './contracts.js';

/** What a teardown will do, one line each, for the approval message. Pure: orchestrations use it. */
export function describeTeardown(plan: TeardownPlan, reason?: string): string[] {
  const lines: string[] = [];
  if (reason) lines.push(`reason given: ${reason}`);
  if (plan.storageAccount) {
    lines.push(
      `first copies the state share ${plan.stateShare} of ${plan.storageAccount} to the broker's storage, kept ${formatDuration(plan.backupRetentionMs)}`,
    );
  }
  if (plan.groupExists) {
    const listed = plan.resources
      .slice(0, 12)
      .map((r) => `${r.type.split('/').pop() ?? r.type} ${r.name}`)
      .join(', ');
    lines.push(
      `DELETES resource group ${plan.resourceGroup} and its ${plan.resources.length} resource(s)${listed ? `: ${listed}` : ''}${plan.resources.length > 12 ? ', ...' : ''}`,
    );
  }
  if (plan.keyVault) {
    lines.push(
      plan.purgeKeyVault
        ? `PURGES Key Vault ${plan.keyVault.name} after deletion: its secrets cannot be recovered`
        : `keeps Key Vault ${plan.keyVault.name} soft-deleted, recoverable for its retention period${plan.purgeRefusal ? ` (a purge was asked for, but ${plan.purgeRefusal})` : ''}`,
    );
  }
  if (plan.entra.application) lines.push(`removes the Entra app registration ${plan.entraNames.application}`);
  if (plan.entra.group)
    lines.push(`removes the Entra group ${plan.entraNames.group} (its members lose access)`);
  for (const object of plan.entraLeftAlone ?? []) lines.push(describeLeftAlone(object));
  lines.push(`marks ${plan.slug} deleted in the registry`);
  return lines;
}

/** An Entra object of the footprint's name that teardown leaves alone, and why. */
export function describeLeftAlone(object: NonNullable<TeardownPlan['entraLeftAlone']>[number]): string {
  const what = object.kind === 'application' ? 'app registration' : 'group';
  return `leaves the Entra ${what} ${object.name} (object id ${object.id}) alone: it exists but is not owned by claw-broker`;
}
