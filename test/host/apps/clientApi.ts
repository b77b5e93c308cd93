/**
 * HTTP functions that use the durable client exactly as production code does: start, status,
 * raise event, terminate and purge through df.getClient(context).
 */
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';

app.http('startOrchestration', {
  route: 'orchestrators/{name}/{instanceId?}',
  methods: ['POST'],
  authLevel: 'anonymous',
  extraInputs: [df.input.durableClient()],
  handler: async (request: HttpRequest, context: InvocationContext) => {
    const client = df.getClient(context);
    const text = await request.text();
    try {
      const instanceId = await client.startNew(request.params['name']!, {
        instanceId: request.params['instanceId'],
        input: text === '' ? undefined : (JSON.parse(text) as unknown),
      });
      return client.createCheckStatusResponse(request, instanceId);
    } catch (error) {
      return { status: 500, jsonBody: { message: (error as Error).message } };
    }
  },
});

app.http('instanceStatus', {
  route: 'instances/{instanceId}',
  methods: ['GET'],
  authLevel: 'anonymous',
  extraInputs: [df.input.durableClient()],
  handler: async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
    const client = df.getClient(context);
    try {
      const status = await client.getStatus(request.params['instanceId']!, { showHistory: true });
      return { jsonBody: status };
    } catch (error) {
      return { status: 404, jsonBody: { message: (error as Error).message } };
    }
  },
});

app.http('raiseInstanceEvent', {
  route: 'instances/{instanceId}/events/{eventName}',
  methods: ['POST'],
  authLevel: 'anonymous',
  extraInputs: [df.input.durableClient()],
  handler: async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
    const client = df.getClient(context);
    try {
      await client.raiseEvent(
        request.params['instanceId']!,
        request.params['eventName']!,
        await request.json(),
      );
      return { status: 202 };
    } catch (error) {
      return { status: 404, jsonBody: { message: (error as Error).message } };
    }
  },
});

app.http('terminateInstance', {
  route: 'instances/{instanceId}/terminate',
  methods: ['POST'],
  authLevel: 'anonymous',
  extraInputs: [df.input.durableClient()],
  handler: async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
    const client = df.getClient(context);
    await client.terminate(request.params['instanceId']!, 'operator asked');
    return { status: 202 };
  },
});

app.http('purgeInstance', {
  route: 'instances/{instanceId}',
  methods: ['DELETE'],
  authLevel: 'anonymous',
  extraInputs: [df.input.durableClient()],
  handler: async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
    const client = df.getClient(context);
    const result = await client.purgeInstanceHistory(request.params['instanceId']!);
    return { jsonBody: result };
  },
});
