import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EntraClient, GraphError } from '../../shared/azure/entra.js';
import { gatewayProbeUrl, probeGateway } from '../../shared/azure/gatewayProbe.js';
import { createGraphSurface, type GraphSurface } from '../../sandbox/sim/graph.js';
import { startAzureFixture, type AzureFixture } from './azureFixture.js';

/**
 * Contract tests of the Microsoft Graph client (the slug's app registration, service principal,
 * group and client secret) against the simulated Graph, reached through MICROSOFT_GRAPH_ENDPOINT
 * with the broker's own token; and of the gateway probe.
 */
let t: AzureFixture;
let graph: GraphSurface;
let entra: EntraClient;

beforeAll(async () => {
  t = await startAzureFixture();
  graph = createGraphSurface({
    clock: t.sim.clock,
    tenantId: t.sim.tenantId,
    verifyToken: (authorization) => {
      const result = t.sim.identity.authenticate({ authorization });
      return result?.claims.aud === `${t.sim.url}/graph` ? { id: result.principal.objectId } : undefined;
    },
  });
  t.sim.mount(graph);
  entra = new EntraClient(t.credential, t.config.azure.graphEndpoint);
});

afterAll(async () => {
  await t?.sim.stop();
});

describe('Microsoft Graph', () => {
  it('creates an app registration, finds it by name, and updates its redirect URIs', async () => {
    expect(await entra.findApplication('claw-graph')).toBeUndefined();
    const created = await entra.createApplication({
      displayName: 'claw-graph',
      signInAudience: 'AzureADMyOrg',
      groupMembershipClaims: 'SecurityGroup',
      web: {
        redirectUris: ['https://ca-graph.example/.auth/login/aad/callback'],
        implicitGrantSettings: { enableIdTokenIssuance: true },
      },
    });
    expect(await entra.findApplication('claw-graph')).toEqual(created);
    await entra.updateApplication(created.id, {
      web: {
        redirectUris: ['https://ca-graph.other/.auth/login/aad/callback'],
        implicitGrantSettings: { enableIdTokenIssuance: true },
      },
    });
    expect((await entra.findApplication('claw-graph'))?.redirectUris).toEqual([
      'https://ca-graph.other/.auth/login/aad/callback',
    ]);
  });

  it('adds a client secret once returned in full, lists it by key id only, and removes it', async () => {
    const app = (await entra.findApplication('claw-graph'))!;
    const password = await entra.addPassword(app.id, 'claw-broker');
    expect(graph.verifyClientSecret(app.appId, password.secretText)).toBe(true);
    expect((await entra.findApplication('claw-graph'))?.passwordCredentials).toEqual([
      { keyId: password.keyId, displayName: 'claw-broker' },
    ]);
    await entra.removePassword(app.id, password.keyId);
    expect((await entra.findApplication('claw-graph'))?.passwordCredentials).toEqual([]);
  });

  it('creates the service principal and the group, and reports Graph’s error code on a conflict', async () => {
    const app = (await entra.findApplication('claw-graph'))!;
    await entra.createServicePrincipal(app.appId);
    expect(await entra.findServicePrincipal(app.appId)).toBeDefined();
    const error = await entra.createServicePrincipal(app.appId).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GraphError);
    expect(error).toMatchObject({ statusCode: 409, code: 'Request_MultipleObjectsWithSameKeyValue' });

    const group = await entra.createGroup('shire-graph', 'test');
    expect(await entra.findGroup('shire-graph')).toEqual(group);
  });

  it('waits out a throttled Graph call', async () => {
    const fault = t.sim.admin.addFault({
      kind: 'http',
      status: 429,
      retryAfterSeconds: 1,
      path: '^/graph/v1.0/groups$',
      count: 1,
    });
    expect(await entra.findGroup('shire-graph')).toBeDefined();
    expect(t.sim.admin.faults().find((f) => f.id === fault.id)?.fired).toBe(1);
  });
});

describe('the gateway probe', () => {
  it('fills the app into the configured URL template', () => {
    expect(
      gatewayProbeUrl(
        'https://{fqdn}',
        { fqdn: 'ca-acme.x.azurecontainerapps.io', name: 'ca-acme' },
        '/readyz',
      ),
    ).toBe('https://ca-acme.x.azurecontainerapps.io/readyz');
    expect(
      gatewayProbeUrl('https://127.0.0.1:9/openclaw/{app}/', { fqdn: 'unused', name: 'ca-acme' }, '/readyz'),
    ).toBe('https://127.0.0.1:9/openclaw/ca-acme/readyz');
  });

  it('is not ready on a 503 and says what the gateway answered', async () => {
    t.sim.admin.addFault({
      kind: 'http',
      status: 503,
      path: '^/probe/readyz$',
      body: { ready: false, reason: 'channels starting' },
    });
    expect(await probeGateway(`${t.sim.url}/probe/readyz`)).toEqual({
      ready: false,
      reason: 'HTTP 503: channels starting',
    });
    expect(await probeGateway('https://127.0.0.1:1/readyz')).toMatchObject({ ready: false });
  });
});
