import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureKeyVault } from '../../shared/azure/keyVault.js';
import { ensureResourceGroup } from '../../shared/azure/resourceGroups.js';
import { BuiltInRoles, ensureRoleAssignment } from '../../shared/azure/roleAssignments.js';
import { EntraClient } from '../../shared/azure/entra.js';
import { footprintNames } from '../../shared/domain/footprint.js';
import { BrokerError, ErrorCodes } from '../../shared/errors.js';
import { renderOpenClawConfig } from '../../shared/openclaw/renderConfig.js';
import type { PrepareInput, ProvisionRequest, StepInput } from '../../shared/provisioning/contracts.js';
import type { GraphSurface } from '../../sandbox/sim/graph.js';
import {
  asProvisionOutcome as asStepOutcome,
  createProvisionSteps,
} from '../../shared/provisioning/provisionSteps.js';
import type {
  EnvironmentMutation,
  EnvironmentRecord,
  EnvironmentRegistry,
} from '../../shared/storage/environmentRegistry.js';
import { mountGraph, startAzureFixture, type AzureFixture } from './azureFixture.js';

/**
 * The provisioning steps' own decisions, with the simulator for Azure and an in-memory registry:
 * the audit gate before anything is deployed, the incarnation when old names are still reserved,
 * and how errors become outcomes.
 */
class MemoryRegistry {
  readonly records = new Map<string, EnvironmentRecord>();
  writes = 0;
  async get(slug: string): Promise<EnvironmentRecord | undefined> {
    return this.records.get(slug);
  }
  async update(slug: string, mutate: EnvironmentMutation): Promise<EnvironmentRecord | undefined> {
    const next = mutate(this.records.get(slug));
    if (!next) return this.records.get(slug);
    this.writes++;
    const now = new Date().toISOString();
    const record = { ...next, createdAt: now, updatedAt: now, etag: String(this.writes) };
    this.records.set(slug, record);
    return record;
  }
}

let t: AzureFixture;
let graph: GraphSurface;

beforeAll(async () => {
  t = await startAzureFixture();
  graph = mountGraph(t);
});

afterAll(async () => {
  await t?.sim.stop();
});

function steps(registry: MemoryRegistry, renderConfig = renderOpenClawConfig) {
  return createProvisionSteps({
    config: t.config,
    azure: t.azure,
    entra: new EntraClient(t.credential, t.config.azure.graphEndpoint),
    registry: registry as unknown as EnvironmentRegistry,
    brokerPrincipalId: async () => t.sim.broker.objectId,
    probe: async () => ({ ready: true }),
    renderConfig,
  });
}

function request(slug: string, params: Partial<ProvisionRequest['params']> = {}): PrepareInput {
  return {
    startedAt: '2026-11-22T08:00:00.000Z',
    request: {
      schemaVersion: 1,
      requestId: `req-${slug}`,
      op: 'provision',
      slug,
      params: { channels: [], allowedIdentities: [], owners: [], ...params },
      requestedBy: { kind: 'operator', id: 'tester' },
      requestedAt: '2026-11-22T08:00:00Z',
    },
  };
}

describe('preparing a provision', () => {
  it('refuses a config that fails the security audit, with the finding, before touching Azure or the registry', async () => {
    const registry = new MemoryRegistry();
    const insecure: typeof renderOpenClawConfig = (input) => {
      const rendered = renderOpenClawConfig(input);
      const config = JSON.parse(rendered.text) as { gateway: { controlUi: Record<string, unknown> } };
      config.gateway.controlUi['dangerouslyDisableDeviceAuth'] = true;
      return { ...rendered, text: JSON.stringify(config) };
    };
    const before = t.lastSeq();
    const outcome = await steps(registry, insecure).prepare(request('audited'));
    expect(outcome).toEqual({
      status: 'refused',
      reason: expect.stringMatching(/fails the security audit: .*dangerouslyDisableDeviceAuth/) as unknown,
    });
    expect(t.requests(before)).toEqual([]);
    expect(registry.writes).toBe(0);
  });

  it('refuses a version the broker does not support', async () => {
    const outcome = await steps(new MemoryRegistry()).prepare(
      request('oldie', { openclawVersion: '2026.1.1' }),
    );
    expect(outcome).toMatchObject({
      status: 'refused',
      reason: expect.stringContaining('2026.1.1') as unknown,
    });
  });

  it('gives a slug provisioned again after teardown the next incarnation whose names are free', async () => {
    const registry = new MemoryRegistry();
    const salt = t.config.nameSalt;
    // Incarnation 1 was torn down: its vault is soft-deleted. Incarnation 2's vault name is held too
    // (soft-deleted by an earlier broker run that never reached the registry).
    for (const incarnation of [1, 2]) {
      const names = footprintNames('reborn', { salt, incarnation });
      await ensureResourceGroup(t.azure, {
        name: names.resourceGroup,
        slug: 'reborn',
        location: 'westeurope',
      });
      await ensureKeyVault(t.azure, {
        resourceGroup: names.resourceGroup,
        name: names.keyVault,
        slug: 'reborn',
        location: 'westeurope',
        tenantId: t.sim.tenantId,
      });
      await t.azure.keyVaults.vaults.delete(names.resourceGroup, names.keyVault);
    }
    await registry.update('reborn', () => ({
      slug: 'reborn',
      state: 'deleted',
      incarnation: 1,
      owners: [],
      secretAges: {},
    }));
    const outcome = await steps(registry).prepare(request('reborn'));
    expect(outcome).toMatchObject({ status: 'planned', plan: { incarnation: 3 } });
    expect(registry.records.get('reborn')).toMatchObject({
      state: 'provisioning',
      incarnation: 3,
      activeRequestId: 'req-reborn',
    });
  });
});

