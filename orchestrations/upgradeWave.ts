import type { OrchestrationContext, OrchestrationHandler, Task } from 'durable-functions';
import { Events, UpgradeWaveActivities } from '../shared/functionNames.js';
import type { RingState, WaveStatus } from '../shared/domain/upgradeWave.js';
import {
  waveApprovalRequestId,
  type RingObservation,
  type WaveControlView,
  type WaveCursor,
  type WaveInput,
  type WavePlanSummary,
  type WaveReportInput,
} from '../shared/upgrades/waveContracts.js';
import { approvalRefusalReason, requireApproval } from './approval.js';
import { call, firstLine, later, now } from './kit.js';

/** Polls of a running ring per generation before the wave continues as new (bounded history). */
const POLLS_PER_GENERATION = 50;

/** How a wait ended: go on, or the wave was aborted (with who and why). */
type Waited = { go: true } | { go: false; reason: string };

/**
 * A fleet upgrade wave (instance `wave:<waveId>`, issue 14 "Fleet waves"). It plans its rings from
 * the registry (canary first), then for each ring: waits until the ring may start (the bake after
 * the previous ring, and the ring's minimum release age from npm's publish time), asks the admin
 * chat before the last ring (the approval sub-orchestration; a rejection or its expiry aborts),
 * enqueues the ring's per-slug `upgrade` requests (deterministic ids, through the intake the
 * sweeps use) and polls until each has ended, counting failures against the ring's budget. A
 * failure in the canary ring (budget 0), or failures beyond a ring's budget, halt the wave.
 *
 * It never holds a slug's queue: every wait (bake, age, approval, pause) happens here, with nothing
 * enqueued; the per-slug requests of a ring are enqueued only once the ring starts.
 *
 * Control: pause, resume and abort are stored on the wave's record by the API, and the
 * `upgradeWaveControl` event only wakes this orchestration, which reads the record (through the
 * report and observe activities) and acts on it: a paused wave starts nothing new (requests already
 * enqueued run on) and waits for the event without a timer; an aborted one ends. An abort while the
 * approval waits takes effect when the approval ends (reject it to end it at once).
 *
 * Deterministic: time from the orchestration's clock, every losing timer cancelled, never a task
 * reused in a new Task.any. The ring's slugs stay in the wave store; this history carries counts,
 * and a long ring continues as new after POLLS_PER_GENERATION polls (an activity, not a Task.any,
 * is the last thing before it: durable-functions 3.x can leave an invalid state when continue-as-new
 * follows a Task.any with a timer).
 */
export const upgradeWaveOrchestration: OrchestrationHandler = function* (context: OrchestrationContext) {
  const input = context.df.getInput<WaveInput>();
  const { waveId } = input;
  const report = (status: WaveStatus, extra: Omit<WaveReportInput, 'waveId' | 'now' | 'status'> = {}) =>
    call(context, UpgradeWaveActivities.report, { waveId, now: now(context), status, ...extra });

  try {
    let plan = input.plan;
    if (!plan) {
      const planned = yield* call(context, UpgradeWaveActivities.plan, { waveId, now: now(context) });
      if (planned.status === 'refused') {
        yield* report('failed', { reason: planned.reason });
        return { waveId, status: 'failed', reason: planned.reason };
      }
      plan = planned.plan;
    }
    let cursor: WaveCursor = input.cursor ?? { ring: 0, phase: 'wait' };
    const lastRing = plan.rings.length - 1;

    for (let index = cursor.ring; index <= lastRing; index++) {
      const ring = plan.rings[index]!;
      if (cursor.ring !== index)
        cursor = { ring: index, phase: 'wait', previousEndedAt: cursor.previousEndedAt };
      if (ring.slugs === 0) continue;

      if (cursor.phase === 'wait') {
        const startsAfter = at(context, startTime(plan, index, cursor.previousEndedAt)).toISOString();
        const waited = yield* waitUntil(context, waveId, index, startsAfter);
        if (!waited.go) return yield* end(context, waveId, 'aborted', waited.reason);

        if (index === lastRing && index > 0) {
          yield* report('awaiting-approval', { ring: { index, state: 'awaiting-approval' } });
          const decision = yield* requireApproval(
            context,
            {
              requestId: waveApprovalRequestId(waveId),
              op: 'upgrade',
              slug: 'fleet',
              requestedBy: plan.requestedBy,
              changes: approvalChanges(waveId, plan, index),
            },
            { step: `approval before ${ring.name}`, done: index, total: plan.rings.length },
          );
          if (decision.outcome !== 'approved') {
            return yield* end(
              context,
              waveId,
              'aborted',
              `approval before ${ring.name}: ${approvalRefusalReason(decision)}`,
            );
          }
          // Operators may have paused or aborted while the approval waited.
          const after = yield* waitUntil(context, waveId, index, now(context));
          if (!after.go) return yield* end(context, waveId, 'aborted', after.reason);
        }

        const startedAt = now(context);
        yield* report('running', { ring: { index, state: 'running', startedAt } });
        yield* call(context, UpgradeWaveActivities.enqueue, { waveId, ring: index, now: startedAt });
        cursor = { ...cursor, phase: 'settle', ringStartedAt: startedAt };
      }

      const deadline = at(context, Date.parse(cursor.ringStartedAt!) + plan.ringTimeoutMs).toISOString();
      let polls = 0;
      for (;;) {
        const seen: RingObservation = yield* call(context, UpgradeWaveActivities.observe, {
          waveId,
          ring: index,
          now: now(context),
          deadline,
        });
        if (seen.control.aborted) return yield* end(context, waveId, 'aborted', abortReason(seen.control));
        if (seen.failed > ring.failureBudget) {
          const failures = seen.failures.map((failure) => `${failure.slug} (${failure.reason})`).join('; ');
          const reason = ring.canary
            ? `a canary failed: ${failures}`
            : `${seen.failed} failed in ${ring.name}, beyond its budget of ${ring.failureBudget}: ${failures}`;
          yield* report('running', { ring: { index, state: 'halted', endedAt: now(context) } });
          return yield* end(context, waveId, 'halted', reason);
        }
        if (seen.pending === 0) break;
        if (++polls >= POLLS_PER_GENERATION) {
          // The last task before continue-as-new is the observe activity above, never a timer race.
          context.df.continueAsNew({ waveId, plan, cursor } satisfies WaveInput);
          return undefined;
        }
        yield* sleepOrWake(context, later(context.df.currentUtcDateTime, plan.pollIntervalMs));
      }
      const endedAt = now(context);
      yield* report('running', { ring: { index, state: 'done', endedAt } });
      cursor = { ring: index + 1, phase: 'wait', previousEndedAt: endedAt };
    }
    return yield* end(context, waveId, 'completed');
  } catch (error) {
    // An activity that kept failing: the wave ends failed and gives its running slot back.
    const reason = firstLine(error);
    yield* report('failed', { reason });
    return { waveId, status: 'failed', reason };
  }
};

