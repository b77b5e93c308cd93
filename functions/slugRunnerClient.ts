import type { DurableClient } from 'durable-functions';
import { OrchestrationRuntimeStatus } from 'durable-functions';
import { Events, Orchestrations, slugRunnerInstanceId } from '../shared/functionNames.js';
import type { SlugRunnerPort } from '../shared/intake/intakeService.js';
import { isDurableNotFound } from './durableClient.js';
import type { SlugRunnerInput } from '../shared/intake/runnerContracts.js';

const STOPPED = new Set<string>([
  OrchestrationRuntimeStatus.Completed,
  OrchestrationRuntimeStatus.Failed,
  OrchestrationRuntimeStatus.Terminated,
]);

/**
 * Starts the slug's eternal runner when it is not running, then raises `wake`. Two intakes racing
 * to start the same runner are fine: the instance id is deterministic, the loser's start is
 * refused, and both wakes reach the one runner.
 */
export function slugRunnerPort(client: DurableClient): SlugRunnerPort {
  return {
    async wake(slug: string, requestId: string): Promise<void> {
      const instanceId = slugRunnerInstanceId(slug);
      if (!(await isRunning(client, instanceId))) {
        const input: SlugRunnerInput = { slug };
        try {
          await client.startNew(Orchestrations.slugRunner, { instanceId, input });
        } catch (error) {
          // Someone else started it between our look and our start; anything else is a failure.
          if (!(await isRunning(client, instanceId))) throw error;
        }
      }
      await client.raiseEvent(instanceId, Events.wake, { requestId });
    },
  };
}

async function isRunning(client: DurableClient, instanceId: string): Promise<boolean> {
  try {
    const status = await client.getStatus(instanceId);
    return !STOPPED.has(status.runtimeStatus);
  } catch (error) {
    if (isDurableNotFound(error)) return false;
    throw error;
  }
}
