import * as df from 'durable-functions';
import type { OrchestrationContext, OrchestrationHandler, Task } from 'durable-functions';
import { RotationActivities, SasActivities } from '../shared/functionNames.js';
import type { OperationProgress, OperationResult } from '../shared/intake/runnerContracts.js';
import { later } from '../shared/provisioning/orchestrationTime.js';
import {
  MAINTENANCE_APP_SECRETS,
  MAINTENANCE_SECRET_NAMES,
  type DeliverInput,
  type DeliverOutput,
  type MaintenanceOutcome,
  type MaintenanceTiming,
  type RenewSasRequest,
} from '../shared/rotation/contracts.js';
import type {
  SasFailureInput,
  SasFailureOutput,
  SasGrantInput,
  SasIssued,
  SasIssueInput,
  SasPlan,
  SasPlanInput,
  SasRecordInput,
  SasRecordOutput,
} from '../shared/sas/contracts.js';

const TRANSIENT_RETRY = (() => {
  const options = new df.RetryOptions(5_000, 4);
  options.backoffCoefficient = 2;
  options.maxRetryIntervalInMilliseconds = 60_000;
  return options;
})();

const TOTAL = 5;

/** A step answered definitively: refused (precondition) ends the request; failed is a failure. */
class StepEnded extends Error {
  constructor(
    readonly refused: boolean,
    message: string,
  ) {
    super(message);
  }
}

/**
 * renew-sas for one slug: a write-and-create-only SAS for the log container, signed with a
 * user-delegation key of the broker's identity, at most SAS_LIFETIME (<= 7 days), stored in the
 * slug's vault with its expiry, and delivered to the app (its Key Vault reference added if missing,
 * then set again so the app holds it now). The registry then shows the expiry and the renewal time,
 * about 2/3 of the issued lifetime with jitter.
 *
 * A renewal that fails is counted, given a back-off time (the SAS sweep enqueues the next attempt
 * then) and told to the admin chat with the current SAS's expiry; the request fails. A request made
 * before the current SAS was issued, or a step that finds a newer SAS, is rejected and changes
 * nothing. The SAS itself never passes through here: only versions and times.
 */
export const renewSasOrchestration: OrchestrationHandler = function* (context: OrchestrationContext) {
  const request = context.df.getInput<RenewSasRequest>();
  publish(context, 'plan', 0);
  const planInput: SasPlanInput = { request, now: now(context) };
  const plan = (yield context.df.callActivityWithRetry(
    SasActivities.plan,
    TRANSIENT_RETRY,
    planInput,
  )) as SasPlan;
  if (plan.status === 'refused') {
    const result: OperationResult = { outcome: 'rejected', reason: plan.reason };
    return result;
  }
  const { target, timing } = plan;

  try {
    publish(context, 'grant the broker blob delegation', 1);
    const grant: SasGrantInput = { target, now: now(context) };
    yield* settle(context, timing, 'grant', SasActivities.grant, grant);

    publish(context, 'issue', 2);
    const issueInput: SasIssueInput = { target, now: now(context), lifetimeMs: plan.lifetimeMs };
    const issued = yield* settle<SasIssued>(context, timing, 'issue', SasActivities.issue, issueInput);

    publish(context, 'deliver to the app', 3);
    const deliver: DeliverInput = {
      target,
      now: now(context),
      expect: {
        kind: 'secret-version',
        secretName: MAINTENANCE_SECRET_NAMES.logShippingSas,
        version: issued.version,
      },
      restart: false,
      ensureReference: {
        appSecretName: MAINTENANCE_APP_SECRETS.logShippingSas,
        vaultSecretName: MAINTENANCE_SECRET_NAMES.logShippingSas,
      },
    };
    yield* settle<DeliverOutput>(context, timing, 'deliver', RotationActivities.deliver, deliver);

    publish(context, 'record', 4);
    const recordInput: SasRecordInput = { target, now: now(context), ...issued };
    const recorded = (yield context.df.callActivityWithRetry(
      SasActivities.record,
      TRANSIENT_RETRY,
      recordInput,
    )) as SasRecordOutput;
    publish(context, 'finish', TOTAL);
    const result: OperationResult = {
      outcome: 'succeeded',
      summary: `${target.slug}: log-shipping SAS (write, create) issued at ${issued.issuedAt}, expires ${issued.expiresAt}, renewal due ${recorded.renewAt}; delivered to ${target.containerApp}`,
    };
    return result;
  } catch (error) {
    if (error instanceof StepEnded && error.refused) {
      const result: OperationResult = { outcome: 'rejected', reason: `${target.slug}: ${error.message}` };
      return result;
    }
    const reason = firstLine(error);
    const failure: SasFailureInput = { target, now: now(context), error: reason };
    const counted = (yield context.df.callActivityWithRetry(
      SasActivities.recordFailure,
      TRANSIENT_RETRY,
      failure,
    )) as SasFailureOutput;
    throw new Error(
      `renewing the log-shipping SAS of ${target.slug} failed (attempt ${counted.failures}): ${reason}; next attempt after ${counted.retryAt}`,
      { cause: error },
    );
  }
};

/**
 * Runs one activity until it is done: "not yet" (a grant propagating) waits on a durable timer,
 * bounded by the timing's timeout; refused or failed end the renewal (thrown as StepEnded).
 */
function* settle<T>(
  context: OrchestrationContext,
  timing: MaintenanceTiming,
  label: string,
  activity: string,
  input: { now: string },
): Generator<Task, T, unknown> {
  const startedAt = context.df.currentUtcDateTime.getTime();
  for (;;) {
    const outcome = (yield context.df.callActivityWithRetry(activity, TRANSIENT_RETRY, {
      ...input,
      now: now(context),
    })) as MaintenanceOutcome<T>;
    switch (outcome.status) {
      case 'done':
        return outcome.value;
      case 'refused':
        throw new StepEnded(true, `${label}: precondition failed: ${outcome.reason}`);
      case 'skipped':
        throw new StepEnded(true, `${label}: ${outcome.reason}`);
      case 'failed':
        throw new StepEnded(false, `${label}: ${outcome.error.code}: ${outcome.error.message}`);
      case 'not-yet': {
        const elapsed = context.df.currentUtcDateTime.getTime() - startedAt;
        if (elapsed >= timing.verifyTimeoutMs) {
          throw new StepEnded(
            false,
            `${label}: still not done after ${Math.round(elapsed / 1000)}s: ${outcome.reason}`,
          );
        }
        yield context.df.createTimer(later(context.df.currentUtcDateTime, timing.verifyIntervalMs));
      }
    }
  }
}

function now(context: OrchestrationContext): string {
  return context.df.currentUtcDateTime.toISOString();
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0]?.trim() || message;
}

function publish(context: OrchestrationContext, step: string, done: number): void {
  const progress: OperationProgress = { step, done, total: TOTAL };
  context.df.setCustomStatus(progress);
}
