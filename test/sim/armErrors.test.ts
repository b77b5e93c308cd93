import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTrustedSimulator, type TrustedSimulator } from './simFixture.js';

describe("the simulator's ARM errors have ARM's shape and codes", () => {
  let t: TrustedSimulator;
  let token: string;
  const arm = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${t.sim.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return {
      status: response.status,
      body: (await response.json().catch(() => undefined)) as
        { error?: { code: string; message: string } } | undefined,
    };
  };
  const sub = () => `/subscriptions/${t.sim.subscriptionId}`;

  beforeAll(async () => {
    t = await startTrustedSimulator();
    token = (await t.credential.getToken(`${t.sim.url}/.default`)).token;
    await arm('PUT', `${sub()}/resourcegroups/claw-errors?api-version=2025-04-01`, {
      location: 'westeurope',
    });
  });
  afterAll(async () => {
    await t.sim.stop();
  });

  it('refuses an unknown api-version on resource groups with InvalidApiVersionParameter', async () => {
    const response = await arm('GET', `${sub()}/resourcegroups/claw-errors?api-version=2099-01-01`);
    expect(response.status).toBe(400);
    expect(response.body?.error?.code).toBe('InvalidApiVersionParameter');
  });

  it('refuses an unknown api-version on a provider type with NoRegisteredProviderFound', async () => {
    const response = await arm(
      'GET',
      `${sub()}/resourceGroups/claw-errors/providers/Microsoft.KeyVault/vaults/kv-x?api-version=2099-01-01`,
    );
    expect(response.status).toBe(400);
    expect(response.body?.error?.code).toBe('NoRegisteredProviderFound');
    expect(response.body?.error?.message).toContain('2026-02-01');
  });

  it('refuses a request without api-version with MissingApiVersionParameter', async () => {
    expect((await arm('GET', `${sub()}/resourcegroups/claw-errors`)).body?.error?.code).toBe(
      'MissingApiVersionParameter',
    );
  });

  it('refuses a PUT without location with LocationRequired', async () => {
    const response = await arm(
      'PUT',
      `${sub()}/resourceGroups/claw-errors/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-x?api-version=2024-11-30`,
      {},
    );
    expect(response).toMatchObject({ status: 400, body: { error: { code: 'LocationRequired' } } });
  });

  it('answers ResourceGroupNotFound for a resource in a missing group and ResourceNotFound for a missing resource', async () => {
    expect(
      (
        await arm(
          'GET',
          `${sub()}/resourceGroups/claw-nope/providers/Microsoft.KeyVault/vaults/kv-x?api-version=2026-02-01`,
        )
      ).body?.error?.code,
    ).toBe('ResourceGroupNotFound');
    expect(
      (
        await arm(
          'GET',
          `${sub()}/resourceGroups/claw-errors/providers/Microsoft.KeyVault/vaults/kv-x?api-version=2026-02-01`,
        )
      ).status,
    ).toBe(404);
  });

  it('answers 401 without a token and with a token for another audience', async () => {
    const anonymous = await fetch(`${t.sim.url}${sub()}/resourcegroups?api-version=2025-04-01`);
    expect(anonymous.status).toBe(401);
    const vaultToken = (await t.credential.getToken('https://vault.azure.net/.default')).token;
    const wrongAudience = await fetch(`${t.sim.url}${sub()}/resourcegroups?api-version=2025-04-01`, {
      headers: { authorization: `Bearer ${vaultToken}` },
    });
    expect(((await wrongAudience.json()) as { error: { code: string } }).error.code).toBe(
      'InvalidAuthenticationTokenAudience',
    );
  });

  describe('request bodies against the official spec (sandbox/sim/arm/specSchemas.ts)', () => {
    const rg = () => `${sub()}/resourceGroups/claw-errors/providers`;
    const refusal = (problem: string) => ({
      status: 400,
      body: {
        error: {
          code: 'InvalidRequestContent',
          message: `The request content was invalid and could not be deserialized: ${problem}.`,
        },
      },
    });

    it.each([
      [
        'a vault sku name outside the closed enum',
        `/Microsoft.KeyVault/vaults/kv-spec?api-version=2026-02-01`,
        {
          location: 'westeurope',
          properties: {
            tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47',
            sku: { family: 'A', name: 'basic' },
          },
        },
        "properties.sku.name: 'basic' is not one of standard, premium",
      ],
      [
        'a vault without the required tenantId, and a retention beyond 90 days',
        `/Microsoft.KeyVault/vaults/kv-spec?api-version=2026-02-01`,
        {
          location: 'westeurope',
          properties: { sku: { family: 'A', name: 'standard' }, softDeleteRetentionInDays: 365 },
        },
        'properties.tenantId: required; properties.softDeleteRetentionInDays: 365 is above the maximum 90',
      ],
      [
        'a storage account without kind',
        `/Microsoft.Storage/storageAccounts/stspec?api-version=2025-08-01`,
        { location: 'westeurope', sku: { name: 'Standard_LRS' } },
        'kind: required',
      ],
      [
        'a workspace sku outside the enum',
        `/Microsoft.OperationalInsights/workspaces/log-spec?api-version=2022-10-01`,
        { location: 'westeurope', properties: { sku: { name: 'Gold' } } },
        "properties.sku.name: 'Gold' is not one of Free, Standard, Premium, PerNode, PerGB2018, Standalone, CapacityReservation, LACluster",
      ],
      [
        'a container app identity without its type',
        `/Microsoft.App/containerApps/ca-spec?api-version=2025-07-01`,
        { location: 'westeurope', identity: { userAssignedIdentities: {} }, properties: {} },
        'identity.type: required',
      ],
    ])('refuses %s with InvalidRequestContent naming the property', async (_what, path, body, problem) => {
      expect(await arm('PUT', `${rg()}${path}`, body)).toEqual(refusal(problem));
    });

    it('ignores read-only properties a client sends, as ARM does', async () => {
      const put = await arm(
        'PUT',
        `${rg()}/Microsoft.ManagedIdentity/userAssignedIdentities/id-ro?api-version=2024-11-30`,
        { location: 'westeurope', properties: { principalId: 'mine', clientId: 'mine' } },
      );
      expect(put.status).toBe(201);
      const properties = (put.body as unknown as { properties: { principalId: string } }).properties;
      expect(properties.principalId).not.toBe('mine');
      expect(properties.principalId).toMatch(/^[0-9a-f-]{36}$/);
    });
  });
});
