import { HttpRequest, InvocationContext, type HttpResponseInit } from '@azure/functions';
import { QueueClient } from '@azure/storage-queue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type RunningAzurite } from '../../sandbox/azurite.js';
import { loadConfig } from '../../shared/config.js';
import { testSettings } from '../support/settings.js';
import * as api from '../../functions/api/requests.js';
import * as environments from '../../functions/api/environments.js';
import * as services from '../../functions/services.js';

/**
 * The HTTP handlers, called with real HttpRequest and InvocationContext objects from
 * @azure/functions, against Azurite. The end-to-end path through the local host is in
 * test/scenario/intake.test.ts.
 */
let azurite: RunningAzurite;

beforeAll(async () => {
  azurite = await startAzurite();
  services.useServices(
    services.compose(
      loadConfig(
        testSettings({ AzureWebJobsStorage: azurite.connectionString, INTAKE_MAX_MESSAGE_BYTES: '2048' }),
      ),
    ),
  );
});

afterAll(async () => {
  await azurite.stop();
});

function post(body: string, headers: Record<string, string> = {}): HttpRequest {
  return new HttpRequest({
    url: 'http://127.0.0.1:7071/api/requests',
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: { string: body },
  });
}

function get(path: string, params: Record<string, string>): HttpRequest {
  return new HttpRequest({ url: `http://127.0.0.1:7071${path}`, method: 'GET', params });
}

function context(): InvocationContext {
  return new InvocationContext({
    functionName: 'test',
    invocationId: 'test-invocation',
    logHandler: () => undefined,
  });
}

function bodyOf(response: HttpResponseInit): Record<string, unknown> {
  return JSON.parse(response.body as string) as Record<string, unknown>;
}

async function queuedMessages(): Promise<string[]> {
  const queue = new QueueClient(azurite.connectionString, 'lifecycle-requests');
  const peeked = await queue.peekMessages({ numberOfMessages: 32 });
  return peeked.peekedMessageItems.map((m) => m.messageText);
}

