import type { OrchestrationContext, OrchestrationHandler, Task } from 'durable-functions';
import { TeardownActivities } from '../shared/functionNames.js';
import type { ActivityInput, StepActivity, StepValue } from '../shared/activities.js';
import {
  TEARDOWN_STEPS,
  type BackupInput,
  type FinishInput,
  type InspectInput,
  type MarkInput,
  type TeardownRequest,
  type TeardownStep,
} from '../shared/teardown/contracts.js';
import { describeTeardown } from '../shared/teardown/describe.js';
import { approvalRefusalReason, requireApproval } from './approval.js';
import { Patience, now, untilSettled, rejected, succeeded, valueOf } from './kit.js';

const TOTAL = TEARDOWN_STEPS.length;

/**
 * How long a teardown step may answer "not yet": only Entra's replication of an object provisioning
 * just created does (readRecorded, isReplicationLag), which settles within the propagation timeout
 * (PROVISION_PROPAGATION_TIMEOUT, 30 minutes by default) and usually in seconds. Backs off from 5 s
 * to a minute, as the activity retry did when the step threw.
 */
const entraReplication = () =>
  new Patience(30 * 60_000, (waits) => Math.min(60_000, 5_000 * 2 ** Math.min(waits - 1, 4)));

/**
 * Tears one slug down. Input: the validated teardown request; output: an OperationResult.
 *
 * It looks first (read-only): a resource group without the broker's ownership tags for this slug,
 * or holding a resource the broker did not create, is refused with the reason and nothing is
 * touched; a slug with nothing left is a no-op that succeeds. Otherwise the admin chat is asked to
 * approve (the approval sub-orchestration; the message lists what will be deleted). Rejected or
 * expired: nothing is touched. Approved: it looks again (the footprint may have changed while
 * waiting), marks the environment `deleting`, backs up the state share into the broker's storage,
 * deletes the resource group and waits for it, keeps or purges the soft-deleted Key Vault per
 * policy, removes the Entra app registration and group, and marks the environment `deleted` with
 * the backup's location. Every step is safe to run twice, so a failed teardown is retried by
 * requesting it again.
 */
export const teardownOrchestration: OrchestrationHandler = function* (context: OrchestrationContext) {
  const request = context.df.getInput<TeardownRequest>();
  const status = (step: TeardownStep) =>
    context.df.setCustomStatus({ step, done: TEARDOWN_STEPS.indexOf(step), total: TOTAL });
  /** Runs a teardown step; anything but done fails the teardown with the step and Azure's answer. */
  function* step<N extends StepActivity>(
    label: string,
    name: N,
    input: ActivityInput<N>,
  ): Generator<Task, StepValue<N>, unknown> {
    const outcome = yield* untilSettled(context, name, input, entraReplication());
    return valueOf(`teardown ${request.slug}: ${label}`, outcome);
  }
  const inspectInput: InspectInput = {
    slug: request.slug,
    requestId: request.requestId,
    purgeKeyVault: request.params.purgeKeyVault ?? false,
  };

  status('inspect');
  const first = yield* step('inspect', TeardownActivities.inspect, inspectInput);
  if (first.kind === 'refused') return rejected(first.reason);
  if (first.kind === 'gone') return succeeded(`nothing to do: ${first.reason}`);

  const decision = yield* requireApproval(
    context,
    {
      requestId: request.requestId,
      op: 'teardown',
      slug: request.slug,
      requestedBy: request.requestedBy,
      changes: describeTeardown(first.plan, request.params.reason),
    },
    { step: 'approval', done: TEARDOWN_STEPS.indexOf('approval'), total: TOTAL },
  );
  if (decision.outcome !== 'approved') return rejected(approvalRefusalReason(decision));

  status('inspect');
  const again = yield* step('inspect', TeardownActivities.inspect, inspectInput);
  if (again.kind === 'refused') return rejected(again.reason);
  if (again.kind === 'gone') return succeeded(`nothing to do: ${again.reason}`);
  const plan = again.plan;

  const mark: MarkInput = { slug: plan.slug, requestId: plan.requestId, at: now(context) };
  yield* step('mark deleting', TeardownActivities.markDeleting, mark);
  status('backup');
  const backupInput: BackupInput = { plan, at: now(context) };
  const backup = yield* step('backup', TeardownActivities.backup, backupInput);
  status('resourceGroup');
  yield* step('resource group', TeardownActivities.deleteResourceGroup, plan);
  status('keyVault');
  const vault = yield* step('Key Vault', TeardownActivities.keyVault, plan);
  status('entra');
  const entra = yield* step('Entra', TeardownActivities.entra, plan);
  status('finish');
  const finish: FinishInput = { plan, backup, vault, at: now(context) };
  yield* step('finish', TeardownActivities.finish, finish);
  context.df.setCustomStatus({ step: 'finish', done: TOTAL, total: TOTAL });

  const approvers = decision.approvals.map((vote) => vote.by.id).join(', ');
  const parts = [
    plan.groupExists ? `deleted ${plan.resourceGroup}` : `${plan.resourceGroup} was already gone`,
    backup.location
      ? `backup at ${backup.location} (${backup.files} file(s)) kept until ${backup.retainUntil ?? '?'}`
      : `no backup (${backup.skipped ?? 'nothing to copy'})`,
    vault.name ? `Key Vault ${vault.name} ${vault.outcome}` : undefined,
    entra.removed.length > 0 ? `removed ${entra.removed.join(' and ')}` : undefined,
    `approved by ${approvers}`,
  ].filter(Boolean);
  return succeeded(parts.join('; '));
};
