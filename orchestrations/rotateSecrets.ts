import type { OrchestrationContext, OrchestrationHandler, Task } from 'durable-functions';
import { RotationActivities } from '../shared/functionNames.js';
import type { ActivityInput, StepActivity, StepValue } from '../shared/activities.js';
import { ErrorCodes } from '../shared/errors.js';
import {
  Patience,
  describeEnded,
  call,
  firstLine,
  later,
  now,
  publish,
  rejected,
  succeeded,
  untilSettled,
} from './kit.js';
import type {
  EntraAddInput,
  EntraRetireInput,
  EntraVerifyInput,
  FlagSecretInput,
  GatewayVerifyInput,
  GatewayWriteInput,
  RecordRotationInput,
  RecordSkipInput,
  RetireVersionsInput,
  RotateSecretsRequest,
  RotationItem,
  RotationPlanInput,
  StorageMoveInput,
  StorageRegenerateInput,
  StorageVerifyInput,
} from '../shared/rotation/contracts.js';
import { SLUG_SECRET_NAMES } from '../shared/domain/footprint.js';
import type { StepEnded, StepOutcome } from '../shared/operations/outcome.js';
import type { DeliverInput, MaintenanceTarget, MaintenanceTiming } from '../shared/maintenance/contracts.js';

/** Steps each kind of item takes (for the progress total). */
const STEPS: Record<RotationItem['kind'], number> = {
  'gateway-token': 5,
  'storage-key': 5,
  'entra-client-secret': 5,
  'telegram-bot-token': 1,
};

type ItemResult =
  | { kind: string; result: 'rotated' | 'flagged'; detail: string }
  | { kind: string; result: 'refused' | 'skipped' | 'failed'; detail: string };

/** Carries the orchestration's context, plan and progress through the per-secret sequences. */
interface Run {
  context: OrchestrationContext;
  target: MaintenanceTarget;
  timing: MaintenanceTiming;
  entraGraceMs: number;
  done: number;
  total: number;
}

/**
 * rotate-secrets for one slug. Input: the validated request (params.secrets, or every secret due by
 * policy); output: an OperationResult whose summary says what happened to each secret. Custom
 * status is OperationProgress {step, done, total}.
 *
 * Each secret goes through its own sequence of activities, each guarded by what the plan found (a
 * Key Vault version, a storage key's name and creation time, an Entra key id): a step whose
 * precondition no longer holds is refused and changes nothing, so a duplicate or late request can
 * neither rotate twice nor undo a newer rotation.
 * - gateway token: a new Key Vault version; the app's references set again and its revision
 *   restarted; the gateway checked to accept the new token and refuse the old; older versions
 *   disabled.
 * - storage account key (two-key swap): the share registration and the stored secret moved to
 *   the standby key; the app restarted and found ready, the share opened with the new key; only
 *   then the formerly used key regenerated. The key in use is never regenerated.
 * - Entra client secret: a new one added and stored; the app's references set again; Entra and
 *   the app's built-in auth checked; the old one removed after the grace period by a detached
 *   orchestration (its durable timer does not hold the slug's queue). A tenant that forbids client
 *   secrets makes this secret "skipped" with the reason.
 * - bot tokens: flagged on the registry and told to the admin chat.
 * "Not yet" answers (a restart in progress) wait on durable timers, bounded by the verify timeout.
 * A secret that fails does not stop the others; the request fails when any did. Secrets never pass
 * through here: only versions, key names, key ids and times.
 */
export const rotateSecretsOrchestration: OrchestrationHandler = function* (context: OrchestrationContext) {
  const request = context.df.getInput<RotateSecretsRequest>();
  publish(context, 'plan', 0, 1);
  const planInput: RotationPlanInput = { request, now: now(context) };
  const plan = yield* call(context, RotationActivities.plan, planInput);
  if (plan.status === 'refused') return rejected(plan.reason);

  const run: Run = {
    context,
    target: plan.target,
    timing: plan.timing,
    entraGraceMs: plan.entraGraceMs,
    done: 1,
    total: 1 + plan.items.reduce((sum, item) => sum + STEPS[item.kind], 0),
  };
  const results: ItemResult[] = plan.skipped.map((skip) => ({
    kind: skip.kind,
    result: 'refused',
    detail: skip.reason,
  }));
  for (const item of plan.items) {
    const first = run.done;
    try {
      results.push(yield* rotateItem(run, item));
    } catch (error) {
      results.push({ kind: item.kind, result: 'failed', detail: firstLine(error) });
    }
    run.done = first + STEPS[item.kind];
  }
  publish(context, 'finish', run.total, run.total);

  const summary = results.map(describe).join('; ');
  if (results.some((item) => item.result === 'failed')) {
    throw new Error(`rotate-secrets ${plan.target.slug}: ${summary}`);
  }
  if (!results.some((item) => item.result === 'rotated' || item.result === 'flagged')) {
    return rejected(`${plan.target.slug}: ${summary}`);
  }
  return succeeded(`${plan.target.slug}: ${summary}`);
};

