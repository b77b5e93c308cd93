import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureKeyVault } from '../../shared/azure/keyVault.js';
import {
  deleteAndPurgeSecret,
  ensureSecret,
  isVaultAccessPending,
  parseSecretUri,
  readSecret,
  secretUri,
  writeSecret,
} from '../../shared/azure/keyVaultSecrets.js';
import { ensureManagedIdentity } from '../../shared/azure/managedIdentity.js';
import { ensureResourceGroup } from '../../shared/azure/resourceGroups.js';
import {
  BuiltInRoles,
  ensureRoleAssignment,
  roleAssignmentName,
} from '../../shared/azure/roleAssignments.js';
import { brokerPrincipalId } from '../../shared/azure/credential.js';
import { startAzureFixture, type AzureFixture } from './azureFixture.js';

/**
 * Contract tests of access: role assignments (deterministic, PrincipalNotFound as an outcome) and
 * Key Vault secrets (403 until the broker's grant propagates, write-once secrets, recovery, delete
 * and purge). The simulator's clock stands still until a test moves it.
 */
let t: AzureFixture;
const rg = 'claw-access';
let vaultId: string;
let vaultUri: string;
let principalId: string;

beforeAll(async () => {
  t = await startAzureFixture({ dataPlanePropagationSeconds: 30 });
  await ensureResourceGroup(t.azure, { name: rg, slug: 'access', location: 'westeurope' });
  const vault = await ensureKeyVault(t.azure, {
    resourceGroup: rg,
    name: 'kv-access-1',
    slug: 'access',
    location: 'westeurope',
    tenantId: t.sim.tenantId,
  });
  vaultId = vault.value.id;
  vaultUri = vault.value.vaultUri;
  principalId = (
    await ensureManagedIdentity(t.azure, {
      resourceGroup: rg,
      name: 'id-access',
      slug: 'access',
      location: 'westeurope',
    })
  ).value.principalId;
});

afterAll(async () => {
  await t?.sim.stop();
});

describe('role assignments', () => {
  it('names an assignment by scope, principal and role: the same inputs always give the same GUID', () => {
    const grant = { scope: vaultId, principalId, roleDefinitionGuid: BuiltInRoles.keyVaultSecretsUser };
    expect(roleAssignmentName(grant)).toBe(roleAssignmentName({ ...grant, scope: vaultId.toUpperCase() }));
    expect(roleAssignmentName(grant)).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    expect(roleAssignmentName(grant)).not.toBe(
      roleAssignmentName({ ...grant, roleDefinitionGuid: BuiltInRoles.acrPull }),
    );
  });

  it('grants once, as ServicePrincipal, and only reads on the next run', async () => {
    const grant = {
      label: 'test',
      scope: vaultId,
      principalId,
      roleDefinitionGuid: BuiltInRoles.keyVaultSecretsUser,
    };
    const first = await ensureRoleAssignment(t.azure, grant);
    expect(first).toMatchObject({ status: 'present', change: { action: 'created' } });
    const stored = [...t.sim.arm.roleAssignments.values()].find((a) => a.name === roleAssignmentName(grant));
    expect(stored?.principalType).toBe('ServicePrincipal');
    const before = t.lastSeq();
    expect(await ensureRoleAssignment(t.azure, grant)).toEqual({ status: 'present' });
    expect(t.armWrites(before)).toEqual([]);
  });

  it('answers "principal not found" instead of failing while the directory has not replicated the principal', async () => {
    t.sim.admin.addFault({ kind: 'principalNotFound', path: '/roleAssignments/', count: 1 });
    const grant = {
      label: 'gateway AcrPull',
      scope: vaultId,
      principalId,
      roleDefinitionGuid: BuiltInRoles.acrPull,
    };
    expect(await ensureRoleAssignment(t.azure, grant)).toEqual({
      status: 'principal-not-found',
      message: `gateway AcrPull: principal ${principalId} not found yet`,
    });
    expect(await ensureRoleAssignment(t.azure, grant)).toMatchObject({
      status: 'present',
      change: { action: 'created' },
    });
  });

  it('counts an equal assignment made by someone else under another name as present', async () => {
    const groupScope = vaultId.replace(/\/providers\/.*$/i, '');
    await t.azure.authorization.roleAssignments.create(groupScope, '0b3f6f4e-52a4-4b9e-9c1d-5a7e8f9a0b1c', {
      roleDefinitionId: `/subscriptions/${t.sim.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${BuiltInRoles.acrPull}`,
      principalId,
      principalType: 'ServicePrincipal',
    });
    const grant = {
      label: 'other',
      scope: groupScope,
      principalId,
      roleDefinitionGuid: BuiltInRoles.acrPull,
    };
    expect(await ensureRoleAssignment(t.azure, grant)).toEqual({ status: 'present' });
  });
});

