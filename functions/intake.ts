import { app, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { Functions } from '../shared/functionNames.js';
import { IntakeService, type IntakeMessage } from '../shared/intake/intakeService.js';
import { stringifyJson } from '../shared/requests/jsonInspection.js';
import { drainUnreadableMessages } from '../shared/intake/unreadableDrain.js';
import { StorageNames } from '../shared/storage/brokerStorage.js';
import { createLogger } from '../shared/logger.js';
import { services } from './services.js';
import { slugRunnerPort } from './slugRunnerClient.js';

/**
 * Queue trigger on `lifecycle-requests`. A bad message is recorded with its reason and completes
 * (it is never retried forever); only infrastructure failures throw, so the host retries the message
 * (host.json maxDequeueCount) and finally moves it to the poison queue, whose trigger records it.
 */
export async function lifecycleIntake(message: unknown, context: InvocationContext): Promise<void> {
  const outcome = await intakeFor(context).process(toIntakeMessage(message, context));
  context.log(`intake ${outcome.kind}`, outcome.kind === 'rejected' ? outcome.code : outcome.requestId);
}

export async function lifecycleIntakePoison(message: unknown, context: InvocationContext): Promise<void> {
  await intakeFor(context).recordPoison(toIntakeMessage(message, context));
}

/**
 * Records what the host moved to `lifecycle-requests-poison-poison` (messages the worker could not
 * hand to either trigger), so no message ends unrecorded. Run by the daily housekeeping timer
 * (functions/housekeeping.ts), well inside a queue message's 7-day lifetime; an empty queue costs
 * one storage call. Operators who want it sooner run housekeeping now through the admin endpoint
 * (`POST /admin/functions/housekeeping`).
 */
export async function drainUnreadableIntake(context: InvocationContext): Promise<number> {
  const { storage } = services();
  const queue = await storage.queue(StorageNames.lifecycleUnreadableQueue);
  const recorded = await drainUnreadableMessages(queue, intakeFor(context, false));
  if (recorded > 0) {
    createLogger(context).warn('poison messages recorded', { queue: queue.name, count: recorded });
  }
  return recorded;
}

function intakeFor(context: InvocationContext, withRunner = true): IntakeService {
  const { requests, rejected, config } = services();
  return new IntakeService({
    requests,
    rejected,
    // Only admitted requests wake a runner; the drain only records, and a timer has no client binding.
    runner: withRunner
      ? slugRunnerPort(df.getClient(context))
      : { wake: () => Promise.reject(new Error('not for the drain')) },
    maxMessageBytes: config.intake.maxMessageBytes,
    stagingVaultUri: config.stagingKeyVaultUri,
    logger: createLogger(context, { invocationId: context.invocationId }),
  });
}

/**
 * The Functions host hands a queue message that parses as JSON over as an object; the intake wants
 * the text, so an object is serialised back (same content, canonical spacing), without recursion:
 * `JSON.stringify` overflows the stack on a message nested a few thousand levels deep, and then
 * neither this trigger nor the poison trigger could record it.
 */
function toIntakeMessage(message: unknown, context: InvocationContext): IntakeMessage {
  const metadata = context.triggerMetadata ?? {};
  const insertionTime = metadata['insertionTime'];
  return {
    text: typeof message === 'string' ? message : stringifyJson(message),
    messageId: typeof metadata['id'] === 'string' ? metadata['id'] : context.invocationId,
    dequeueCount:
      typeof metadata['dequeueCount'] === 'number'
        ? metadata['dequeueCount']
        : Number(metadata['dequeueCount'] ?? 1),
    receivedAt:
      typeof insertionTime === 'string' || insertionTime instanceof Date
        ? new Date(insertionTime).toISOString()
        : new Date().toISOString(),
  };
}

app.storageQueue(Functions.lifecycleIntake, {
  queueName: StorageNames.lifecycleQueue,
  connection: 'AzureWebJobsStorage',
  extraInputs: [df.input.durableClient()],
  handler: lifecycleIntake,
});

app.storageQueue(Functions.lifecycleIntakePoison, {
  queueName: StorageNames.lifecyclePoisonQueue,
  connection: 'AzureWebJobsStorage',
  extraInputs: [df.input.durableClient()],
  handler: lifecycleIntakePoison,
});
