import type { OrchestrationContext, OrchestrationHandler, Task } from 'durable-functions';
import type { ActivityInput, StepActivity, StepValue } from '../shared/activities.js';
import { UpgradeActivities } from '../shared/functionNames.js';
import type { StepOutcome } from '../shared/operations/outcome.js';
import {
  UPGRADE_STEPS,
  type CommitInput,
  type GateInput,
  type RestoreInput,
  type RollbackRecordInput,
  type StopInput,
  type UpgradePlan,
  type UpgradePlanInput,
  type UpgradeRequest,
  type UpgradeStepInput,
} from '../shared/upgrades/contracts.js';
import { approvalRefusalReason, requireApproval } from './approval.js';
import {
  Patience,
  callStep,
  describeEnded,
  firstLine,
  later,
  now,
  publish as publishStatus,
  rejected,
  succeeded,
  untilSettled,
  valueOf,
} from './kit.js';

const TOTAL = UPGRADE_STEPS.length;
type UpgradeStep = (typeof UPGRADE_STEPS)[number];

/** A step of the forward path ended without `done`: the upgrade turns back from here. */
class TurnBack extends Error {
  constructor(
    message: string,
    /** The target itself failed (its gate): the version is marked failed on the slug. */
    readonly targetFailed: boolean,
  ) {
    super(message);
  }
}

/**
 * upgrade for one slug, stop before start (issue 14). The plan reads the registry, the live app and
 * the registries (npm publish times, the image digest); the preflight renders and checks the
 * target's config with zero writes; a manual request under APPROVAL_POLICY.upgrade waits for the
 * admin chat. Then: stop (every revision deactivated, zero replicas confirmed), snapshot the state
 * share, start the target under a revision named after the request, gate it (started and ready
 * within UPGRADE_READY_TIMEOUT, restarts not climbing), soak, gate again, commit.
 *
 * Any failure after the stop turns back: stop the new revision, restore the snapshot, reactivate
 * the previous revision and gate it. If that fails too the slug is `needs-repair`: everything stays
 * stopped and the admin chat is told. At no moment do two revisions run: a revision starts only
 * after the step before confirmed that none has a replica. Each step is safe to run twice, so a
 * host killed after any step replays into the same state.
 */
export const upgradeOrchestration: OrchestrationHandler = function* (context: OrchestrationContext) {
  const request = context.df.getInput<UpgradeRequest>();
  const publish = (step: UpgradeStep) => publishStatus(context, step, UPGRADE_STEPS.indexOf(step), TOTAL);

  publish('plan');
  const planInput: UpgradePlanInput = { request, now: now(context) };
  const planned = yield* callStep(context, UpgradeActivities.plan, planInput);
  if (planned.status === 'refused') return rejected(planned.reason);
  const outcome = valueOf(`upgrade ${request.slug}: plan`, planned);
  if (outcome.kind === 'up-to-date') return succeeded(outcome.summary);
  const plan = outcome.plan;
  const at = (): UpgradeStepInput => ({ plan, now: now(context) });
  const what = `${request.slug} from OpenClaw ${plan.from.version} to ${plan.to.version}`;

  publish('preflight');
  const checked = yield* callStep(context, UpgradeActivities.preflight, at());
  if (checked.status === 'refused') return rejected(checked.reason);
  valueOf(`upgrade ${request.slug}: preflight`, checked);

  if (plan.approval) {
    const decision = yield* requireApproval(
      context,
      {
        requestId: request.requestId,
        op: 'upgrade',
        slug: request.slug,
        requestedBy: request.requestedBy,
        changes: [
          `upgrade ${what} (image ${plan.to.repository}@${plan.to.digest}, published ${plan.publishedAt})`,
          `stops revision ${plan.from.revision}, snapshots the state share, starts the new revision; rolls back on a failed gate`,
        ],
      },
      { step: 'approval', done: UPGRADE_STEPS.indexOf('approval'), total: TOTAL },
    );
    if (decision.outcome !== 'approved') return rejected(approvalRefusalReason(decision));
  }

  const { timing } = plan;
  const polling = (timeoutMs: number) => new Patience(timeoutMs, () => timing.pollIntervalMs);
  let snapshot: string | undefined;
  try {
    publish('stop');
    const stop: StopInput = { ...at(), recordInFlight: true };
    yield* forward(context, 'stop', UpgradeActivities.stop, stop, polling(timing.stopTimeoutMs), false);

    publish('snapshot');
    snapshot = (yield* forward(context, 'snapshot', UpgradeActivities.snapshot, at(), null, false)).snapshot;

    publish('start');
    const { revision } = yield* forward(context, 'start', UpgradeActivities.start, at(), null, true);

    publish('gate');
    const gateInput: GateInput = { ...at(), revision };
    const ready = yield* forward(
      context,
      'gate',
      UpgradeActivities.gate,
      gateInput,
      polling(timing.readyTimeoutMs),
      true,
    );

    publish('soak');
    yield context.df.createTimer(later(context.df.currentUtcDateTime, timing.soakMs));
    const soaked: GateInput = { ...at(), revision, restartsAtMost: ready.restarts };
    yield* forward(context, 'soak', UpgradeActivities.gate, soaked, null, true);

    publish('commit');
    const commit: CommitInput = { ...at(), revision, snapshot };
    valueOf(`upgrade ${request.slug}: commit`, yield* callStep(context, UpgradeActivities.commit, commit));
    context.df.setCustomStatus({ step: 'commit', done: TOTAL, total: TOTAL });
    return succeeded(
      `upgraded ${what}: revision ${revision}, image ${plan.to.repository}@${plan.to.digest}; the previous revision ${plan.from.revision} is kept inactive`,
    );
  } catch (error) {
    const reason = firstLine(error);
    const targetFailed = error instanceof TurnBack && error.targetFailed;
    yield* turnBack(context, plan, snapshot, reason, targetFailed);
    throw new Error(
      `upgrade of ${what} rolled back: ${reason}; ${plan.from.revision} runs ${plan.from.version} again${snapshot ? ` on the state restored from snapshot ${snapshot}` : ''}`,
      { cause: error },
    );
  }
};