describe('Key Vault secrets', () => {
  it('finds the broker’s own object id in its token', async () => {
    expect(await brokerPrincipalId(t.config, t.credential)).toBe(t.sim.broker.objectId);
  });

  it('reports "access pending" while the broker’s fresh grant has not propagated, then writes', async () => {
    const broker = await brokerPrincipalId(t.config, t.credential);
    await ensureRoleAssignment(t.azure, {
      label: 'broker',
      scope: vaultId,
      principalId: broker,
      roleDefinitionGuid: BuiltInRoles.keyVaultSecretsOfficer,
    });
    const vault = t.azure.secrets(vaultUri);
    const error = await readSecret(vault, 'gateway-token').catch((e: unknown) => e);
    expect(isVaultAccessPending(error)).toBe(true);

    t.sim.admin.advance(31_000);
    let generated = 0;
    const produce = () => `value-${++generated}-0123456789abcdef`;
    expect(await ensureSecret(vault, 'gateway-token', produce)).toBe(true);
    expect(await ensureSecret(vault, 'gateway-token', produce)).toBe(false);
    expect(await readSecret(vault, 'gateway-token')).toBe('value-1-0123456789abcdef');
    expect(generated).toBe(1);
  });

  it('deletes and purges a secret so no copy stays recoverable, and writes a soft-deleted name again by recovering it', async () => {
    const vault = t.azure.secrets(vaultUri);
    await writeSecret(vault, 'staged', 'staged-value-0123456789');
    await deleteAndPurgeSecret(vault, 'staged', 10);
    expect(await readSecret(vault, 'staged')).toBeUndefined();
    expect(t.sim.keyVault.getVault('kv-access-1')?.secrets.has('staged')).toBe(false);

    // A crash between the delete and the purge: the next run purges the deleted copy left behind.
    await writeSecret(vault, 'half-moved', 'staged-value-0123456789');
    await vault
      .beginDeleteSecret('half-moved', { intervalInMs: 10 })
      .then((poller) => poller.pollUntilDone());
    expect(t.sim.keyVault.getVault('kv-access-1')?.secrets.has('half-moved')).toBe(true);
    await deleteAndPurgeSecret(vault, 'half-moved', 10);
    expect(t.sim.keyVault.getVault('kv-access-1')?.secrets.has('half-moved')).toBe(false);

    await writeSecret(vault, 'kept', 'first-value-0123456789');
    await vault.beginDeleteSecret('kept', { intervalInMs: 10 }).then((poller) => poller.pollUntilDone());
    await writeSecret(vault, 'kept', 'second-value-0123456789', {}, 10);
    expect(await readSecret(vault, 'kept')).toBe('second-value-0123456789');
  });

  it('does not call a secret removed when the vault refuses the purge (purge protection): the caller waits and fails, naming the vault', async () => {
    const vault = t.azure.secrets(vaultUri);
    const resource = [...t.sim.arm.resources.values()].find(
      (r) => r.type === 'Microsoft.KeyVault/vaults' && r.name === 'kv-access-1',
    )!;
    const properties = resource.body['properties'] as Record<string, unknown>;
    properties['enablePurgeProtection'] = true;
    try {
      await writeSecret(vault, 'protected', 'staged-value-0123456789');
      const error = await deleteAndPurgeSecret(vault, 'protected', 10).catch((e: unknown) => e);
      expect(isVaultAccessPending(error)).toBe(true);
      expect(t.sim.keyVault.getVault('kv-access-1')?.secrets.get('protected')?.deleted).toBeDefined();
    } finally {
      properties['enablePurgeProtection'] = false;
    }
  });

  it('splits and builds versionless secret URIs', () => {
    expect(secretUri('https://kv-a.vault.azure.net/', 'gateway-token')).toBe(
      'https://kv-a.vault.azure.net/secrets/gateway-token',
    );
    expect(
      parseSecretUri('https://127.0.0.1:4443/secrets/telegram/0123456789abcdef0123456789abcdef'),
    ).toEqual({
      vaultUri: 'https://127.0.0.1:4443/',
      name: 'telegram',
      version: '0123456789abcdef0123456789abcdef',
    });
  });
});