describe('POST /api/requests', () => {
  it('records a valid request, enqueues it, and answers 202 with the requestId and a status URL', async () => {
    const response = await api.submitRequest(
      post(JSON.stringify({ op: 'provision', slug: 'acme', requestId: 'http-1' })),
      context(),
    );
    expect(response.status).toBe(202);
    expect(bodyOf(response)).toEqual({
      requestId: 'http-1',
      status: 'queued',
      statusUrl: 'http://127.0.0.1:7071/api/requests/http-1',
    });
    expect((response.headers as Record<string, string>)['Location']).toBe(
      'http://127.0.0.1:7071/api/requests/http-1',
    );
    const enqueued = (await queuedMessages()).map((text) => JSON.parse(text) as Record<string, unknown>);
    expect(enqueued.find((m) => m['requestId'] === 'http-1')).toMatchObject({
      schemaVersion: 1,
      op: 'provision',
      slug: 'acme',
      requestedBy: { kind: 'operator', id: 'function-key' },
    });
  });

  it('ignores principal headers a function-key caller writes: without Easy Auth nothing strips them', async () => {
    await api.submitRequest(
      post(JSON.stringify({ op: 'renew-sas', slug: 'acme', requestId: 'http-spoofed' }), {
        'x-ms-client-principal-name': 'alice@example.com',
        'x-ms-client-principal-id': 'a11ce000-0000-4000-8000-000000000001',
      }),
      context(),
    );
    expect((await services.services().requests.get('http-spoofed'))?.request?.requestedBy).toEqual({
      kind: 'operator',
      id: 'function-key',
    });
  });

  it('generates a requestId when none is given', async () => {
    const response = await api.submitRequest(
      post(JSON.stringify({ op: 'renew-sas', slug: 'acme' })),
      context(),
    );
    expect(response.status).toBe(202);
    expect(bodyOf(response)['requestId']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers the same requestId again with the existing request and does not enqueue it twice', async () => {
    const body = JSON.stringify({ op: 'teardown', slug: 'twice', requestId: 'http-twice' });
    await api.submitRequest(post(body), context());
    const again = await api.submitRequest(post(body), context());
    expect(again.status).toBe(202);
    expect((await queuedMessages()).filter((text) => text.includes('"http-twice"'))).toHaveLength(1);
  });

  it('refuses different content under a used requestId with 409 RequestIdConflict', async () => {
    await api.submitRequest(
      post(JSON.stringify({ op: 'provision', slug: 'first', requestId: 'http-conflict' })),
      context(),
    );
    const response = await api.submitRequest(
      post(JSON.stringify({ op: 'provision', slug: 'second', requestId: 'http-conflict' })),
      context(),
    );
    expect(response.status).toBe(409);
    expect(bodyOf(response)).toMatchObject({ code: 'RequestIdConflict', status: 409 });
  });

  it.each([
    ['invalid JSON', '{"op":', 400, 'RequestInvalidJson'],
    ['an unknown op', JSON.stringify({ op: 'reboot', slug: 'acme' }), 400, 'RequestUnknownOperation'],
    ['an invalid slug', JSON.stringify({ op: 'provision', slug: 'ACME' }), 400, 'RequestSchemaViolation'],
    [
      'an unknown field',
      JSON.stringify({ op: 'provision', slug: 'acme', force: true }),
      400,
      'RequestSchemaViolation',
    ],
    [
      'an oversized body',
      JSON.stringify({ op: 'provision', slug: 'acme', params: { owners: ['x'.repeat(3000)] } }),
      413,
      'RequestOversized',
    ],
  ])('answers %s with problem+json, its code, and enqueues nothing', async (_label, body, status, code) => {
    const before = (await queuedMessages()).length;
    const response = await api.submitRequest(post(body), context());
    expect(response.status).toBe(status);
    expect((response.headers as Record<string, string>)['Content-Type']).toBe('application/problem+json');
    expect(bodyOf(response)).toMatchObject({ code, status });
    expect((await queuedMessages()).length).toBe(before);
  });

  it('lists each schema problem with its path', async () => {
    const response = await api.submitRequest(
      post(JSON.stringify({ op: 'provision', slug: 'acme', params: { channels: ['fax'] } })),
      context(),
    );
    expect(bodyOf(response)['errors']).toEqual([expect.objectContaining({ path: 'params.channels.0' })]);
  });
});

describe('GET /api/requests/{requestId}', () => {
  it('answers a queued request with its status', async () => {
    await api.submitRequest(
      post(JSON.stringify({ op: 'provision', slug: 'status', requestId: 'http-status' })),
      context(),
    );
    const response = await api.getRequest(
      get('/api/requests/http-status', { requestId: 'http-status' }),
      context(),
    );
    expect(response.status).toBe(200);
    expect(bodyOf(response)).toMatchObject({
      requestId: 'http-status',
      op: 'provision',
      slug: 'status',
      status: 'queued',
    });
  });

  it('answers 404 NotFound for an unknown request and 400 for a malformed id', async () => {
    expect(
      bodyOf(await api.getRequest(get('/api/requests/nope', { requestId: 'nope' }), context())),
    ).toMatchObject({ status: 404, code: 'NotFound' });
    expect((await api.getRequest(get('/api/requests/a%23b', { requestId: 'a#b' }), context())).status).toBe(
      400,
    );
  });
});

describe('GET /api/environments', () => {
  it('lists registry records without storage etags, and answers 404 / 400 for one slug', async () => {
    await services.services().registry.update('listed', () => ({
      slug: 'listed',
      state: 'ready',
      incarnation: 1,
      owners: [],
      secretAges: {},
    }));
    const list = bodyOf(await environments.listEnvironments(get('/api/environments', {}), context()));
    const listed = (list['environments'] as Record<string, unknown>[]).find((e) => e['slug'] === 'listed');
    expect(listed).toMatchObject({ state: 'ready', incarnation: 1 });
    expect(listed).not.toHaveProperty('etag');
    expect(
      bodyOf(
        await environments.getEnvironment(get('/api/environments/listed', { slug: 'listed' }), context()),
      ),
    ).toMatchObject({ slug: 'listed' });
    expect(
      (await environments.getEnvironment(get('/api/environments/ghost', { slug: 'ghost' }), context()))
        .status,
    ).toBe(404);
    expect(
      bodyOf(await environments.getEnvironment(get('/api/environments/BAD', { slug: 'BAD' }), context())),
    ).toMatchObject({ code: 'SlugInvalid' });
  });
});