describe('step outcomes', () => {
  it('turns Azure’s definitive answers into "failed" with its code, and rethrows what is worth retrying without the request', async () => {
    expect(
      await asStepOutcome(async () => {
        throw Object.assign(new Error('The vault name is invalid.'), {
          statusCode: 400,
          code: 'VaultNameNotValid',
          request: { body: 'key' },
        });
      }),
    ).toEqual({
      status: 'failed',
      error: { code: 'VaultNameNotValid', message: 'The vault name is invalid.', status: 400 },
    });
    expect(
      await asStepOutcome(async () => {
        throw new BrokerError(ErrorCodes.ResourceNotOwned, 'not ours');
      }),
    ).toEqual({ status: 'failed', error: { code: 'ResourceNotOwned', message: 'not ours' } });
    const thrown = await asStepOutcome(async () => {
      throw Object.assign(new Error('Too many requests'), {
        statusCode: 429,
        code: 'TooManyRequests',
        request: { headers: 'secret' },
      });
    }).catch((e: unknown) => e);
    expect(thrown).toEqual(new Error('TooManyRequests: Too many requests'));
    expect((thrown as Error).cause).toBeUndefined();
  });
});

/** The entra step's input for a slug; the vault is never reached when the step refuses. */
function entraInput(slug: string): StepInput {
  const names = footprintNames(slug, { salt: t.config.nameSalt, incarnation: 1 });
  return {
    plan: {
      slug,
      requestId: `req-${slug}`,
      incarnation: 1,
      names,
      location: 'westeurope',
      tenantId: t.sim.tenantId,
      openclawVersion: '2026.11.1',
      channels: [],
      allowedIdentities: [],
      owners: [],
    },
    facts: {
      keyVault: { id: 'unused', vaultUri: `https://${names.keyVault}.vault.azure.net/` },
      managedEnvironment: { id: 'unused', defaultDomain: 'example.azurecontainerapps.io' },
    },
  };
}

describe('the entra step', () => {
  /** A group made by someone else, who is its only owner. */
  async function foreignGroup(name: string): Promise<{ id: string; ownerId: string }> {
    const someone = t.sim.identity.register({ displayName: 'someone-else' });
    const entra = new EntraClient(t.credential, t.config.azure.graphEndpoint);
    const group = await entra.createGroup(name, 'not the broker’s', someone.objectId);
    return { id: group.id, ownerId: someone.objectId };
  }

  it('refuses, definitively and before creating anything, a group of the slug’s name that the broker does not own', async () => {
    const group = await foreignGroup('shire-squatted');
    const before = t.lastSeq();
    const outcome = await steps(new MemoryRegistry()).entra(entraInput('squatted'));
    expect(outcome).toEqual({
      status: 'failed',
      error: {
        code: 'ResourceNotOwned',
        message: `Entra group shire-squatted exists but is not owned by claw-broker (object id ${group.id}; the broker is ${t.sim.broker.objectId}): rename or remove it, or add the broker as an owner`,
      },
    });
    // Only reads: no app registration made, the group untouched, no vault call.
    const calls = t.requests(before).filter((entry) => entry.surface !== 'identity');
    expect(calls.filter((entry) => entry.method !== 'GET')).toEqual([]);
    expect(calls.every((entry) => entry.surface === 'graph')).toBe(true);
    expect(graph.application('claw-squatted')).toBeUndefined();
    expect(graph.groups('shire-squatted').map((g) => g.id)).toEqual([group.id]);
    expect(graph.owners(group.id)).toEqual([group.ownerId]);
  });

  it('refuses an app registration of the slug’s name that the broker does not own', async () => {
    const entra = new EntraClient(t.credential, t.config.azure.graphEndpoint);
    const app = await entra.createApplication({
      displayName: 'claw-appsquat',
      signInAudience: 'AzureADMyOrg',
      groupMembershipClaims: 'SecurityGroup',
      web: { redirectUris: [], implicitGrantSettings: { enableIdTokenIssuance: true } },
    });
    const outcome = await steps(new MemoryRegistry()).entra(entraInput('appsquat'));
    expect(outcome).toMatchObject({
      status: 'failed',
      error: {
        code: 'ResourceNotOwned',
        message: expect.stringContaining(
          `Entra application claw-appsquat exists but is not owned by claw-broker (object id ${app.id}`,
        ) as unknown,
      },
    });
    expect(graph.owners(app.id)).toEqual([]);
    expect(graph.groups('shire-appsquat')).toEqual([]);
  });
});

