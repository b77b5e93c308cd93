import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createGraphSurface, type GraphSurface, type GraphSurfaceOptions } from '../../sandbox/sim/graph.js';
import { startSurfaceServer, type SurfaceServer } from './surfaceServer.js';

const TOKEN = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJicm9rZXIifQ.c2lnbmF0dXJl';
const MS_GRAPH_APP_ID = '00000003-0000-0000-c000-000000000000';
const USER_READ_SCOPE = 'e1fe6dd8-ba31-4d61-89e7-88639da4683d';

interface GraphAnswer {
  status: number;
  headers: Headers;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- assertions read the wire body loosely
  body: any;
}

describe('the simulated Microsoft Graph', () => {
  let now: number;
  let graph: GraphSurface;
  let server: SurfaceServer;

  async function start(extra: Partial<GraphSurfaceOptions> = {}): Promise<void> {
    graph = createGraphSurface({
      clock: { now: () => now },
      users: [
        {
          id: '4c1f7a55-3f38-4c63-9a0b-0f0cfe0e7c11',
          displayName: 'Ada',
          userPrincipalName: 'ada@shire.onmicrosoft.com',
        },
      ],
      ...extra,
    });
    server = await startSurfaceServer(graph);
  }

  async function call(
    method: string,
    path: string,
    body?: unknown,
    token: string | null = TOKEN,
  ): Promise<GraphAnswer> {
    const headers: Record<string, string> = {};
    if (token !== null) headers['authorization'] = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${server.url}/graph/v1.0${path}`, {
      method,
      headers,
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
  }

  const filter = (expression: string) => `?$filter=${encodeURIComponent(expression)}`;

  async function createApp(displayName = 'claw-contoso'): Promise<{ id: string; appId: string }> {
    const created = await call('POST', '/applications', { displayName });
    expect(created.status).toBe(201);
    return created.body as { id: string; appId: string };
  }

  beforeEach(async () => {
    now = Date.UTC(2026, 10, 3, 9, 0, 0);
    await start();
  });

  afterEach(async () => {
    await server.close();
  });

  describe('authentication and errors', () => {
    it('refuses a call without a bearer token with 401 InvalidAuthenticationToken', async () => {
      const answer = await call('GET', '/applications', undefined, null);
      expect(answer.status).toBe(401);
      expect(answer.body).toEqual({
        error: {
          code: 'InvalidAuthenticationToken',
          message: 'Access token is empty.',
          innerError: {
            date: '2026-11-03T09:00:00Z',
            'request-id': expect.stringMatching(/^[0-9a-f-]{36}$/),
            'client-request-id': expect.any(String),
          },
        },
      });
      expect(answer.headers.get('request-id')).toBe(answer.body.error.innerError['request-id']);
    });

    it('refuses a token that is not a JWT by default', async () => {
      const answer = await call('GET', '/groups', undefined, 'not-a-jwt');
      expect(answer.status).toBe(401);
      expect(answer.body.error.code).toBe('InvalidAuthenticationToken');
    });

    it('asks verifyToken about every call when one is given', async () => {
      await server.close();
      const seen: Array<string | undefined> = [];
      await start({
        verifyToken: (header) => {
          seen.push(header);
          return header === 'Bearer sim-issued' ? { id: 'broker' } : undefined;
        },
      });
      const accepted = await call('GET', '/groups', undefined, 'sim-issued');
      const refused = await call('GET', '/groups', undefined, TOKEN);
      expect([accepted.status, refused.status]).toEqual([200, 401]);
      expect(seen).toEqual(['Bearer sim-issued', `Bearer ${TOKEN}`]);
    });

    it('answers 400 BadRequest for a segment it does not know', async () => {
      const answer = await call('GET', '/widgets');
      expect(answer.status).toBe(400);
      expect(answer.body.error).toMatchObject({
        code: 'BadRequest',
        message: "Resource not found for the segment 'widgets'.",
      });
    });

    it('answers 400 BadRequest for a body that is not JSON', async () => {
      const answer = await call('POST', '/applications', '{ not json');
      expect(answer.status).toBe(400);
      expect(answer.body.error.message).toMatch(/^Unable to read JSON request payload/);
    });

    it("echoes the caller's client-request-id", async () => {
      const response = await fetch(`${server.url}/graph/v1.0/groups`, {
        headers: { authorization: `Bearer ${TOKEN}`, 'client-request-id': 'trace-123' },
      });
      expect(response.headers.get('client-request-id')).toBe('trace-123');
    });
  });

  describe('applications', () => {
    it("creates an application with Graph's shape and OData context", async () => {
      const answer = await call('POST', '/applications', {
        displayName: 'claw-contoso',
        signInAudience: 'AzureADMyOrg',
      });
      expect(answer.status).toBe(201);
      expect(answer.body).toMatchObject({
        '@odata.context': `${server.url}/graph/v1.0/$metadata#applications/$entity`,
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        appId: expect.stringMatching(/^[0-9a-f-]{36}$/),
        displayName: 'claw-contoso',
        createdDateTime: '2026-11-03T09:00:00Z',
        identifierUris: [],
        web: { redirectUris: [], homePageUrl: null },
        passwordCredentials: [],
        requiredResourceAccess: [],
      });
      expect(answer.body.id).not.toBe(answer.body.appId);
    });

    it('requires a displayName', async () => {
      const answer = await call('POST', '/applications', { signInAudience: 'AzureADMyOrg' });
      expect(answer.status).toBe(400);
      expect(answer.body.error).toMatchObject({
        code: 'Request_BadRequest',
        message: "Invalid value specified for property 'displayName' of resource 'Application'.",
      });
    });

    it('reads an application by object id, by the appId alternate key, and finds it by filter', async () => {
      const app = await createApp();
      await createApp('claw-fabrikam');
      const byId = await call('GET', `/applications/${app.id}`);
      const byAlternateKey = await call('GET', `/applications(appId='${app.appId}')`);
      const byAppId = await call('GET', `/applications${filter(`appId eq '${app.appId}'`)}`);
      const byName = await call('GET', `/applications${filter("displayName eq 'claw-contoso'")}`);
      expect(byId.body.appId).toBe(app.appId);
      expect(byAlternateKey.body.id).toBe(app.id);
      expect(byAppId.body).toEqual({
        '@odata.context': `${server.url}/graph/v1.0/$metadata#applications`,
        value: [expect.objectContaining({ id: app.id })],
      });
      expect(byName.body.value.map((a: { id: string }) => a.id)).toEqual([app.id]);
    });

    it('allows two applications with the same display name, as Entra does', async () => {
      await createApp('claw-twin');
      await createApp('claw-twin');
      const found = await call('GET', `/applications${filter("displayName eq 'claw-twin'")}`);
      expect(found.body.value).toHaveLength(2);
    });

    it('answers 404 Request_ResourceNotFound when an appId is used where the object id belongs', async () => {
      const app = await createApp();
      const answer = await call('GET', `/applications/${app.appId}`);
      expect(answer.status).toBe(404);
      expect(answer.body.error).toMatchObject({
        code: 'Request_ResourceNotFound',
        message: `Resource '${app.appId}' does not exist or one of its queried reference-property objects are not present.`,
      });
    });

    it('refuses filters on properties it cannot filter and malformed filters', async () => {
      const unsupported = await call('GET', `/applications${filter("notes eq 'x'")}`);
      const malformed = await call('GET', `/applications${filter('displayName eq')}`);
      expect(unsupported.status).toBe(400);
      expect(unsupported.body.error).toMatchObject({
        code: 'Request_UnsupportedQuery',
        message:
          "Unsupported or invalid query filter clause specified for property 'notes' of resource 'Application'.",
      });
      expect(malformed.body.error.code).toBe('BadRequest');
    });

    it('returns only the $select-ed properties', async () => {
      await createApp();
      const answer = await call('GET', `/applications?$select=id,appId`);
      expect(Object.keys(answer.body.value[0] as object).sort()).toEqual(['appId', 'id']);
    });

    it('updates redirect URIs, identifier URIs and required resource access with PATCH', async () => {
      const app = await createApp();
      const patched = await call('PATCH', `/applications/${app.id}`, {
        web: { redirectUris: ['https://contoso.gw.example.net/.auth/login/aad/callback'] },
        identifierUris: [`api://${app.appId}`],
        requiredResourceAccess: [
          { resourceAppId: MS_GRAPH_APP_ID, resourceAccess: [{ id: USER_READ_SCOPE, type: 'Scope' }] },
        ],
      });
      const read = await call('GET', `/applications/${app.id}`);
      expect(patched.status).toBe(204);
      expect(patched.body).toBeUndefined();
      expect(read.body).toMatchObject({
        web: { redirectUris: ['https://contoso.gw.example.net/.auth/login/aad/callback'], homePageUrl: null },
        identifierUris: [`api://${app.appId}`],
        requiredResourceAccess: [
          { resourceAppId: MS_GRAPH_APP_ID, resourceAccess: [{ id: USER_READ_SCOPE, type: 'Scope' }] },
        ],
      });
    });

    it('refuses a plain-http redirect URI that is not on localhost', async () => {
      const app = await createApp();
      const answer = await call('PATCH', `/applications/${app.id}`, {
        web: { redirectUris: ['http://contoso.example.net/cb'] },
      });
      expect(answer.status).toBe(400);
      expect(answer.body.error.code).toBe('Request_BadRequest');
      expect((await call('GET', `/applications/${app.id}`)).body.web.redirectUris).toEqual([]);
    });

    it('refuses an identifier URI on a domain the tenant has not verified', async () => {
      const app = await createApp();
      const answer = await call('PATCH', `/applications/${app.id}`, {
        identifierUris: ['https://contoso.example.net'],
      });
      expect(answer.status).toBe(400);
      expect(answer.body.error.code).toBe('HostNameNotOnVerifiedDomain');
    });

    it('refuses a property Graph does not declare', async () => {
      const app = await createApp();
      const answer = await call('PATCH', `/applications/${app.id}`, { colour: 'blue' });
      expect(answer.body.error).toMatchObject({
        code: 'Request_BadRequest',
        message: "Property 'colour' does not exist as a declared property or extension property.",
      });
    });

    it('soft-deletes into deletedItems, where it can be read, restored or purged', async () => {
      const app = await createApp();
      now += 60_000;
      const deleted = await call('DELETE', `/applications/${app.id}`);
      const gone = await call('GET', `/applications/${app.id}`);
      const inBin = await call('GET', `/directory/deletedItems/${app.id}`);
      const listed = await call('GET', '/directory/deletedItems/microsoft.graph.application');
      expect([deleted.status, gone.status, inBin.status]).toEqual([204, 404, 200]);
      expect(inBin.body).toMatchObject({
        '@odata.type': '#microsoft.graph.application',
        id: app.id,
        deletedDateTime: '2026-11-03T09:01:00Z',
      });
      expect(listed.body.value).toEqual([expect.objectContaining({ id: app.id })]);

      const purged = await call('DELETE', `/directory/deletedItems/${app.id}`);
      const afterPurge = await call('GET', `/directory/deletedItems/${app.id}`);
      expect([purged.status, afterPurge.status]).toEqual([204, 404]);
    });

    it('restores a soft-deleted application with the same ids', async () => {
      const app = await createApp();
      await call('DELETE', `/applications/${app.id}`);
      const restored = await call('POST', `/directory/deletedItems/${app.id}/restore`);
      const read = await call('GET', `/applications/${app.id}`);
      expect(restored.status).toBe(200);
      expect(read.body).toMatchObject({ appId: app.appId, deletedDateTime: null });
    });
  });

  describe('client secrets', () => {
    it('returns the secret text once; reads show only the hint', async () => {
      const app = await createApp();
      const added = await call('POST', `/applications/${app.id}/addPassword`, {
        passwordCredential: { displayName: 'rotated 2026-11', endDateTime: '2027-05-03T09:00:00Z' },
      });
      const read = await call('GET', `/applications/${app.id}`);
      const secretText = added.body.secretText as string;
      expect(added.status).toBe(200);
      expect(added.body).toMatchObject({
        '@odata.context': `${server.url}/graph/v1.0/$metadata#microsoft.graph.passwordCredential`,
        displayName: 'rotated 2026-11',
        keyId: expect.stringMatching(/^[0-9a-f-]{36}$/),
        startDateTime: '2026-11-03T09:00:00Z',
        endDateTime: '2027-05-03T09:00:00Z',
        hint: secretText.slice(0, 3),
      });
      expect(secretText).toMatch(/^.{3}8Q~.{34}$/);
      expect(read.body.passwordCredentials).toEqual([
        expect.objectContaining({ keyId: added.body.keyId, hint: secretText.slice(0, 3), secretText: null }),
      ]);
      expect(graph.verifyClientSecret(app.appId, secretText)).toBe(true);
      expect(JSON.stringify(graph.snapshot())).not.toContain(secretText);
    });

    it("defaults a secret's lifetime to two years", async () => {
      const app = await createApp();
      const added = await call('POST', `/applications/${app.id}/addPassword`, { passwordCredential: {} });
      expect(added.body.endDateTime).toBe('2028-11-02T09:00:00Z');
    });

    it('removes a secret by keyId, after which it no longer verifies', async () => {
      const app = await createApp();
      const added = await call('POST', `/applications/${app.id}/addPassword`, { passwordCredential: {} });
      const removed = await call('POST', `/applications/${app.id}/removePassword`, {
        keyId: added.body.keyId,
      });
      const again = await call('POST', `/applications/${app.id}/removePassword`, { keyId: added.body.keyId });
      expect(removed.status).toBe(204);
      expect(graph.verifyClientSecret(app.appId, added.body.secretText as string)).toBe(false);
      expect(again.status).toBe(400);
      expect(again.body.error.code).toBe('Request_BadRequest');
    });

    it('refuses new secrets with CredentialTypeNotAllowedAsPerAppPolicy when the tenant forbids them', async () => {
      const app = await createApp();
      graph.setPasswordCredentialsForbidden(true);
      const answer = await call('POST', `/applications/${app.id}/addPassword`, { passwordCredential: {} });
      expect(answer.status).toBe(400);
      expect(answer.body.error).toMatchObject({
        code: 'CredentialTypeNotAllowedAsPerAppPolicy',
        message: 'Credential type not allowed as per assigned policy.',
      });
      expect(graph.application(app.id)?.['passwordCredentials']).toEqual([]);
    });

    it("refuses a secret that outlives the tenant's maximum lifetime", async () => {
      await server.close();
      await start({ passwordMaxLifetimeDays: 180 });
      const app = await createApp();
      const answer = await call('POST', `/applications/${app.id}/addPassword`, {
        passwordCredential: { endDateTime: '2027-11-03T09:00:00Z' },
      });
      expect(answer.body.error.code).toBe('CredentialInvalidLifetimeAsPerAppPolicy');
    });
  });

  describe('service principals', () => {
    it('creates one for an application, finds it by appId, and refuses a second', async () => {
      const app = await createApp();
      const created = await call('POST', '/servicePrincipals', { appId: app.appId });
      const found = await call('GET', `/servicePrincipals${filter(`appId eq '${app.appId}'`)}`);
      const duplicate = await call('POST', '/servicePrincipals', { appId: app.appId });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({
        appId: app.appId,
        displayName: 'claw-contoso',
        servicePrincipalType: 'Application',
      });
      expect(found.body.value).toEqual([expect.objectContaining({ id: created.body.id })]);
      expect(duplicate.status).toBe(409);
      expect(duplicate.body.error.code).toBe('Request_MultipleObjectsWithSameKeyValue');
    });

    it('refuses an appId that no application has', async () => {
      const answer = await call('POST', '/servicePrincipals', {
        appId: '11111111-2222-3333-4444-555555555555',
      });
      expect(answer.status).toBe(400);
      expect(answer.body.error.code).toBe('Request_BadRequest');
    });

    it('deletes a service principal', async () => {
      const app = await createApp();
      const sp = (await call('POST', '/servicePrincipals', { appId: app.appId })).body as { id: string };
      const deleted = await call('DELETE', `/servicePrincipals/${sp.id}`);
      const read = await call('GET', `/servicePrincipals/${sp.id}`);
      expect([deleted.status, read.status]).toEqual([204, 404]);
    });

    it('goes away with its application', async () => {
      const app = await createApp();
      await call('POST', '/servicePrincipals', { appId: app.appId });
      await call('DELETE', `/applications/${app.id}`);
      const found = await call('GET', `/servicePrincipals${filter(`appId eq '${app.appId}'`)}`);
      expect(found.body.value).toEqual([]);
    });
  });

  describe('groups and members', () => {
    const newGroup = {
      displayName: 'shire-contoso',
      mailNickname: 'shire-contoso',
      mailEnabled: false,
      securityEnabled: true,
    };

    it('has the shire-admins group from the start', async () => {
      const answer = await call('GET', `/groups${filter("displayName eq 'shire-admins'")}`);
      expect(answer.body).toEqual({
        '@odata.context': `${server.url}/graph/v1.0/$metadata#groups`,
        value: [
          expect.objectContaining({ displayName: 'shire-admins', securityEnabled: true, mailEnabled: false }),
        ],
      });
    });

    it('creates a security group and reads it by id', async () => {
      const created = await call('POST', '/groups', newGroup);
      const read = await call('GET', `/groups/${created.body.id}`);
      expect(created.status).toBe(201);
      expect(read.body).toMatchObject({
        ...newGroup,
        groupTypes: [],
        securityIdentifier: expect.stringMatching(/^S-1-12-1-/),
      });
    });

    it('requires mailNickname and refuses characters Exchange does not allow in it', async () => {
      const missing = await call('POST', '/groups', { ...newGroup, mailNickname: undefined });
      const withSpace = await call('POST', '/groups', { ...newGroup, mailNickname: 'shire contoso' });
      expect(missing.body.error).toMatchObject({
        code: 'Request_BadRequest',
        message: "Invalid value specified for property 'mailNickname' of resource 'Group'.",
      });
      expect(withSpace.status).toBe(400);
    });

    it('adds, lists and removes members by reference', async () => {
      const group = (await call('POST', '/groups', newGroup)).body as { id: string };
      const app = await createApp();
      const sp = (await call('POST', '/servicePrincipals', { appId: app.appId })).body as { id: string };
      const userId = '4c1f7a55-3f38-4c63-9a0b-0f0cfe0e7c11';
      const addUser = await call('POST', `/groups/${group.id}/members/$ref`, {
        '@odata.id': `https://graph.microsoft.com/v1.0/directoryObjects/${userId}`,
      });
      await call('POST', `/groups/${group.id}/members/$ref`, {
        '@odata.id': `https://graph.microsoft.com/v1.0/directoryObjects/${sp.id}`,
      });
      const listed = await call('GET', `/groups/${group.id}/members`);
      expect(addUser.status).toBe(204);
      expect(listed.body).toEqual({
        '@odata.context': `${server.url}/graph/v1.0/$metadata#directoryObjects`,
        value: [
          expect.objectContaining({ '@odata.type': '#microsoft.graph.user', id: userId, displayName: 'Ada' }),
          expect.objectContaining({ '@odata.type': '#microsoft.graph.servicePrincipal', id: sp.id }),
        ],
      });

      const removed = await call('DELETE', `/groups/${group.id}/members/${userId}/$ref`);
      const removedAgain = await call('DELETE', `/groups/${group.id}/members/${userId}/$ref`);
      expect([removed.status, removedAgain.status]).toEqual([204, 404]);
      expect(graph.groups('shire-contoso')[0]?.memberIds).toEqual([sp.id]);
    });

    it('refuses to add a member twice', async () => {
      const group = (await call('POST', '/groups', newGroup)).body as { id: string };
      const ref = {
        '@odata.id': 'https://graph.microsoft.com/v1.0/directoryObjects/4c1f7a55-3f38-4c63-9a0b-0f0cfe0e7c11',
      };
      await call('POST', `/groups/${group.id}/members/$ref`, ref);
      const again = await call('POST', `/groups/${group.id}/members/$ref`, ref);
      expect(again.status).toBe(400);
      expect(again.body.error.message).toBe(
        "One or more added object references already exist for the following modified properties: 'members'.",
      );
    });

    it('answers 404 for a member that does not exist', async () => {
      const group = (await call('POST', '/groups', newGroup)).body as { id: string };
      const missing = '99999999-9999-9999-9999-999999999999';
      const answer = await call('POST', `/groups/${group.id}/members/$ref`, {
        '@odata.id': `https://graph.microsoft.com/v1.0/directoryObjects/${missing}`,
      });
      expect(answer.status).toBe(404);
      expect(answer.body.error.code).toBe('Request_ResourceNotFound');
    });

    it('records the owners bound at creation and lists them; a principal it does not store may be named', async () => {
      const brokerId = '0d3c5f8e-5b9a-4a57-8c55-6a1f5a0b9e01';
      await server.close();
      await start({
        externalPrincipal: (id) =>
          id === brokerId
            ? { id, type: 'servicePrincipal', displayName: 'claw-broker', appId: randomUUID() }
            : undefined,
      });
      const created = await call('POST', '/groups', {
        ...newGroup,
        'owners@odata.bind': [`${server.url}/graph/v1.0/directoryObjects/${brokerId}`],
      });
      expect(created.status).toBe(201);
      // Graph v1.0 does not list service principals among a group's owners (group-list-owners);
      // the service principal's ownedObjects does list the group.
      const owners = await call('GET', `/groups/${created.body.id}/owners?$select=id`);
      expect(owners.body).toEqual({
        '@odata.context': `${server.url}/graph/v1.0/$metadata#directoryObjects`,
        value: [],
      });
      const owned = await call('GET', `/servicePrincipals/${brokerId}/ownedObjects?$select=id`);
      expect(owned.body.value).toEqual([{ '@odata.type': '#microsoft.graph.group', id: created.body.id }]);
      expect((await call('GET', `/servicePrincipals/${randomUUID()}/ownedObjects`)).status).toBe(404);
      expect(graph.owners(created.body.id)).toEqual([brokerId]);
      // The servicePrincipals/{id} form binds too; an id nobody knows is 404 and creates nothing.
      const bySp = await call('POST', '/groups', {
        ...newGroup,
        'owners@odata.bind': [`https://graph.microsoft.com/v1.0/servicePrincipals/${brokerId}`],
      });
      expect(graph.owners(bySp.body.id)).toEqual([brokerId]);
      const unknown = await call('POST', '/groups', {
        ...newGroup,
        displayName: 'shire-nobody',
        'owners@odata.bind': [
          'https://graph.microsoft.com/v1.0/directoryObjects/99999999-9999-9999-9999-999999999999',
        ],
      });
      expect(unknown.status).toBe(404);
      expect(graph.groups('shire-nobody')).toEqual([]);
      // A group created without owners has none.
      const ownerless = (await call('POST', '/groups', newGroup)).body as { id: string };
      expect((await call('GET', `/groups/${ownerless.id}/owners`)).body.value).toEqual([]);
    });

    it('adds owners to a group and an application by reference, and refuses a duplicate owner with 400', async () => {
      const group = (await call('POST', '/groups', newGroup)).body as { id: string };
      const app = await createApp();
      const userId = '4c1f7a55-3f38-4c63-9a0b-0f0cfe0e7c11';
      const ref = { '@odata.id': `https://graph.microsoft.com/v1.0/directoryObjects/${userId}` };
      for (const path of [`/groups/${group.id}`, `/applications/${app.id}`]) {
        const added = await call('POST', `${path}/owners/$ref`, ref);
        const again = await call('POST', `${path}/owners/$ref`, ref);
        expect([added.status, again.status]).toEqual([204, 400]);
        expect(again.body.error).toMatchObject({
          code: 'Request_BadRequest',
          message:
            "One or more added object references already exist for the following modified properties: 'owners'.",
        });
        const listed = await call('GET', `${path}/owners`);
        expect(listed.body.value).toEqual([
          expect.objectContaining({ '@odata.type': '#microsoft.graph.user', id: userId, displayName: 'Ada' }),
        ]);
      }
      expect(graph.owners(app.id)).toEqual([userId]);
      // The appId alternate key reaches the same owners.
      const byAppId = await call('GET', `/applications(appId='${app.appId}')/owners`);
      expect(byAppId.body.value).toEqual([expect.objectContaining({ id: userId })]);
      // An application is no owner.
      const appAsOwner = await call('POST', `/groups/${group.id}/owners/$ref`, {
        '@odata.id': `https://graph.microsoft.com/v1.0/directoryObjects/${app.id}`,
      });
      expect(appAsOwner.status).toBe(404);
    });

    it('keeps owners across an export and import of its state', async () => {
      const group = (await call('POST', '/groups', newGroup)).body as { id: string };
      const userId = '4c1f7a55-3f38-4c63-9a0b-0f0cfe0e7c11';
      await call('POST', `/groups/${group.id}/owners/$ref`, {
        '@odata.id': `https://graph.microsoft.com/v1.0/directoryObjects/${userId}`,
      });
      const saved = JSON.parse(JSON.stringify(graph.exportState!())) as Record<string, unknown>;
      await server.close();
      await start();
      expect(graph.owners(group.id)).toEqual([]);
      graph.importState!(saved);
      expect(graph.owners(group.id)).toEqual([userId]);
      // A state file saved before owners existed has none to restore.
      const { owners: _owners, ...older } = saved;
      graph.importState!(older);
      expect(graph.owners(group.id)).toEqual([]);
    });

    it('deletes a security group for good', async () => {
      const group = (await call('POST', '/groups', newGroup)).body as { id: string };
      const deleted = await call('DELETE', `/groups/${group.id}`);
      const read = await call('GET', `/groups/${group.id}`);
      const inBin = await call('GET', `/directory/deletedItems/${group.id}`);
      expect([deleted.status, read.status, inBin.status]).toEqual([204, 404, 404]);
    });
  });

  describe('directory replication (replicationDelayMs)', () => {
    const brokerId = '0d3c5f8e-5b9a-4a57-8c55-6a1f5a0b9e01';
    const asBroker = {
      '@odata.id': `https://graph.microsoft.com/v1.0/directoryObjects/${brokerId}`,
    };
    const newGroup = {
      displayName: 'shire-fresh',
      mailNickname: 'shire-fresh',
      mailEnabled: false,
      securityEnabled: true,
    };
    beforeEach(async () => {
      await server.close();
      await start({
        replicationDelayMs: 5_000,
        externalPrincipal: (id) =>
          id === brokerId
            ? { id, type: 'servicePrincipal', displayName: 'claw-broker', appId: randomUUID() }
            : undefined,
      });
    });

    it('hides a fresh application from lookups and answers 404 to calls on it until it has replicated', async () => {
      const app = await createApp('claw-fresh');
      const byName = filter("displayName eq 'claw-fresh'");
      expect((await call('GET', `/applications${byName}`)).body.value).toEqual([]);
      for (const [method, path, body] of [
        ['GET', `/applications/${app.id}`, undefined],
        ['GET', `/applications(appId='${app.appId}')`, undefined],
        ['PATCH', `/applications/${app.id}`, { notes: 'x' }],
        ['POST', `/applications/${app.id}/owners/$ref`, asBroker],
        ['POST', `/applications/${app.id}/addPassword`, { passwordCredential: { displayName: 'x' } }],
      ] as const) {
        const answer = await call(method, path, body);
        expect([method, path, answer.status, answer.body.error.code]).toEqual([
          method,
          path,
          404,
          'Request_ResourceNotFound',
        ]);
      }
      // Its appId does not make a service principal valid yet: the 400 users meet after az ad app create.
      const sp = await call('POST', '/servicePrincipals', { appId: app.appId });
      expect(sp.status).toBe(400);
      expect(sp.body.error.message).toMatch(/does not reference a valid application object/);
      // Nothing was lost: once replicated, every call works.
      now += 5_000;
      expect((await call('GET', `/applications${byName}`)).body.value).toHaveLength(1);
      expect((await call('POST', `/applications/${app.id}/owners/$ref`, asBroker)).status).toBe(204);
      expect((await call('POST', '/servicePrincipals', { appId: app.appId })).status).toBe(201);
    });

    it('shows a new owner reference in ownedObjects only once it has replicated; a fresh group and principal are hidden too', async () => {
      const group = await call('POST', '/groups', {
        ...newGroup,
        'owners@odata.bind': [asBroker['@odata.id']],
      });
      expect(group.status).toBe(201);
      expect((await call('GET', `/groups/${group.body.id}`)).status).toBe(404);
      expect(
        (await call('GET', `/groups${filter(`displayName eq '${newGroup.displayName}'`)}`)).body.value,
      ).toEqual([]);
      const owned = () => call('GET', `/servicePrincipals/${brokerId}/ownedObjects?$select=id`);
      expect((await owned()).body.value).toEqual([]);
      now += 5_000;
      const app = await createApp('claw-owned');
      now += 5_000;
      expect((await call('POST', `/applications/${app.id}/owners/$ref`, asBroker)).status).toBe(204);
      // The group has replicated, the app's new owner reference has not.
      expect((await owned()).body.value.map((o: { id: string }) => o.id)).toEqual([group.body.id]);
      now += 5_000;
      expect((await owned()).body.value.map((o: { id: string }) => o.id).sort()).toEqual(
        [group.body.id, app.id].sort(),
      );
      // The authoritative view (graph.owners) never lags.
      expect(graph.owners(app.id)).toEqual([brokerId]);
      const sp = await call('POST', '/servicePrincipals', { appId: app.appId });
      expect((await call('GET', `/servicePrincipals/${sp.body.id}`)).status).toBe(404);
      expect(
        (await call('GET', `/servicePrincipals${filter(`appId eq '${app.appId}'`)}`)).body.value,
      ).toEqual([]);
    });
  });
});
