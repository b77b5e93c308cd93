import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EntraClient, GraphError } from '../../shared/azure/entra.js';
import { gatewayProbeUrl, probeGateway } from '../../shared/azure/gatewayProbe.js';
import type { GraphSurface } from '../../sandbox/sim/graph.js';
import { brokerPrincipalId } from '../../shared/azure/credential.js';
import { mountGraph, startAzureFixture, type AzureFixture } from './azureFixture.js';

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
  graph = mountGraph(t);
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

  it('creates the service principal once (a second create answers false: it exists) and the group', async () => {
    const app = (await entra.findApplication('claw-graph'))!;
    expect(await entra.createServicePrincipal(app.appId)).toBe(true);
    expect(await entra.findServicePrincipal(app.appId)).toBeDefined();
    expect(await entra.createServicePrincipal(app.appId)).toBe(false);
    const error = await entra.createServicePrincipal(randomUUID()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GraphError);
    expect(error).toMatchObject({ statusCode: 400, code: 'Request_BadRequest' });

    const group = await entra.createGroup('shire-graph', 'test', t.sim.broker.objectId);
    expect(await entra.findGroup('shire-graph')).toEqual(group);
  });

  it("creates a group owned by the broker's service principal, which Graph shows from the owner's side", async () => {
    // The broker's object id is the oid of its ARM token: its service principal, which Graph knows.
    const brokerId = await brokerPrincipalId(t.config, t.credential);
    expect(brokerId).toBe(t.sim.broker.objectId);
    const group = await entra.createGroup('shire-owned', 'test', brokerId);
    expect(graph.owners(group.id)).toEqual([brokerId]);
    // Graph v1.0 leaves service principals out of a group's owner list (test/sim/graph.test.ts);
    // the owner's side shows it.
    expect(await entra.ownedBy(brokerId, group.id)).toBe(true);
  });

  it('adds the broker as owner of an application, once: a second reference is refused by Graph', async () => {
    const brokerId = t.sim.broker.objectId;
    const app = (await entra.findApplication('claw-graph'))!;
    expect(graph.owners(app.id)).toEqual([]);
    const before = t.lastSeq();
    expect(await entra.addApplicationOwner(app.id, brokerId)).toBe(true);
    expect(graph.owners(app.id)).toEqual([brokerId]);
    // Graph answers the duplicate reference with 400; the client reports "already an owner".
    expect(await entra.addApplicationOwner(app.id, brokerId)).toBe(false);
    const refs = t
      .requests(before)
      .filter((entry) => entry.surface === 'graph' && entry.method === 'POST')
      .map((entry) => [entry.path, entry.status]);
    expect(refs).toEqual([
      [`/graph/v1.0/applications/${app.id}/owners/$ref`, 204],
      [`/graph/v1.0/applications/${app.id}/owners/$ref`, 400],
    ]);
    expect(graph.owners(app.id)).toEqual([brokerId]);
  });

  it('lists the owners of a group someone else made: the broker is not among them', async () => {
    const group = await entra.createGroup('shire-foreign', 'test', t.sim.broker.objectId);
    const other = t.sim.identity.register({ displayName: 'someone-else' });
    const foreign = await entra.createGroup('shire-theirs', 'test', other.objectId);
    expect(await entra.ownedBy(t.sim.broker.objectId, foreign.id)).toBe(false);
    expect(await entra.ownedBy(other.objectId, foreign.id)).toBe(true);
    expect(await entra.ownedBy(t.sim.broker.objectId, group.id)).toBe(true);
    const app = (await entra.findApplication('claw-graph'))!;
    expect(await entra.ownedBy(t.sim.broker.objectId, app.id)).toBe(true); // added in the test above
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

  it('retries a read that met a 500, but never a create: a POST that failed may have created its object', async () => {
    const fast = new EntraClient(t.credential, t.config.azure.graphEndpoint, { retryDelayMs: 10 });
    const read = t.sim.admin.addFault({
      kind: 'http',
      status: 500,
      method: 'GET',
      path: '^/graph/v1.0/groups$',
      count: 1,
    });
    expect(await fast.findGroup('shire-graph')).toBeDefined();
    expect(t.sim.admin.faults().find((f) => f.id === read.id)?.fired).toBe(1);

    const create = t.sim.admin.addFault({
      kind: 'http',
      status: 500,
      method: 'POST',
      path: '^/graph/v1.0/groups$',
      count: 2,
    });
    const owner = await brokerPrincipalId(t.config, t.credential);
    await expect(fast.createGroup('shire-retry', 'a retry test', owner)).rejects.toMatchObject({
      statusCode: 500,
    });
    // One attempt: the fault had two answers to give and gave one.
    expect(t.sim.admin.faults().find((f) => f.id === create.id)?.fired).toBe(1);
    t.sim.admin.clearFaults();
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

  it("is ready only when the body says ready: true, and names what the real gateway's 503 says is failing", async () => {
    t.sim.admin.addFault({
      kind: 'http',
      status: 503,
      path: '^/probe/starting$',
      body: { ready: false, failing: ['startup-sidecars'], uptimeMs: 3687 },
    });
    expect(await probeGateway(`${t.sim.url}/probe/starting`)).toEqual({
      ready: false,
      reason: 'HTTP 503: failing startup-sidecars',
    });
    // 200s the way the Control UI (HTML on any path) and a wrong path could answer.
    const answers: Record<string, string> = {
      '/page': '<!doctype html><title>OpenClaw</title>',
      '/ok': JSON.stringify({ ok: true }),
      '/ready': JSON.stringify({ ready: true, failing: [] }),
    };
    const server = createServer((req, res) => res.writeHead(200).end(answers[req.url ?? ''] ?? ''));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      expect(await probeGateway(`${base}/page`)).toEqual({
        ready: false,
        reason: 'HTTP 200 without a JSON readiness body',
      });
      expect(await probeGateway(`${base}/ok`)).toEqual({
        ready: false,
        reason: 'HTTP 200 without ready: true',
      });
      expect(await probeGateway(`${base}/ready`)).toEqual({ ready: true });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
