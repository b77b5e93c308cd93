import { BuiltInRoles, ensureRoleAssignment, type RoleGrant } from '../../azure/roleAssignments.js';
import type { StepInput } from '../contracts.js';
import { asProvisionOutcome, done, fresh, need, type StepContext } from './context.js';

/**
 * The gateway identity gets Key Vault Secrets User on the vault and AcrPull on the image
 * registry; the broker gets Key Vault Secrets Officer on the vault (to write the slug's
 * secrets). Idempotent: deterministic assignment names, read before written. A principal ARM
 * does not know yet makes the step "not yet" after the other grants are made.
 */
export function roleAssignmentsStep(ctx: StepContext, input: StepInput) {
  const { deps, config, azure } = ctx;
  return asProvisionOutcome(async () => {
    const identity = need(input, 'identity');
    const vault = need(input, 'keyVault');
    const broker = await deps.brokerPrincipalId();
    const grants: RoleGrant[] = [
      {
        label: 'gateway identity: Key Vault Secrets User',
        scope: vault.id,
        roleDefinitionGuid: BuiltInRoles.keyVaultSecretsUser,
        principalId: identity.principalId,
      },
      {
        label: 'gateway identity: AcrPull',
        scope: config.image.registryId,
        roleDefinitionGuid: BuiltInRoles.acrPull,
        principalId: identity.principalId,
      },
      {
        label: 'broker: Key Vault Secrets Officer',
        scope: vault.id,
        roleDefinitionGuid: BuiltInRoles.keyVaultSecretsOfficer,
        principalId: broker,
      },
    ];
    // Grants on the vault are new with a new group; the registry's lie outside it and are read.
    const outcomes = await Promise.all(
      grants.map((grant) => ensureRoleAssignment(azure, grant, grant.scope === vault.id ? fresh(input) : {})),
    );
    const pending = outcomes.flatMap((outcome) =>
      outcome.status === 'principal-not-found' ? [outcome.message] : [],
    );
    if (pending.length > 0) return { status: 'not-yet', reason: pending.join('; ') };
    return done(
      { granted: grants.length },
      outcomes.map((outcome) => (outcome.status === 'present' ? outcome.change : undefined)),
    );
  });
}
