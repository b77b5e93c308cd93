import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { azureFailureOf } from '../../shared/azure/azureErrors.js';
import { ensureManagedIdentity } from '../../shared/azure/managedIdentity.js';
import { ensureResourceGroup } from '../../shared/azure/resourceGroups.js';
import { BuiltInRoles, ensureRoleAssignment, type RoleGrant } from '../../shared/azure/roleAssignments.js';
import {
  brokerRolesPath,
  deployedCondition,
  loadBrokerRoles,
  type BrokerRoles,
} from '../../sandbox/sim/brokerRoles.js';
import { startAzureFixture, type AzureFixture } from './azureFixture.js';

/**
 * The broker runs with exactly the rights its deployment gives it: infra/brokerRoles.json, which
 * infra/main.bicep deploys and the simulator's bootstrap reads. These tests prove the grants the
 * broker makes (provision: the gateway's AcrPull and Key Vault Secrets User, its own Key Vault
 * Secrets Officer; renew-sas: its own Storage Blob Delegator and Storage Blob Data Contributor) are
 * allowed by that file's delegation condition, that anything else is refused with Azure's 403
 * AuthorizationFailed, and that taking a needed role out of the file breaks the operation that needs it.
 */
let t: AzureFixture | undefined;
const rg = 'claw-rights';

afterEach(async () => {
  await t?.sim.stop();
  t = undefined;
});

async function world(brokerRoles?: BrokerRoles) {
  t = await startAzureFixture(brokerRoles ? { brokerRoles } : {});
  await ensureResourceGroup(t.azure, { name: rg, slug: 'rights', location: 'westeurope' });
  const gateway = await ensureManagedIdentity(t.azure, {
    resourceGroup: rg,
    name: 'id-rights',
    slug: 'rights',
    location: 'westeurope',
  });
  const scope = `/subscriptions/${t.sim.subscriptionId}/resourceGroups/${rg}`;
  return { t, scope, gateway: gateway.value.principalId, broker: t.sim.broker.objectId };
}

/** The file with one role GUID taken out of every condition line. */
function withoutDelegated(roleGuid: string): BrokerRoles {
  const roles = loadBrokerRoles();
  return {
    roles: roles.roles.map((role) =>
      role.condition
        ? {
            ...role,
            condition: role.condition.map((line) =>
              line.replace(new RegExp(`${roleGuid},\\s*|,\\s*${roleGuid}`), ''),
            ),
          }
        : role,
    ),
  };
}

const grant = (scope: string, principalId: string, roleDefinitionGuid: string, label: string): RoleGrant => ({
  label,
  scope,
  principalId,
  roleDefinitionGuid,
});