function* rotateItem(run: Run, item: RotationItem): Generator<Task, ItemResult, unknown> {
  switch (item.kind) {
    case 'gateway-token':
      return yield* rotateGatewayToken(run, item.fromVersion);
    case 'storage-key':
      return yield* rotateStorageKey(run, item);
    case 'entra-client-secret':
      return yield* rotateEntraSecret(run, item);
    case 'telegram-bot-token': {
      const input: FlagSecretInput = { ...base(run), kind: item.kind, setAt: item.setAt };
      const flagged = yield* step(run, `${item.kind}: flag`, RotationActivities.flagSecret, input);
      if (flagged.status !== 'done') return ended(item.kind, flagged);
      return {
        kind: item.kind,
        result: 'flagged',
        detail: flagged.value.told ? 'flagged and told to the admin chat' : 'already flagged',
      };
    }
  }
}

function* rotateGatewayToken(run: Run, fromVersion: string): Generator<Task, ItemResult, unknown> {
  const kind = 'gateway-token';
  const write: GatewayWriteInput = { ...base(run), fromVersion };
  const written = yield* step(run, `${kind}: new version`, RotationActivities.gatewayWrite, write);
  if (written.status !== 'done') return ended(kind, written);
  const { toVersion } = written.value;

  const deliverInput: DeliverInput = {
    ...base(run),
    expect: { kind: 'secret-version', secretName: SLUG_SECRET_NAMES.gatewayToken, version: toVersion },
    restart: true,
  };
  const delivered = yield* step(run, `${kind}: deliver`, RotationActivities.deliver, deliverInput);
  if (delivered.status !== 'done') return ended(kind, delivered);

  const verify: GatewayVerifyInput = { ...base(run), fromVersion, toVersion };
  const verified = yield* step(run, `${kind}: verify`, RotationActivities.gatewayVerify, verify, true);
  if (verified.status !== 'done') return ended(kind, verified);

  const retire: RetireVersionsInput = {
    ...base(run),
    secretName: SLUG_SECRET_NAMES.gatewayToken,
    keepVersion: toVersion,
  };
  const retired = yield* step(run, `${kind}: retire old`, RotationActivities.retireVersions, retire);
  if (retired.status === 'failed') return ended(kind, retired);

  yield* record(run, kind);
  const disabled =
    retired.status === 'done'
      ? `${retired.value.disabled} old version(s) disabled`
      : `old versions kept: ${retired.reason}`;
  return {
    kind,
    result: 'rotated',
    detail: `version ${shortId(fromVersion)} → ${shortId(toVersion)}, gateway accepts the new token and refuses the old, ${disabled}`,
  };
}

function* rotateStorageKey(
  run: Run,
  item: Extract<RotationItem, { kind: 'storage-key' }>,
): Generator<Task, ItemResult, unknown> {
  const kind = item.kind;
  const move: StorageMoveInput = { ...base(run), fromKey: item.fromKey, toKey: item.toKey };
  const moved = yield* step(
    run,
    `${kind}: move consumers to ${item.toKey}`,
    RotationActivities.storageMove,
    move,
  );
  if (moved.status !== 'done') return ended(kind, moved);

  const deliverInput: DeliverInput = {
    ...base(run),
    expect: { kind: 'storage-key', keyName: item.toKey },
    restart: true,
  };
  const delivered = yield* step(run, `${kind}: remount`, RotationActivities.deliver, deliverInput);
  if (delivered.status !== 'done') return ended(kind, delivered);

  const verify: StorageVerifyInput = { ...base(run), toKey: item.toKey };
  const verified = yield* step(run, `${kind}: verify`, RotationActivities.storageVerify, verify, true);
  if (verified.status !== 'done') return ended(kind, verified);

  const regenerate: StorageRegenerateInput = {
    ...base(run),
    fromKey: item.fromKey,
    toKey: item.toKey,
    fromKeyCreatedAt: item.fromKeyCreatedAt,
  };
  const regenerated = yield* step(
    run,
    `${kind}: regenerate ${item.fromKey}`,
    RotationActivities.storageRegenerate,
    regenerate,
  );
  if (regenerated.status !== 'done') return ended(kind, regenerated);

  yield* record(run, kind, item.toKey);
  return {
    kind,
    result: 'rotated',
    detail: `consumers moved ${item.fromKey} → ${item.toKey}, share and app confirmed, ${item.fromKey} regenerated`,
  };
}

