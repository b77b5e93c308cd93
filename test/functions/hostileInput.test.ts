import { HttpRequest, InvocationContext, type HttpResponseInit } from '@azure/functions';
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueClient } from '@azure/storage-queue';
import * as df from 'durable-functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type RunningAzurite } from '../../sandbox/azurite.js';
import { clientBindingData } from '../../sandbox/host/durable/clientBinding.js';
import { drainUnreadableMessages } from '../../shared/intake/unreadableDrain.js';
import { containsRawSecret } from '../../shared/requests/rawSecrets.js';
import { FAKE_BOT_TOKEN, deepRequestText, nestedText } from '../support/hostileInputs.js';
import { aRequest } from '../support/requests.js';
import { loadConfig } from '../../shared/config.js';
import { testSettings } from '../support/settings.js';
import * as intake from '../../functions/intake.js';
import * as rejectedApi from '../../functions/api/rejected.js';
import * as requestsApi from '../../functions/api/requests.js';
import * as services from '../../functions/services.js';

/**
 * Issue 10, findings 4 and 5 and the `__proto__` difference, through the registered handlers
 * (queue trigger, poison trigger, HTTP API) called in-process with real InvocationContext and
 * HttpRequest objects, against Azurite. Each test failed on the code before the fix.
 */
let azurite: RunningAzurite;
let sequence = 0;

beforeAll(async () => {
  azurite = await startAzurite();
  services.useServices(
    services.compose(loadConfig(testSettings({ AzureWebJobsStorage: azurite.connectionString }))),
  );
});

afterAll(async () => {
  await azurite.stop();
});

/** The context the host gives a queue trigger: its metadata and a durable client binding (unused by refusals). */
function queueContext(dequeueCount = 1): { context: InvocationContext; messageId: string } {
  sequence += 1;
  const messageId = `msg-hostile-${sequence}`;
  const client = df.input.durableClient();
  const context = new InvocationContext({
    functionName: 'lifecycleIntake',
    invocationId: `inv-${sequence}`,
    logHandler: () => undefined,
    options: { trigger: { type: 'queueTrigger', name: 'message' }, extraInputs: [client] },
    triggerMetadata: {
      id: messageId,
      dequeueCount,
      insertionTime: new Date(Date.UTC(2026, 11, 1, 9, 0, sequence)).toISOString(),
    },
  });
  context.extraInputs.set(
    client,
    clientBindingData({ baseUrl: 'http://127.0.0.1:9', taskHub: 'clawbrokertest', systemKey: 'unused' }),
  );
  return { context, messageId };
}