/** When ring `index` may start (epoch ms): after the bake since the previous ring, and once the version is old enough. */
function startTime(plan: WavePlanSummary, index: number, previousEndedAt: string | undefined): number {
  const ring = plan.rings[index]!;
  const oldEnough = Date.parse(plan.publishedAt) + ring.minAgeMs;
  const baked = previousEndedAt === undefined ? 0 : Date.parse(previousEndedAt) + ring.bakeMs;
  return Math.max(oldEnough, baked);
}

/** The instant `epochMs` as a Date, from the orchestration's clock (lint forbids `new Date` here). */
function at(context: OrchestrationContext, epochMs: number): Date {
  return later(context.df.currentUtcDateTime, epochMs - context.df.currentUtcDateTime.getTime());
}

/**
 * Waits until `until` (the ring's state shows `waiting` with it), honouring the stored control: a
 * pause waits for the control event with no timer, an abort ends the wait. Each wait races a fresh
 * timer and a fresh event wait; the losing timer is cancelled.
 */
function* waitUntil(
  context: OrchestrationContext,
  waveId: string,
  index: number,
  until: string,
): Generator<Task, Waited, unknown> {
  for (;;) {
    const due = context.df.currentUtcDateTime.getTime() >= Date.parse(until);
    const state: RingState = due ? 'pending' : 'waiting';
    const control: WaveControlView = yield* call(context, UpgradeWaveActivities.report, {
      waveId,
      now: now(context),
      status: due ? 'running' : 'waiting',
      ring: { index, state, startsAfter: until },
    });
    if (control.aborted) return { go: false, reason: abortReason(control) };
    if (control.paused) {
      yield context.df.waitForExternalEvent(Events.waveControl);
      continue;
    }
    if (due) return { go: true };
    yield* sleepOrWake(context, at(context, Date.parse(until)));
  }
}

/** Sleeps until `at`, or less when a control event comes first (the losing timer is cancelled). */
function* sleepOrWake(context: OrchestrationContext, at: Date): Generator<Task, void, unknown> {
  const event = context.df.waitForExternalEvent(Events.waveControl);
  const timer = context.df.createTimer(at);
  const winner = (yield context.df.Task.any([event, timer])) as Task;
  if (winner !== timer && !timer.isCompleted) timer.cancel();
}

function* end(
  context: OrchestrationContext,
  waveId: string,
  status: Extract<WaveStatus, 'completed' | 'halted' | 'aborted'>,
  reason?: string,
): Generator<Task, { waveId: string; status: WaveStatus; reason?: string }, unknown> {
  yield* call(context, UpgradeWaveActivities.report, { waveId, now: now(context), status, reason });
  return reason === undefined ? { waveId, status } : { waveId, status, reason };
}

function abortReason(control: WaveControlView): string {
  return `aborted by ${control.by ?? 'an operator'}${control.reason ? `: ${control.reason}` : ''}`;
}

function approvalChanges(waveId: string, plan: WavePlanSummary, index: number): string[] {
  const ring = plan.rings[index]!;
  const before = plan.rings.slice(0, index).filter((r) => r.slugs > 0);
  return [
    `upgrades ${ring.slugs} slug(s) of ${ring.name} to OpenClaw ${plan.targetVersion} (wave ${waveId}, its last ring)`,
    `rings done so far: ${before.map((r) => `${r.name} (${r.slugs})`).join(', ') || 'none'}`,
    `each slug: stop, snapshot, start ${plan.targetVersion}, gate; rolled back on a failed gate`,
    `failures beyond ${ring.failureBudget} halt the wave`,
  ];
}
