/** HTTP, queue and timer functions registered as production code registers them. */
import {
  app,
  output,
  type HttpRequest,
  type HttpResponseInit,
  type InvocationContext,
  type Timer,
} from '@azure/functions';

export interface ProcessedMessage {
  message: unknown;
  dequeueCount: unknown;
  id: unknown;
  insertionTime: unknown;
}

export const processed: ProcessedMessage[] = [];
export const timerFirings: { timer: Timer }[] = [];
export const hookLog: string[] = [];
export const lifecycle: string[] = [];

const workQueue = output.storageQueue({ queueName: '%WORK_QUEUE%', connection: 'AzureWebJobsStorage' });

app.hook.appStart(() => {
  lifecycle.push('appStart');
});
app.hook.preInvocation((context) => {
  hookLog.push(`pre:${context.invocationContext.functionName}`);
});
app.hook.postInvocation((context) => {
  hookLog.push(`post:${context.invocationContext.functionName}`);
});

app.http('describeItem', {
  route: 'items/{category}/{id:int?}',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: (request: HttpRequest): HttpResponseInit => ({
    jsonBody: { params: request.params, tag: request.query.get('tag') },
    headers: { 'x-handled-by': 'describeItem' },
    cookies: [{ name: 'seen', value: 'yes', httpOnly: true }],
  }),
});

app.http('functionLevel', {
  route: 'secure/function',
  methods: ['GET'],
  authLevel: 'function',
  handler: () => ({ body: 'function ok' }),
});

app.http('adminLevel', {
  route: 'secure/admin',
  methods: ['GET'],
  authLevel: 'admin',
  handler: () => ({ body: 'admin ok' }),
});

app.http('defaultRoute', {
  authLevel: 'anonymous',
  handler: () => ({ status: 200, body: 'routed by function name' }),
});

app.http('enqueueWork', {
  route: 'work',
  methods: ['POST'],
  authLevel: 'anonymous',
  extraOutputs: [workQueue],
  handler: async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
    context.extraOutputs.set(workQueue, await request.json());
    return { status: 202 };
  },
});

app.storageQueue('processWork', {
  queueName: '%WORK_QUEUE%',
  connection: 'AzureWebJobsStorage',
  handler: (message: unknown, context: InvocationContext) => {
    processed.push({
      message,
      dequeueCount: context.triggerMetadata?.['dequeueCount'],
      id: context.triggerMetadata?.['id'],
      insertionTime: context.triggerMetadata?.['insertionTime'],
    });
    if ((message as { fail?: boolean }).fail) throw new Error('this message always fails');
  },
});

app.timer('sweep', {
  schedule: '%SWEEP_SCHEDULE%',
  handler: (timer: Timer, context: InvocationContext) => {
    timerFirings.push({ timer });
    context.log('sweep ran');
  },
});
