import * as df from 'durable-functions';
import type { OrchestrationContext, OrchestrationHandler } from 'durable-functions';
import { RotationActivities } from '../shared/functionNames.js';
import { later } from '../shared/provisioning/orchestrationTime.js';
import type { EntraRetireInput, MaintenanceOutcome } from '../shared/rotation/contracts.js';

const TRANSIENT_RETRY = (() => {
  const options = new df.RetryOptions(60_000, 6);
  options.backoffCoefficient = 2;
  options.maxRetryIntervalInMilliseconds = 30 * 60_000;
  return options;
})();

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
  const outcome = (yield context.df.callActivityWithRetry(
    RotationActivities.entraRemove,
    TRANSIENT_RETRY,
    input,
  )) as MaintenanceOutcome<{ removed: boolean }>;
  context.df.setCustomStatus({ step: 'finish', done: 1, total: 1 });
  switch (outcome.status) {
    case 'done':
      return outcome.value.removed ? 'removed' : 'already gone';
    case 'failed':
      throw new Error(
        `removing the old client secret of ${input.target.slug} failed: ${outcome.error.code}: ${outcome.error.message}`,
      );
    default:
      return `kept: ${outcome.reason}`;
  }
};
