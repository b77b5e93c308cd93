import { AuthorizationManagementClient } from '@azure/arm-authorization';
import { ManagedServiceIdentityClient } from '@azure/arm-msi';
import { ResourceManagementClient } from '@azure/arm-resources';
import { ClientSecretCredential } from '@azure/identity';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTrustedSimulator, type TrustedSimulator } from './simFixture.js';

const acrPull = '7f951dda-4ed3-4680-a7ca-43fe172d538d';

describe('identities and role assignments in the simulator', () => {
  let t: TrustedSimulator;
  let msi: ManagedServiceIdentityClient;
  let authorization: AuthorizationManagementClient;
  const groupScope = () => `/subscriptions/${t.sim.subscriptionId}/resourceGroups/claw-auth`;
  const acrPullId = () =>
    `/subscriptions/${t.sim.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${acrPull}`;

  beforeAll(async () => {
    t = await startTrustedSimulator({ principalPropagationSeconds: 60 });
    msi = new ManagedServiceIdentityClient(t.credential, t.sim.subscriptionId, t.armOptions);
    authorization = new AuthorizationManagementClient(t.credential, t.sim.subscriptionId, t.armOptions);
    await new ResourceManagementClient(
      t.credential,
      t.sim.subscriptionId,
      t.armOptions,
    ).resourceGroups.createOrUpdate('claw-auth', {
      location: 'westeurope',
    });
  });
  afterAll(async () => {
    await t.sim.stop();
  });

  it('creates a user-assigned identity synchronously with stable principal and client ids', async () => {
    const created = await msi.userAssignedIdentities.createOrUpdate('claw-auth', 'id-claw-gateway', {
      location: 'westeurope',
    });
    expect(created.principalId).toMatch(/^[0-9a-f-]{36}$/);
    const again = await msi.userAssignedIdentities.createOrUpdate('claw-auth', 'id-claw-gateway', {
      location: 'westeurope',
      tags: { a: 'b' },
    });
    expect([again.principalId, again.clientId]).toEqual([created.principalId, created.clientId]);
    expect(t.sim.identity.get(created.principalId!)?.managedIdentityId).toBe(created.id);
  });

  it('refuses to assign a role to a fresh principal with PrincipalNotFound unless principalType is set or it has propagated', async () => {
    const identity = await msi.userAssignedIdentities.createOrUpdate('claw-auth', 'id-claw-fresh', {
      location: 'westeurope',
    });
    const assign = (principalType?: 'ServicePrincipal') =>
      authorization.roleAssignments.create(groupScope(), randomUUID(), {
        roleDefinitionId: acrPullId(),
        principalId: identity.principalId!,
        ...(principalType ? { principalType } : {}),
      });
    await expect(assign()).rejects.toMatchObject({ statusCode: 400, code: 'PrincipalNotFound' });
    const typed = await assign('ServicePrincipal');
    expect(typed.principalType).toBe('ServicePrincipal');
    await authorization.roleAssignments.delete(groupScope(), typed.name!);
    t.sim.admin.advance(60_000);
    expect((await assign()).roleDefinitionId).toBe(acrPullId());
  });

  it('injects PrincipalNotFound as a fault even with principalType', async () => {
    const identity = await msi.userAssignedIdentities.createOrUpdate('claw-auth', 'id-claw-faulted', {
      location: 'westeurope',
    });
    t.sim.admin.addFault({ kind: 'principalNotFound', count: 1 });
    const assign = () =>
      authorization.roleAssignments.create(groupScope(), randomUUID(), {
        roleDefinitionId: acrPullId(),
        principalId: identity.principalId!,
        principalType: 'ServicePrincipal',
      });
    await expect(assign()).rejects.toMatchObject({ code: 'PrincipalNotFound' });
    await expect(assign()).resolves.toMatchObject({ principalId: identity.principalId });
  });

  it('refuses a second assignment of the same role to the same principal at the same scope', async () => {
    const identity = await msi.userAssignedIdentities.createOrUpdate('claw-auth', 'id-claw-dup', {
      location: 'westeurope',
    });
    const body = {
      roleDefinitionId: acrPullId(),
      principalId: identity.principalId!,
      principalType: 'ServicePrincipal' as const,
    };
    const name = randomUUID();
    await authorization.roleAssignments.create(groupScope(), name, body);
    await expect(authorization.roleAssignments.create(groupScope(), name, body)).resolves.toMatchObject({
      name,
    });
    await expect(
      authorization.roleAssignments.create(groupScope(), randomUUID(), body),
    ).rejects.toMatchObject({
      statusCode: 409,
      code: 'RoleAssignmentExists',
    });
    const listed: string[] = [];
    for await (const assignment of authorization.roleAssignments.listForScope(groupScope(), {
      filter: `principalId eq '${identity.principalId!}'`,
    })) {
      listed.push(assignment.name!);
    }
    expect(listed).toEqual([name]);
  });

  it('finds the built-in role definitions the broker uses by name', async () => {
    const scope = `/subscriptions/${t.sim.subscriptionId}`;
    const found: Record<string, string> = {};
    for (const roleName of [
      'AcrPull',
      'Key Vault Secrets User',
      'Key Vault Secrets Officer',
      'Storage Blob Delegator',
      'Storage Blob Data Contributor',
    ]) {
      for await (const role of authorization.roleDefinitions.list(scope, {
        filter: `roleName eq '${roleName}'`,
      }))
        found[roleName] = role.name!;
    }
    expect(found).toEqual({
      AcrPull: acrPull,
      'Key Vault Secrets User': '4633458b-17de-408a-b874-0445c86b69e6',
      'Key Vault Secrets Officer': 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7',
      'Storage Blob Delegator': 'db58b8e5-c6ad-4a2a-8342-4190687cbf4a',
      'Storage Blob Data Contributor': 'ba92f5b4-2d11-453d-a403-e96b0029c9fe',
    });
    expect((await authorization.roleDefinitions.get(scope, acrPull)).roleName).toBe('AcrPull');
  });

  it('answers AuthorizationFailed to a principal without a control-plane role, and invalid_client to a wrong secret', async () => {
    t.sim.identity.register({
      displayName: 'stranger',
      appId: 'c0ffee00-0000-4000-8000-000000000001',
      clientSecret: 'stranger-secret',
    });
    const stranger = new ClientSecretCredential(
      t.sim.tenantId,
      'c0ffee00-0000-4000-8000-000000000001',
      'stranger-secret',
      {
        authorityHost: t.sim.url,
        disableInstanceDiscovery: true,
      },
    );
    const client = new ResourceManagementClient(stranger, t.sim.subscriptionId, t.armOptions);
    await expect(
      client.resourceGroups.createOrUpdate('claw-stranger', { location: 'westeurope' }),
    ).rejects.toMatchObject({
      statusCode: 403,
      code: 'AuthorizationFailed',
    });
    const wrong = new ClientSecretCredential(t.sim.tenantId, t.sim.broker.clientId, 'not-the-secret', {
      authorityHost: t.sim.url,
      disableInstanceDiscovery: true,
    });
    await expect(wrong.getToken(`${t.sim.url}/.default`)).rejects.toThrow(/AADSTS7000215/);
  });
});