function* rotateEntraSecret(
  run: Run,
  item: Extract<RotationItem, { kind: 'entra-client-secret' }>,
): Generator<Task, ItemResult, unknown> {
  const kind = item.kind;
  const add: EntraAddInput = { ...base(run), applicationId: item.applicationId, fromKeyId: item.fromKeyId };
  const added = yield* step(run, `${kind}: add and store`, RotationActivities.entraAdd, add);
  if (added.status === 'skipped') {
    const skip: RecordSkipInput = { ...base(run), kind, reason: added.reason };
    yield* call(run.context, RotationActivities.recordSkip, skip);
    return ended(kind, added);
  }
  if (added.status !== 'done') return ended(kind, added);
  const { toKeyId } = added.value;

  const deliverInput: DeliverInput = {
    ...base(run),
    expect: { kind: 'entra-key', keyId: toKeyId },
    restart: true,
  };
  const delivered = yield* step(run, `${kind}: switch auth`, RotationActivities.deliver, deliverInput);
  if (delivered.status !== 'done') return ended(kind, delivered);

  const verify: EntraVerifyInput = { ...base(run), applicationId: item.applicationId, toKeyId };
  const verified = yield* step(run, `${kind}: verify`, RotationActivities.entraVerify, verify, true);
  if (verified.status !== 'done') return ended(kind, verified);

  const notBefore = later(run.context.df.currentUtcDateTime, run.entraGraceMs).toISOString();
  const retire: EntraRetireInput = {
    target: run.target,
    applicationId: item.applicationId,
    keyId: item.fromKeyId,
    notBefore,
  };
  publish(run.context, `${kind}: schedule removal of the old secret`, run.done++, run.total);
  yield* call(run.context, RotationActivities.entraScheduleRetire, retire);

  yield* record(run, kind);
  return {
    kind,
    result: 'rotated',
    detail: `new client secret in use, the old one is removed after ${notBefore}`,
  };
}

/**
 * One step activity. With `waits` (the verify steps), "not yet" waits on a durable timer and runs
 * the step again until the verify timeout; without, "not yet" ends the sequence at once (NotReady).
 * Publishes progress before it runs.
 */
function* step<N extends StepActivity>(
  run: Run,
  label: string,
  activity: N,
  input: ActivityInput<N>,
  waits = false,
): Generator<Task, StepOutcome<StepValue<N>>, unknown> {
  const { context } = run;
  publish(context, label, run.done, run.total);
  const patience = new Patience(waits ? run.timing.verifyTimeoutMs : 0, () => run.timing.verifyIntervalMs);
  const outcome = yield* untilSettled(context, activity, input, patience);
  run.done++;
  if (outcome.status !== 'not-yet') return outcome;
  return {
    status: 'failed',
    error: {
      code: waits ? ErrorCodes.VerificationFailed : ErrorCodes.NotReady,
      message: `${label}: ${outcome.reason}`,
    },
  };
}

function* record(
  run: Run,
  kind: RecordRotationInput['kind'],
  storageKeyInUse?: RecordRotationInput['storageKeyInUse'],
): Generator<Task, void, unknown> {
  publish(run.context, `${kind}: record`, run.done, run.total);
  const input: RecordRotationInput = { ...base(run), kind, storageKeyInUse };
  yield* call(run.context, RotationActivities.recordRotation, input);
  run.done++;
}

/** A sequence that ended before its end: refused, skipped or failed, with the reason. */
function ended(kind: string, outcome: StepEnded): ItemResult {
  switch (outcome.status) {
    case 'failed':
      return { kind, result: 'failed', detail: describeEnded(outcome) };
    case 'refused':
      return { kind, result: 'refused', detail: `precondition failed: ${outcome.reason}` };
    case 'skipped':
      return { kind, result: 'skipped', detail: outcome.reason };
    case 'not-yet':
      return { kind, result: 'failed', detail: outcome.reason };
  }
}

function describe(item: ItemResult): string {
  return `${item.kind} ${item.result}: ${item.detail}`;
}

function base(run: Run): { target: MaintenanceTarget; now: string } {
  return { target: run.target, now: now(run.context) };
}

function shortId(version: string): string {
  return version.slice(0, 8);
}
