import * as df from 'durable-functions';
import type { OrchestrationContext, OrchestrationHandler, Task } from 'durable-functions';
import { RotationActivities } from '../shared/functionNames.js';
import type { OperationProgress, OperationResult } from '../shared/intake/runnerContracts.js';
import { SLUG_SECRET_NAMES } from '../shared/provisioning/contracts.js';
import { later } from '../shared/provisioning/orchestrationTime.js';
import type {
  DeliverInput,
  DeliverOutput,
  EntraAddInput,
  EntraRetireInput,
  EntraVerifyInput,
  FlagSecretInput,
  GatewayVerifyInput,
  GatewayWriteInput,
  MaintenanceOutcome,
  MaintenanceTarget,
  MaintenanceTiming,
  RecordRotationInput,
  RecordSkipInput,
  RetireVersionsInput,
  RotateSecretsRequest,
  RotationItem,
  RotationPlan,
  RotationPlanInput,
  StorageMoveInput,
  StorageRegenerateInput,
  StorageVerifyInput,
} from '../shared/rotation/contracts.js';

/**
 * Retries of an activity that threw: only infrastructure failures throw (throttling that outlasted
 * the SDK's Retry-After handling, 5xx, dropped connections, a host that died mid-call).
 */
const TRANSIENT_RETRY = (() => {
  const options = new df.RetryOptions(5_000, 4);
  options.backoffCoefficient = 2;
  options.maxRetryIntervalInMilliseconds = 60_000;
  return options;
})();

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
  const plan = (yield context.df.callActivityWithRetry(
    RotationActivities.plan,
    TRANSIENT_RETRY,
    planInput,
  )) as RotationPlan;
  if (plan.status === 'refused') {
    const result: OperationResult = { outcome: 'rejected', reason: plan.reason };
    return result;
  }

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
    const result: OperationResult = { outcome: 'rejected', reason: `${plan.target.slug}: ${summary}` };
    return result;
  }
  const result: OperationResult = { outcome: 'succeeded', summary: `${plan.target.slug}: ${summary}` };
  return result;
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
      const flagged = yield* step<{ told: boolean }>(
        run,
        `${item.kind}: flag`,
        RotationActivities.flagSecret,
        input,
      );
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
  const written = yield* step<{ toVersion: string }>(
    run,
    `${kind}: new version`,
    RotationActivities.gatewayWrite,
    write,
  );
  if (written.status !== 'done') return ended(kind, written);
  const { toVersion } = written.value;

  const deliverInput: DeliverInput = {
    ...base(run),
    expect: { kind: 'secret-version', secretName: SLUG_SECRET_NAMES.gatewayToken, version: toVersion },
    restart: true,
  };
  const delivered = yield* step<DeliverOutput>(
    run,
    `${kind}: deliver`,
    RotationActivities.deliver,
    deliverInput,
  );
  if (delivered.status !== 'done') return ended(kind, delivered);

  const verify: GatewayVerifyInput = { ...base(run), fromVersion, toVersion };
  const verified = yield* step<object>(
    run,
    `${kind}: verify`,
    RotationActivities.gatewayVerify,
    verify,
    true,
  );
  if (verified.status !== 'done') return ended(kind, verified);

  const retire: RetireVersionsInput = {
    ...base(run),
    secretName: SLUG_SECRET_NAMES.gatewayToken,
    keepVersion: toVersion,
  };
  const retired = yield* step<{ disabled: number }>(
    run,
    `${kind}: retire old`,
    RotationActivities.retireVersions,
    retire,
  );
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
  const moved = yield* step<{ moved: boolean }>(
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
  const delivered = yield* step<DeliverOutput>(
    run,
    `${kind}: remount`,
    RotationActivities.deliver,
    deliverInput,
  );
  if (delivered.status !== 'done') return ended(kind, delivered);

  const verify: StorageVerifyInput = { ...base(run), toKey: item.toKey };
  const verified = yield* step<object>(
    run,
    `${kind}: verify`,
    RotationActivities.storageVerify,
    verify,
    true,
  );
  if (verified.status !== 'done') return ended(kind, verified);

  const regenerate: StorageRegenerateInput = {
    ...base(run),
    fromKey: item.fromKey,
    toKey: item.toKey,
    fromKeyCreatedAt: item.fromKeyCreatedAt,
  };
  const regenerated = yield* step<{ regenerated: boolean }>(
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
  const added = yield* step<{ toKeyId: string }>(
    run,
    `${kind}: add and store`,
    RotationActivities.entraAdd,
    add,
  );
  if (added.status === 'skipped') {
    const skip: RecordSkipInput = { ...base(run), kind, reason: added.reason };
    yield run.context.df.callActivityWithRetry(RotationActivities.recordSkip, TRANSIENT_RETRY, skip);
    return ended(kind, added);
  }
  if (added.status !== 'done') return ended(kind, added);
  const { toKeyId } = added.value;

  const deliverInput: DeliverInput = {
    ...base(run),
    expect: { kind: 'entra-key', keyId: toKeyId },
    restart: true,
  };
  const delivered = yield* step<DeliverOutput>(
    run,
    `${kind}: switch auth`,
    RotationActivities.deliver,
    deliverInput,
  );
  if (delivered.status !== 'done') return ended(kind, delivered);

  const verify: EntraVerifyInput = { ...base(run), applicationId: item.applicationId, toKeyId };
  const verified = yield* step<object>(run, `${kind}: verify`, RotationActivities.entraVerify, verify, true);
  if (verified.status !== 'done') return ended(kind, verified);

  const notBefore = later(run.context.df.currentUtcDateTime, run.entraGraceMs).toISOString();
  const retire: EntraRetireInput = {
    target: run.target,
    applicationId: item.applicationId,
    keyId: item.fromKeyId,
    notBefore,
  };
  publish(run.context, `${kind}: schedule removal of the old secret`, run.done++, run.total);
  yield run.context.df.callActivityWithRetry(RotationActivities.entraScheduleRetire, TRANSIENT_RETRY, retire);

  yield* record(run, kind);
  return {
    kind,
    result: 'rotated',
    detail: `new client secret in use, the old one is removed after ${notBefore}`,
  };
}

/**
 * One activity, answered "not yet" again and again (when `waits`) until it is done or the verify
 * timeout passes, with a durable timer between attempts. Publishes progress before it runs.
 */
function* step<T>(
  run: Run,
  label: string,
  activity: string,
  input: { now: string },
  waits = false,
): Generator<Task, MaintenanceOutcome<T>, unknown> {
  const { context } = run;
  publish(context, label, run.done, run.total);
  const startedAt = context.df.currentUtcDateTime.getTime();
  for (;;) {
    const attempt = { ...input, now: now(context) };
    const outcome = (yield context.df.callActivityWithRetry(
      activity,
      TRANSIENT_RETRY,
      attempt,
    )) as MaintenanceOutcome<T>;
    if (outcome.status !== 'not-yet') {
      run.done++;
      return outcome;
    }
    const elapsed = context.df.currentUtcDateTime.getTime() - startedAt;
    if (!waits || elapsed >= run.timing.verifyTimeoutMs) {
      run.done++;
      return {
        status: 'failed',
        error: {
          code: waits ? 'VerificationFailed' : 'NotReady',
          message: `${label}: still not done after ${Math.round(elapsed / 1000)}s: ${outcome.reason}`,
        },
      };
    }
    yield context.df.createTimer(later(context.df.currentUtcDateTime, run.timing.verifyIntervalMs));
  }
}

function* record(
  run: Run,
  kind: RecordRotationInput['kind'],
  storageKeyInUse?: RecordRotationInput['storageKeyInUse'],
): Generator<Task, void, unknown> {
  publish(run.context, `${kind}: record`, run.done, run.total);
  const input: RecordRotationInput = { ...base(run), kind, storageKeyInUse };
  yield run.context.df.callActivityWithRetry(RotationActivities.recordRotation, TRANSIENT_RETRY, input);
  run.done++;
}

/** A sequence that ended before its end: refused, skipped or failed, with the reason. */
function ended(kind: string, outcome: Exclude<MaintenanceOutcome<unknown>, { status: 'done' }>): ItemResult {
  switch (outcome.status) {
    case 'failed':
      return { kind, result: 'failed', detail: `${outcome.error.code}: ${outcome.error.message}` };
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

function now(context: OrchestrationContext): string {
  return context.df.currentUtcDateTime.toISOString();
}

function shortId(version: string): string {
  return version.slice(0, 8);
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0]?.trim() || message;
}

function publish(context: OrchestrationContext, step: string, done: number, total: number): void {
  const progress: OperationProgress = { step, done, total };
  context.df.setCustomStatus(progress);
}
