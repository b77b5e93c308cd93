import type { OrchestrationContext, OrchestrationHandler } from 'durable-functions';
import { RotationActivities } from '../shared/functionNames.js';
import { call, describeEnded, later, retryOptions } from './kit.js';
import type { EntraRetireInput } from '../shared/rotation/contracts.js';

/** The removal waits no slug's queue, so it retries longer than the operations do. */
const REMOVAL_RETRY = retryOptions(60_000, 6, 30 * 60_000);

/**
 * Removes a replaced Entra client secret once its grace period is over. Started (detached, with
 * the id `entra-retire:<slug>:<keyId>`) by rotate-secrets after the app switched to the new
 * secret, so the grace period's durable timer does not hold the slug's queue. The removal refuses
 * to remove the secret in use. Output: what happened, in words (no secret).
 */
export const retireEntraSecretOrchestration: OrchestrationHandler = function* (
  context: OrchestrationContext,
) {
  const input = context.df.getInput<EntraRetireInput>();
  const wait = Date.parse(input.notBefore) - context.df.currentUtcDateTime.getTime();
  if (wait > 0) {
    context.df.setCustomStatus({ step: `waiting until ${input.notBefore}`, done: 0, total: 1 });
    yield context.df.createTimer(later(context.df.currentUtcDateTime, wait));
  }
  context.df.setCustomStatus({ step: 'remove the old client secret', done: 0, total: 1 });
  const outcome = yield* call(context, RotationActivities.entraRemove, input, REMOVAL_RETRY);
  context.df.setCustomStatus({ step: 'finish', done: 1, total: 1 });
  switch (outcome.status) {
    case 'done':
      return outcome.value.removed ? 'removed' : 'already gone';
    case 'failed':
      throw new Error(
        `removing the old client secret of ${input.target.slug} failed: ${describeEnded(outcome)}`,
      );
    default:
      return `kept: ${outcome.reason}`;
  }
};
