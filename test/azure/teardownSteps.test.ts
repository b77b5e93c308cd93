import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GraphSurface } from '../../sandbox/sim/graph.js';
import { EntraClient } from '../../shared/azure/entra.js';
import type { BrokerStorage } from '../../shared/storage/brokerStorage.js';
import type { EnvironmentRecord, EnvironmentRegistry } from '../../shared/storage/environmentRegistry.js';
import { describeTeardown } from '../../shared/teardown/describe.js';
import { createTeardownSteps } from '../../shared/teardown/teardownSteps.js';
import { mountGraph, startAzureFixture, type AzureFixture } from './azureFixture.js';
import { OWNERSHIP_TAG_VALUE, OWNERSHIP_TAGS } from '../../shared/domain/footprint.js';

/**
 * Teardown's plan and Entra removal against the simulator: Entra objects are found by name, which
 * anyone can take, so teardown removes only those the broker is an Entra owner of and says in the
 * plan (and so in the approval message) which same-name objects it leaves alone.
 */
let t: AzureFixture;
let graph: GraphSurface;
let entra: EntraClient;
const records = new Map<string, EnvironmentRecord>();

beforeAll(async () => {
  t = await startAzureFixture();
  graph = mountGraph(t);
  entra = new EntraClient(t.credential, t.config.azure.graphEndpoint);
});

afterAll(async () => {
  await t?.sim.stop();
});

function steps() {
  return createTeardownSteps({
    config: t.config,
    azure: t.azure,
    entra,
    registry: { get: async (slug: string) => records.get(slug) } as unknown as EnvironmentRegistry,
    storage: {} as BrokerStorage,
    brokerPrincipalId: async () => t.sim.broker.objectId,
  });
}

function record(slug: string, state: EnvironmentRecord['state']): void {
  const at = '2026-11-22T08:00:00.000Z';
  records.set(slug, {
    slug,
    state,
    incarnation: 1,
    owners: [],
    secretAges: {},
    createdAt: at,
    updatedAt: at,
    etag: '1',
  });
}

async function brokerApp(displayName: string): Promise<{ id: string; appId: string }> {
  const app = await entra.createApplication({
    displayName,
    signInAudience: 'AzureADMyOrg',
    groupMembershipClaims: 'SecurityGroup',
    web: { redirectUris: [], implicitGrantSettings: { enableIdTokenIssuance: true } },
  });
  await entra.addApplicationOwner(app.id, t.sim.broker.objectId);
  return app;
}

/** A group someone else made (they are its only owner). */
async function foreignGroup(displayName: string): Promise<string> {
  const someone = t.sim.identity.register({ displayName: 'someone-else' });
  return (await entra.createGroup(displayName, 'not the broker’s', someone.objectId)).id;
}

describe('teardown and Entra ownership', () => {
  it('takes the objects provisioning recorded as its own while Entra has not yet replicated the broker as their owner', async () => {
    record('fresh', 'ready');
    graph.setReplicationDelayMs(10_000);
    try {
      const app = await entra.createApplication({
        displayName: 'claw-fresh',
        signInAudience: 'AzureADMyOrg',
        groupMembershipClaims: 'SecurityGroup',
        web: { redirectUris: [], implicitGrantSettings: { enableIdTokenIssuance: true } },
      });
      t.sim.admin.advance(10_000);
      await entra.addApplicationOwner(app.id, t.sim.broker.objectId);
      // The app is listed now; the broker's owner reference is not in ownedObjects for 10 s more.
      expect(await entra.ownedBy(t.sim.broker.objectId, app.id)).toBe(false);
      const at = new Date().toISOString();
      records.set('fresh', {
        ...records.get('fresh')!,
        entraObjects: { incarnation: 1, application: { id: app.id, at, ownerAdded: true } },
      });
      const inspection = await steps().inspect({
        slug: 'fresh',
        requestId: 'req-fresh',
        purgeKeyVault: false,
      });
      expect(inspection).toMatchObject({
        kind: 'plan',
        plan: { entra: { application: { id: app.id, appId: app.appId } } },
      });
      expect(inspection.kind === 'plan' ? (inspection.plan.entraLeftAlone ?? []) : undefined).toEqual([]);
    } finally {
      graph.setReplicationDelayMs(0);
      t.sim.admin.advance(10_000);
    }
  });

  it('removes the app registration it owns and leaves a same-name group it does not own in place, saying so', async () => {
    record('squat', 'ready');
    const app = await brokerApp('claw-squat');
    const groupId = await foreignGroup('shire-squat');

    const inspection = await steps().inspect({ slug: 'squat', requestId: 'req-squat', purgeKeyVault: false });
    expect(inspection.kind).toBe('plan');
    if (inspection.kind !== 'plan') return;
    const { plan } = inspection;
    expect(plan.entra).toEqual({ application: { id: app.id, appId: app.appId }, group: undefined });
    expect(plan.entraLeftAlone).toEqual([{ kind: 'group', name: 'shire-squat', id: groupId }]);

    const lines = describeTeardown(plan);
    expect(lines).toContain('removes the Entra app registration claw-squat');
    expect(lines).toContain(
      `leaves the Entra group shire-squat (object id ${groupId}) alone: it exists but is not owned by claw-broker`,
    );
    expect(lines.some((line) => line.startsWith('removes the Entra group'))).toBe(false);

    expect(await steps().removeEntra(plan)).toEqual({ removed: ['Entra application claw-squat'] });
    expect(graph.application(app.id)).toBeUndefined();
    expect(graph.groups('shire-squat').map((group) => group.id)).toEqual([groupId]);
  });

  it('leaves an app registration it does not own alone even while the resource group is there', async () => {
    record('appsquat', 'ready');
    await t.azure.resources.resourceGroups.createOrUpdate('claw-appsquat', {
      location: 'westeurope',
      tags: { [OWNERSHIP_TAGS.managedBy]: OWNERSHIP_TAG_VALUE, [OWNERSHIP_TAGS.slug]: 'appsquat' },
    });
    const foreign = await entra.createApplication({
      displayName: 'claw-appsquat',
      signInAudience: 'AzureADMyOrg',
      groupMembershipClaims: 'SecurityGroup',
      web: { redirectUris: [], implicitGrantSettings: { enableIdTokenIssuance: true } },
    });
    const inspection = await steps().inspect({
      slug: 'appsquat',
      requestId: 'req-appsquat',
      purgeKeyVault: false,
    });
    expect(inspection).toMatchObject({
      kind: 'plan',
      plan: {
        groupExists: true,
        entra: { application: undefined, group: undefined },
        entraLeftAlone: [{ kind: 'application', name: 'claw-appsquat', id: foreign.id }],
      },
    });
  });

  it('is gone when only a same-name group it does not own is left, and says it leaves it alone', async () => {
    record('leftover', 'deleted');
    const groupId = await foreignGroup('shire-leftover');
    const inspection = await steps().inspect({
      slug: 'leftover',
      requestId: 'req-leftover',
      purgeKeyVault: false,
    });
    expect(inspection).toEqual({
      kind: 'gone',
      reason: `leftover is already gone: no resource group, no Entra objects of claw-broker; leaves the Entra group shire-leftover (object id ${groupId}) alone: it exists but is not owned by claw-broker`,
    });
    expect(graph.groups('shire-leftover')).toHaveLength(1);
  });
});