describe('the broker’s rights', () => {
  it('are the roles of infra/brokerRoles.json, which the Bicep deploys through loadJsonContent', async () => {
    const { t } = await world();
    const file = loadBrokerRoles();
    const held = [...t.sim.arm.roleAssignments.values()].filter(
      (assignment) => assignment.principalId === t.sim.broker.objectId,
    );
    expect(held.map((assignment) => assignment.roleDefinitionId.split('/').pop()).sort()).toEqual(
      file.roles.map((role) => role.roleDefinitionId).sort(),
    );
    for (const role of file.roles) {
      const assignment = held.find((candidate) => candidate.roleDefinitionId.endsWith(role.roleDefinitionId));
      expect(assignment?.condition).toBe(deployedCondition(role, t.sim.broker.objectId)?.condition);
    }
    expect(held.map((assignment) => assignment.scope)).toEqual(
      held.map(() => `/subscriptions/${t.sim.subscriptionId}`),
    );
    const module = readFileSync(new URL('../../infra/modules/brokerRoles.bicep', import.meta.url), 'utf8');
    expect(module).toContain("loadJsonContent('../brokerRoles.json')");
    const main = readFileSync(new URL('../../infra/main.bicep', import.meta.url), 'utf8');
    expect(main).toContain("module brokerRoles 'modules/brokerRoles.bicep'");
    expect(main).not.toMatch(/roleDefinitions/);
    expect(brokerRolesPath).toMatch(/infra[/\\]brokerRoles\.json$/);
  });

  it('let it make every grant provision and renew-sas make', async () => {
    const { t, scope, gateway, broker } = await world();
    const grants = [
      grant(scope, gateway, BuiltInRoles.acrPull, 'gateway: AcrPull'),
      grant(scope, gateway, BuiltInRoles.keyVaultSecretsUser, 'gateway: Key Vault Secrets User'),
      grant(scope, broker, BuiltInRoles.keyVaultSecretsOfficer, 'broker: Key Vault Secrets Officer'),
      grant(scope, broker, BuiltInRoles.storageBlobDelegator, 'broker: Storage Blob Delegator'),
      grant(scope, broker, BuiltInRoles.storageBlobDataContributor, 'broker: Storage Blob Data Contributor'),
    ];
    for (const wanted of grants) {
      expect(await ensureRoleAssignment(t.azure, wanted)).toMatchObject({ status: 'present' });
    }
  });

  it('refuse, as Azure’s delegation condition does, any other role, a data role for another principal, and a user', async () => {
    const { t, scope, gateway, broker } = await world();
    const user = t.sim.identity.register({ displayName: 'someone', type: 'User' }).objectId;
    const owner = '8e3af657-a8ff-443c-a75c-2fe8c4bcb635';
    const refusals = [
      grant(scope, broker, owner, 'broker: Owner'),
      grant(scope, gateway, BuiltInRoles.keyVaultSecretsOfficer, 'gateway: Key Vault Secrets Officer'),
      grant(scope, gateway, BuiltInRoles.storageBlobDataContributor, 'gateway: Blob Data Contributor'),
    ];
    for (const refused of refusals) {
      const error = await ensureRoleAssignment(t.azure, refused).catch((e: unknown) => e);
      expect(azureFailureOf(error), refused.label).toMatchObject({
        code: 'AuthorizationFailed',
        status: 403,
      });
    }
    const toUser = await t.azure.authorization.roleAssignments
      .create(scope, randomUUID(), {
        roleDefinitionId: `/subscriptions/${t.sim.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${BuiltInRoles.acrPull}`,
        principalId: user,
        principalType: 'User',
      })
      .catch((e: unknown) => e);
    expect(azureFailureOf(toUser)).toMatchObject({ code: 'AuthorizationFailed', status: 403 });
    expect(azureFailureOf(toUser).message).toContain('Microsoft.Authorization/roleAssignments/write');
  });

  it.each([
    ['Key Vault Secrets Officer', 'provision', BuiltInRoles.keyVaultSecretsOfficer],
    ['Storage Blob Delegator', 'renew-sas', BuiltInRoles.storageBlobDelegator],
    ['Storage Blob Data Contributor', 'renew-sas', BuiltInRoles.storageBlobDataContributor],
  ])(
    'fail with AuthorizationFailed when %s is taken out of the file: %s cannot grant it',
    async (_name, _operation, roleGuid) => {
      const { t, scope, broker } = await world(withoutDelegated(roleGuid));
      const error = await ensureRoleAssignment(t.azure, grant(scope, broker, roleGuid, 'broker')).catch(
        (e: unknown) => e,
      );
      expect(azureFailureOf(error)).toMatchObject({ code: 'AuthorizationFailed', status: 403 });
    },
  );

  it('fail with AuthorizationFailed for every footprint write when Contributor is taken out of the file', async () => {
    const file = loadBrokerRoles();
    t = await startAzureFixture({
      brokerRoles: { roles: file.roles.filter((role) => role.roleName !== 'Contributor') },
    });
    const error = await ensureResourceGroup(t.azure, {
      name: rg,
      slug: 'rights',
      location: 'westeurope',
    }).catch((e: unknown) => e);
    expect(azureFailureOf(error)).toMatchObject({ code: 'AuthorizationFailed', status: 403 });
  });
});