/** What the host hands the queue trigger: a JSON message parsed, anything else as text. */
function asDelivered(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function httpGet(path: string, params: Record<string, string> = {}): HttpRequest {
  return new HttpRequest({ url: `http://127.0.0.1:7071${path}`, method: 'GET', params });
}

function httpPost(body: string): HttpRequest {
  return new HttpRequest({
    url: 'http://127.0.0.1:7071/api/requests',
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: { string: body },
  });
}

function context(): InvocationContext {
  return new InvocationContext({ functionName: 'test', invocationId: 'test', logHandler: () => undefined });
}

function bodyOf(response: HttpResponseInit): Record<string, unknown> {
  return JSON.parse(response.body as string) as Record<string, unknown>;
}

async function rejectedByMessageId(messageId: string): Promise<Record<string, unknown>> {
  const list = bodyOf(await rejectedApi.listRejected(httpGet('/api/rejected', {}), context()));
  const entry = (list['rejected'] as Record<string, unknown>[]).find((r) => r['messageId'] === messageId);
  if (!entry) throw new Error(`message ${messageId} was not recorded`);
  return entry;
}

async function everyRejectedBlob(): Promise<string[]> {
  const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(
    'rejected-messages',
  );
  const texts: string[] = [];
  for await (const blob of container.listBlobsFlat())
    texts.push((await container.getBlobClient(blob.name).downloadToBuffer()).toString('utf8'));
  return texts;
}

describe('finding 4: a raw secret in a rejected message is never stored or served back', () => {
  it.each([
    ['as the whole of params.reason', { reason: FAKE_BOT_TOKEN }],
    ['inside a sentence', { reason: `my bot token is ${FAKE_BOT_TOKEN}, please use it` }],
  ])(
    'masks a bot token %s in the stored text and the preview, and says so in the reason',
    async (_label, params) => {
      const text = JSON.stringify(aRequest({ requestId: `leak-${sequence}`, op: 'teardown', params }));
      const { context: ctx, messageId } = queueContext();
      await intake.lifecycleIntake(asDelivered(text), ctx);

      const listed = await rejectedByMessageId(messageId);
      expect(listed['code']).toBe('RequestSchemaViolation');
      expect(String(listed['preview'])).toContain('[redacted]');
      expect(String(listed['reason'])).toMatch(/1 raw secret value\(s\) masked in the stored text/);
      const one = bodyOf(
        await rejectedApi.getRejected(
          httpGet(`/api/rejected/${String(listed['id'])}`, { id: String(listed['id']) }),
          context(),
        ),
      );
      expect(String(one['originalText'])).toContain('[redacted]');
      for (const answer of [JSON.stringify(listed), JSON.stringify(one)]) {
        expect(answer).not.toContain(FAKE_BOT_TOKEN);
        expect(containsRawSecret(answer)).toBe(false);
      }
      expect((await everyRejectedBlob()).some((blob) => blob.includes(FAKE_BOT_TOKEN))).toBe(false);
    },
  );

  it('withholds a message whose secret hides behind JSON escapes (it cannot be masked in place)', async () => {
    const escaped = [...FAKE_BOT_TOKEN]
      .map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
      .join('');
    const text = JSON.stringify(
      aRequest({ requestId: 'leak-escaped', op: 'teardown', params: { reason: 'T' } }),
    ).replace('"T"', `"${escaped}"`);
    const { context: ctx, messageId } = queueContext();
    await intake.lifecycleIntake(text, ctx);
    const listed = await rejectedByMessageId(messageId);
    expect(String(listed['reason'])).toContain('JSON-escaped form, so its text is not kept');
    const one = bodyOf(
      await rejectedApi.getRejected(httpGet('/api/rejected/x', { id: String(listed['id']) }), context()),
    );
    expect(one['originalText']).toBe('[withheld: the message held a raw secret value]');
    expect(String(listed['preview'])).not.toContain('\\u00');
  });

  it('keeps no secret that came as a field name (the schema echoes unknown field names in its reason)', async () => {
    const text = JSON.stringify(aRequest({ requestId: 'leak-key', params: { [FAKE_BOT_TOKEN]: true } }));
    const { context: ctx, messageId } = queueContext();
    await intake.lifecycleIntake(asDelivered(text), ctx);
    const listed = await rejectedByMessageId(messageId);
    expect(JSON.stringify(listed)).not.toContain(FAKE_BOT_TOKEN);
    const request = await services.services().requests.get('leak-key');
    expect(request).toMatchObject({ status: 'rejected' });
    expect(JSON.stringify(request)).not.toContain(FAKE_BOT_TOKEN);
  });
});

describe('finding 5: deep nesting is refused and recorded, never a stack overflow', () => {
  it.each([2_000, 4_000, 12_000])(
    'records a queue message nested %i levels deep on its first delivery, with the reason',
    async (levels) => {
      const requestId = `deep-queue-${levels}`;
      const { context: ctx, messageId } = queueContext();
      await expect(
        intake.lifecycleIntake(asDelivered(deepRequestText(requestId, levels)), ctx),
      ).resolves.toBeUndefined();
      const listed = await rejectedByMessageId(messageId);
      expect(listed).toMatchObject({
        code: 'RequestSchemaViolation',
        source: 'queue',
        dequeueCount: 1,
        requestId,
      });
      expect(String(listed['reason'])).toContain('nested deeper than 32 levels (at params.reason');
      expect(await services.services().requests.get(requestId)).toMatchObject({ status: 'rejected' });
    },
  );

  it.each([2_000, 4_000, 12_000, 30_000])(
    "records a message nested %i levels deep that reaches the poison queue, with the host's delivery count",
    async (levels) => {
      const { context: ctx, messageId } = queueContext(1);
      await expect(
        intake.lifecycleIntakePoison(JSON.parse(nestedText(levels)), ctx),
      ).resolves.toBeUndefined();
      const listed = await rejectedByMessageId(messageId);
      expect(listed).toMatchObject({ code: 'RequestProcessingFailed', source: 'poison', dequeueCount: 5 });
      expect(String(listed['reason'])).toContain('failed on each of 5 deliveries');
      expect(Number(listed['sizeBytes'])).toBe(levels * 2);
    },
  );

  it.each([2_000, 4_000, 12_000])(
    'answers an HTTP body nested %i levels deep with 400, not 500',
    async (levels) => {
      for (const body of [
        nestedText(levels),
        JSON.stringify({ op: 'teardown', slug: 'acme', params: { reason: '@' } }).replace(
          '"@"',
          nestedText(levels),
        ),
      ]) {
        const response = await requestsApi.submitRequest(httpPost(body), context());
        expect(response.status).toBe(body.length > 49_152 ? 413 : 400);
        if (response.status === 400)
          expect(bodyOf(response)).toMatchObject({
            code: 'RequestSchemaViolation',
            detail: expect.stringContaining('nested deeper than 32 levels'),
          });
      }
    },
  );
});

describe('__proto__: the HTTP API and the queue refuse it alike', () => {
  it('refuses __proto__ in the body of POST /api/requests with a reason naming it, and enqueues nothing', async () => {
    const response = await requestsApi.submitRequest(
      httpPost(
        '{"op":"provision","slug":"acme","requestId":"proto-http","params":{"__proto__":{"owners":["mallory"]}}}',
      ),
      context(),
    );
    expect(response.status).toBe(400);
    expect(bodyOf(response)).toMatchObject({
      code: 'RequestSchemaViolation',
      detail: expect.stringContaining('params.__proto__: a field named "__proto__" is not accepted'),
    });
    expect(await services.services().requests.get('proto-http')).toBeUndefined();
  });

  it('refuses the same request on the queue with the same reason', async () => {
    const text =
      '{"schemaVersion":1,"requestId":"proto-queue","op":"provision","slug":"acme","params":{"__proto__":{"owners":["mallory"]}},"requestedBy":{"kind":"operator","id":"a"},"requestedAt":"2026-11-22T08:00:00Z"}';
    const { context: ctx, messageId } = queueContext();
    await intake.lifecycleIntake(asDelivered(text), ctx);
    expect(String((await rejectedByMessageId(messageId))['reason'])).toContain(
      'params.__proto__: a field named "__proto__" is not accepted',
    );
  });
});

describe('no message ends unrecorded: what the host gave up on in both triggers is drained', () => {
  it('records each message in lifecycle-requests-poison-poison, redacted, and empties the queue', async () => {
    const unreadable = new QueueClient(azurite.connectionString, 'lifecycle-requests-poison-poison');
    await unreadable.createIfNotExists();
    // A message deep enough to fail in the worker's metadata conversion, and one carrying a token.
    const deep = (await unreadable.sendMessage(nestedText(12_000))).messageId;
    const leaky = (await unreadable.sendMessage(`provision acme with ${FAKE_BOT_TOKEN}`)).messageId;

    const { context: ctx } = queueContext();
    await intake.drainUnreadableIntake(ctx);

    for (const messageId of [deep, leaky]) {
      const listed = await rejectedByMessageId(messageId);
      expect(listed).toMatchObject({ code: 'RequestProcessingFailed', source: 'poison', dequeueCount: 5 });
      expect(String(listed['reason'])).toContain('recorded from lifecycle-requests-poison-poison');
      expect(JSON.stringify(listed)).not.toContain(FAKE_BOT_TOKEN);
    }
    expect((await unreadable.peekMessages()).peekedMessageItems).toEqual([]);
  });

  it('keeps a message it could not record, for the next run', async () => {
    const unreadable = new QueueClient(azurite.connectionString, 'lifecycle-requests-poison-poison');
    await unreadable.sendMessage('kept for later');
    const failing = { recordUnreadable: () => Promise.reject(new Error('storage is down')) };
    await expect(drainUnreadableMessages(unreadable, failing)).rejects.toThrow('storage is down');
    // Invisible while leased, then back: not deleted.
    expect((await unreadable.getProperties()).approximateMessagesCount).toBe(1);
  });
});