describe('the entra step while Entra replicates (a fresh object is not found for 10 s)', () => {
  const slug = 'fresh';
  let input: StepInput;
  const apps = () =>
    (graph.snapshot() as { applications: { id: string; displayName: string }[] }).applications.filter(
      (app) => app.displayName === `claw-${slug}`,
    );

  beforeAll(async () => {
    input = entraInput(slug);
    const { names } = input.plan;
    await ensureResourceGroup(t.azure, { name: names.resourceGroup, slug, location: 'westeurope' });
    const vault = await ensureKeyVault(t.azure, {
      resourceGroup: names.resourceGroup,
      name: names.keyVault,
      slug,
      location: 'westeurope',
      tenantId: t.sim.tenantId,
    });
    // The broker writes the client secret into the slug's vault, as the roleAssignments step lets it.
    await ensureRoleAssignment(t.azure, {
      label: 'broker: Key Vault Secrets Officer',
      scope: vault.value.id,
      principalId: t.sim.broker.objectId,
      roleDefinitionGuid: BuiltInRoles.keyVaultSecretsOfficer,
    });
    t.sim.admin.advance(31_000);
    input = { ...input, facts: { ...input.facts, keyVault: vault.value } };
    graph.setReplicationDelayMs(10_000);
  });

  afterAll(() => graph.setReplicationDelayMs(0));

  it('waits for its fresh app instead of failing, never makes a second app or group, and finishes once Entra has replicated', async () => {
    const registry = new MemoryRegistry();
    await registry.update(slug, () => ({
      slug,
      state: 'provisioning',
      incarnation: 1,
      owners: [],
      secretAges: {},
    }));
    const run = steps(registry);

    // The app is created; adding the broker as its owner answers 404 (not replicated): "not yet",
    // and the app's id is on the record. (Before, the step failed here for good.)
    const first = await run.entra(input);
    expect(first).toMatchObject({
      status: 'not-yet',
      reason: expect.stringMatching(/does not exist/) as unknown,
    });
    const recorded = registry.records.get(slug)?.entraObjects;
    expect(recorded).toMatchObject({
      incarnation: 1,
      application: { ownerAdded: false, createdBy: `req-${slug}` },
    });
    expect(apps()).toHaveLength(1);

    // At once again: the app is read by its recorded id (still 404: "not yet"), never looked up by
    // name (a replica would not find it, and a second app would be made).
    const second = await run.entra(input);
    expect(second).toMatchObject({
      status: 'not-yet',
      reason: expect.stringMatching(/is not readable yet \(directory replication\)/) as unknown,
    });
    expect(apps()).toHaveLength(1);

    t.sim.admin.advance(10_000);
    const third = await run.entra(input);
    expect(third).toMatchObject({ status: 'done' });
    const done = third as Extract<typeof third, { status: 'done' }>;
    expect((done.changes ?? []).map((change) => `${change.action} ${change.resource}`)).toEqual([
      `created Entra application claw-${slug}`,
      `created service principal of claw-${slug}`,
      `created Entra group shire-${slug}`,
      `created client secret of claw-${slug}`,
    ]);
    const app = apps()[0]!;
    expect(graph.owners(app.id)).toEqual([t.sim.broker.objectId]);
    const group = graph.groups(`shire-${slug}`);
    expect(group).toHaveLength(1);
    expect(registry.records.get(slug)?.entraObjects).toMatchObject({
      application: { id: app.id, ownerAdded: true },
      group: { id: group[0]?.id },
    });

    // Once everything has replicated, a re-run only reads, and makes nothing twice.
    t.sim.admin.advance(10_000);
    const before = t.lastSeq();
    const again = await run.entra(input);
    expect(again).toMatchObject({ status: 'done', changes: [] });
    expect(apps()).toHaveLength(1);
    expect(graph.groups(`shire-${slug}`)).toHaveLength(1);
    const writes = t.requests(before).filter((entry) => entry.surface === 'graph' && entry.method !== 'GET');
    expect(writes).toEqual([]);
  });
});
