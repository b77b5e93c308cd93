import type { OrchestrationContext, OrchestrationHandler, Task } from 'durable-functions';
import { RotationActivities, SasActivities } from '../shared/functionNames.js';
import type { ActivityInput, StepActivity, StepValue } from '../shared/activities.js';
import {
  Patience,
  call,
  describeEnded,
  firstLine,
  now,
  publish as publishStatus,
  rejected,
  succeeded,
  untilSettled,
} from './kit.js';
import {
  type RenewSasRequest,
  type SasFailureInput,
  type SasGrantInput,
  type SasIssueInput,
  type SasPlanInput,
  type SasRecordInput,
} from '../shared/sas/contracts.js';
import { MAINTENANCE_APP_SECRETS, MAINTENANCE_SECRET_NAMES } from '../shared/domain/footprint.js';
import type { DeliverInput, MaintenanceTiming } from '../shared/maintenance/contracts.js';

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
  const plan = yield* call(context, SasActivities.plan, planInput);
  if (plan.status === 'refused') return rejected(plan.reason);
  const { target, timing } = plan;
  const settle = <N extends StepActivity>(label: string, activity: N, input: ActivityInput<N>) =>
    settled(context, timing, label, activity, input);

  try {
    publish(context, 'grant the broker blob delegation', 1);
    const grant: SasGrantInput = { target, now: now(context) };
    yield* settle('grant', SasActivities.grant, grant);

    publish(context, 'issue', 2);
    const issueInput: SasIssueInput = { target, now: now(context), lifetimeMs: plan.lifetimeMs };
    const issued = yield* settle('issue', SasActivities.issue, issueInput);

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
    yield* settle('deliver', RotationActivities.deliver, deliver);

    publish(context, 'record', 4);
    const recordInput: SasRecordInput = { target, now: now(context), ...issued };
    const recorded = yield* call(context, SasActivities.record, recordInput);
    publish(context, 'finish', TOTAL);
    return succeeded(
      `${target.slug}: log-shipping SAS (write, create) issued at ${issued.issuedAt}, expires ${issued.expiresAt}, renewal due ${recorded.renewAt}; delivered to ${target.containerApp}`,
    );
  } catch (error) {
    if (error instanceof StepEnded && error.refused) return rejected(`${target.slug}: ${error.message}`);
    const reason = firstLine(error);
    const failure: SasFailureInput = { target, now: now(context), error: reason };
    const counted = yield* call(context, SasActivities.recordFailure, failure);
    throw new Error(
      `renewing the log-shipping SAS of ${target.slug} failed (attempt ${counted.failures}): ${reason}; next attempt after ${counted.retryAt}`,
      { cause: error },
    );
  }
};

/**
 * Runs one step until it is done: "not yet" (a grant propagating) waits on a durable timer, bounded
 * by the timing's timeout; refused or failed end the renewal (thrown as StepEnded).
 */
function* settled<N extends StepActivity>(
  context: OrchestrationContext,
  timing: MaintenanceTiming,
  label: string,
  activity: N,
  input: ActivityInput<N>,
): Generator<Task, StepValue<N>, unknown> {
  const patience = new Patience(timing.verifyTimeoutMs, () => timing.verifyIntervalMs);
  const outcome = yield* untilSettled(context, activity, input, patience);
  switch (outcome.status) {
    case 'done':
      return outcome.value;
    case 'refused':
      throw new StepEnded(true, `${label}: precondition failed: ${outcome.reason}`);
    case 'skipped':
      throw new StepEnded(true, `${label}: ${outcome.reason}`);
    default:
      throw new StepEnded(false, `${label}: ${describeEnded(outcome)}`);
  }
}

function publish(context: OrchestrationContext, step: string, done: number): void {
  publishStatus(context, step, done, TOTAL);
}
