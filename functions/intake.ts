import { app, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { Functions } from '../shared/functionNames.js';
import { IntakeService, type IntakeMessage } from '../shared/intake/intakeService.js';
import { stringifyJson } from '../shared/requests/jsonInspection.js';
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

function intakeFor(context: InvocationContext): IntakeService {
  const { requests, rejected, config } = services();
  return new IntakeService({
    requests,
    rejected,
    runner: slugRunnerPort(df.getClient(context)),
    maxMessageBytes: config.intake.maxMessageBytes,
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