/**
 * Runs one forward step: until it settles when given patience, once otherwise. Anything but done
 * throws TurnBack with the step and why.
 */
function* forward<N extends StepActivity>(
  context: OrchestrationContext,
  label: string,
  name: N,
  input: ActivityInput<N>,
  patience: Patience | null,
  targetFailed: boolean,
): Generator<Task, StepValue<N>, unknown> {
  const outcome: StepOutcome<StepValue<N>> = patience
    ? yield* untilSettled(context, name, input, patience)
    : yield* callStep(context, name, input);
  if (outcome.status === 'done') return outcome.value;
  throw new TurnBack(`${label}: ${describeEnded(outcome)}`, targetFailed);
}

/**
 * Back to the previous release: stop whatever runs (the new revision), restore the snapshot when
 * one was taken (the target may have migrated the state), reactivate the previous revision and
 * gate it, then record the rollback. A failure on this path leaves everything stopped and the slug
 * `needs-repair`, and throws.
 */
function* turnBack(
  context: OrchestrationContext,
  plan: UpgradePlan,
  snapshot: string | undefined,
  reason: string,
  targetFailed: boolean,
): Generator<Task, void, unknown> {
  const { timing } = plan;
  const at = (): UpgradeStepInput => ({ plan, now: now(context) });
  const label = (step: string) => `rollback of ${plan.target.slug}: ${step}`;
  try {
    context.df.setCustomStatus({ step: 'rollback: stop', done: 0, total: 4 });
    const stop: StopInput = { ...at(), recordInFlight: false };
    const stopPatience = new Patience(timing.stopTimeoutMs, () => timing.pollIntervalMs);
    valueOf(label('stop'), yield* untilSettled(context, UpgradeActivities.stop, stop, stopPatience));
    if (snapshot) {
      context.df.setCustomStatus({ step: 'rollback: restore', done: 1, total: 4 });
      const restore: RestoreInput = { ...at(), snapshot };
      valueOf(label('restore'), yield* callStep(context, UpgradeActivities.restore, restore));
    }
    context.df.setCustomStatus({ step: 'rollback: reactivate', done: 2, total: 4 });
    valueOf(label('reactivate'), yield* callStep(context, UpgradeActivities.reactivate, at()));
    context.df.setCustomStatus({ step: 'rollback: gate', done: 3, total: 4 });
    const gate: GateInput = { ...at(), revision: plan.from.revision };
    const readyPatience = new Patience(timing.readyTimeoutMs, () => timing.pollIntervalMs);
    valueOf(label('gate'), yield* untilSettled(context, UpgradeActivities.gate, gate, readyPatience));
  } catch (error) {
    const failed = firstLine(error);
    const repair: RollbackRecordInput = {
      ...at(),
      reason: `${reason}; then ${failed}`,
      targetFailed,
    };
    valueOf(label('needs repair'), yield* callStep(context, UpgradeActivities.needsRepair, repair));
    context.df.setCustomStatus({ step: 'needs repair', done: 4, total: 4 });
    throw new Error(
      `upgrade of ${plan.target.slug} to OpenClaw ${plan.to.version} failed (${reason}) and its rollback failed (${failed}): the slug needs repair; every revision is stopped`,
      { cause: error },
    );
  }
  const record: RollbackRecordInput = { ...at(), reason, targetFailed };
  valueOf(label('record'), yield* callStep(context, UpgradeActivities.recordRollback, record));
  context.df.setCustomStatus({ step: 'rolled back', done: 4, total: 4 });
}
