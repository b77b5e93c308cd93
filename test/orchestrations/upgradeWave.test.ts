import { describe, expect, it } from 'vitest';
import { approvalOrchestration } from '../../orchestrations/approval.js';
import { upgradeWaveOrchestration } from '../../orchestrations/upgradeWave.js';
import type {
  ApprovalDecision,
  ApprovalInput,
  ExpireApprovalInput,
} from '../../shared/approvals/contracts.js';
import {
  ApprovalActivities,
  Events,
  Orchestrations,
  UpgradeWaveActivities,
} from '../../shared/functionNames.js';
import type {
  RingObservation,
  WaveControlView,
  WaveEnqueueInput,
  WaveInput,
  WaveObserveInput,
  WavePlanSummary,
  WaveReportInput,
} from '../../shared/upgrades/waveContracts.js';
import { replay, runsNested, secretLikeValues, type ReplayRun, type Script } from '../support/replay.js';

const START = '2026-11-22T08:00:00.000Z';
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const at = (ms: number) => new Date(Date.parse(START) + ms).toISOString();

/** Three rings as the default UPGRADE_RINGS shapes them: a canary, 10%, the rest. */
function planOf(overrides: Partial<WavePlanSummary> = {}): WavePlanSummary {
  return {
    targetVersion: '2026.9.6',
    publishedAt: at(-10 * DAY),
    rings: [
      { name: 'canary', canary: true, slugs: 1, minAgeMs: 7 * DAY, bakeMs: 0, failureBudget: 0 },
      { name: 'ring 1', canary: false, slugs: 3, minAgeMs: 7 * DAY, bakeMs: 1 * HOUR, failureBudget: 1 },
      { name: 'ring 2', canary: false, slugs: 6, minAgeMs: 7 * DAY, bakeMs: 4 * HOUR, failureBudget: 0 },
    ],
    skipped: 2,
    requestedBy: { kind: 'operator', id: 'alice@example.com' },
    pollIntervalMs: 30_000,
    ringTimeoutMs: 12 * HOUR,
    ...overrides,
  };
}

interface Fleet {
  plan: WavePlanSummary;
  /** How long after its enqueue a ring's upgrades end. */
  ringTakesMs: number;
  /** Failures of each ring when it ends. */
  failures: number[];
  /** The stored control as of a time (what the API wrote). */
  control: (now: number) => WaveControlView;
  approval: (input: ApprovalInput, now: string) => ApprovalDecision;
}

function fleet(overrides: Partial<Fleet> = {}): Fleet {
  return {
    plan: planOf(),
    ringTakesMs: 10 * MIN,
    failures: [0, 0, 0],
    control: () => ({ paused: false, aborted: false }),
    approval: (input, now) => decision(input.requestId, 'approved', now),
    ...overrides,
  };
}

function decision(
  requestId: string,
  outcome: ApprovalDecision['outcome'],
  decidedAt: string,
): ApprovalDecision {
  return {
    requestId,
    outcome,
    decidedAt,
    decidedBy:
      outcome === 'expired' ? { kind: 'system', id: 'broker' } : { kind: 'telegram', id: '42', name: 'Bob' },
    approvals: [],
    policy: { approvers: 1, requesterMayApprove: false },
    requestedBy: { kind: 'operator', id: 'alice@example.com' },
  };
}

/** The wave's activities over a modelled fleet: each ring's upgrades end `ringTakesMs` after its enqueue. */
function scriptOf(model: Fleet, extra: Partial<Script> = {}): Script {
  const enqueuedAt = new Map<number, number>();
  return {
    activities: {
      [UpgradeWaveActivities.plan]: () => ({ status: 'planned', plan: model.plan }),
      [UpgradeWaveActivities.enqueue]: (input: WaveEnqueueInput) => {
        enqueuedAt.set(input.ring, Date.parse(input.now));
        return { enqueued: model.plan.rings[input.ring]!.slugs, known: 0, skipped: 0, failed: 0 };
      },
      [UpgradeWaveActivities.observe]: (input: WaveObserveInput): RingObservation => {
        const now = Date.parse(input.now);
        const slugs = model.plan.rings[input.ring]!.slugs;
        // A ring an earlier generation enqueued has ended by the time this one looks.
        const ended = now >= (enqueuedAt.get(input.ring) ?? -Infinity) + model.ringTakesMs;
        const failed = ended ? (model.failures[input.ring] ?? 0) : 0;
        return {
          slugs,
          succeeded: ended ? slugs - failed : 0,
          failed,
          skipped: 0,
          pending: ended ? 0 : slugs,
          failures: Array.from({ length: failed }, (_, i) => ({
            slug: `r${input.ring}-s${i}`,
            reason: 'rolled-back',
          })),
          control: model.control(now),
        };
      },
      [UpgradeWaveActivities.report]: (input: WaveReportInput) => model.control(Date.parse(input.now)),
      ...extra.activities,
    },
    subOrchestrations: {
      [Orchestrations.approval]: (input: ApprovalInput, call) => model.approval(input, call.now),
      ...extra.subOrchestrations,
    },
    events: extra.events ?? [],
  };
}

const input: WaveInput = { waveId: '2026.9.6-20261122T080000' };

function run(model: Fleet, extra: Partial<Script> = {}, given: WaveInput = input): Promise<ReplayRun> {
  return replay(upgradeWaveOrchestration, given, scriptOf(model, extra), {
    instanceId: 'wave:2026.9.6-20261122T080000',
  });
}

const enqueues = (result: ReplayRun) =>
  result
    .callsOf(UpgradeWaveActivities.enqueue)
    .map((call) => ({ ring: (call.input as WaveEnqueueInput).ring, at: call.at }));
const reports = (result: ReplayRun) => result.inputsOf<WaveReportInput>(UpgradeWaveActivities.report);
const lastReport = (result: ReplayRun) => reports(result).at(-1)!;
const ringEnd = (result: ReplayRun, index: number) =>
  reports(result).find((report) => report.ring?.index === index && report.ring.state === 'done')?.ring
    ?.endedAt;

describe('upgrade wave orchestration (replayed)', () => {
  it('runs the canary, then each ring after its bake, and asks for approval just before the last ring', async () => {
    const result = await run(fleet());
    expect(result.status).toBe('Completed');
    expect(result.output).toEqual({ waveId: input.waveId, status: 'completed' });
    expect(enqueues(result).map((e) => e.ring)).toEqual([0, 1, 2]);
    // The canary starts at once (the version is 10 days old, the minimum age 7).
    expect(enqueues(result)[0]!.at).toBe(START);
    // Ring 1 starts one hour (its bake) after the canary ended; ring 2 four hours after ring 1.
    const canaryEnd = ringEnd(result, 0)!;
    expect(Date.parse(enqueues(result)[1]!.at) - Date.parse(canaryEnd)).toBe(1 * HOUR);
    const ring1End = ringEnd(result, 1)!;
    expect(Date.parse(enqueues(result)[2]!.at) - Date.parse(ring1End)).toBe(4 * HOUR);
    // One approval, asked after ring 1's bake and before ring 2 was enqueued.
    expect(result.subOrchestrations).toHaveLength(1);
    const approval = result.subOrchestrations[0]!;
    expect(approval.instanceId).toBe(`approval:wave:${input.waveId}`);
    expect(approval.input).toMatchObject({ requestId: `wave:${input.waveId}`, op: 'upgrade' });
    expect(Date.parse(approval.at)).toBeGreaterThanOrEqual(Date.parse(ring1End) + 4 * HOUR);
    expect(Date.parse(approval.at)).toBeLessThanOrEqual(Date.parse(enqueues(result)[2]!.at));
    expect(lastReport(result).status).toBe('completed');
    // Every timer the wave started either fired or was cancelled: nothing keeps the instance alive.
    expect(result.timers.every((timer) => timer.firedAt !== undefined || timer.cancelled)).toBe(true);
    expect(secretLikeValues(result)).toEqual([]);
  });

  it('halts at the first canary failure: no later ring is enqueued and nobody is asked', async () => {
    const result = await run(fleet({ failures: [1, 0, 0] }));
    expect(result.status).toBe('Completed');
    expect(enqueues(result).map((e) => e.ring)).toEqual([0]);
    expect(result.subOrchestrations).toHaveLength(0);
    expect(lastReport(result)).toMatchObject({ status: 'halted' });
    expect(lastReport(result).reason).toMatch(/^a canary failed: r0-s0 \(rolled-back\)/);
    expect(reports(result).some((r) => r.ring?.index === 0 && r.ring.state === 'halted')).toBe(true);
  });

  it('goes on when a ring fails within its budget, and halts when it fails beyond it', async () => {
    const within = await run(fleet({ failures: [0, 1, 0] }));
    expect(enqueues(within).map((e) => e.ring)).toEqual([0, 1, 2]);
    expect(lastReport(within).status).toBe('completed');

    const beyond = await run(fleet({ failures: [0, 2, 0] }));
    expect(enqueues(beyond).map((e) => e.ring)).toEqual([0, 1]);
    expect(beyond.subOrchestrations).toHaveLength(0);
    expect(lastReport(beyond).status).toBe('halted');
    expect(lastReport(beyond).reason).toMatch(/^2 failed in ring 1, beyond its budget of 1: /);
  });

  it('waits for a ring until the version is old enough for it, even with no bake', async () => {
    // Published 7 days ago minus 2 hours: the canary (7 days) may start in 2 hours; ring 1 wants 9 days.
    const plan = planOf({ publishedAt: at(-7 * DAY + 2 * HOUR) });
    plan.rings[1]!.minAgeMs = 9 * DAY;
    const result = await run(fleet({ plan }));
    const [canary, ring1] = enqueues(result);
    expect(canary!.at).toBe(at(2 * HOUR));
    expect(ring1!.at).toBe(at(2 * DAY + 2 * HOUR));
    const waiting = reports(result).find((r) => r.ring?.index === 1 && r.ring.state === 'waiting');
    expect(waiting?.ring?.startsAfter).toBe(at(2 * DAY + 2 * HOUR));
    expect(waiting?.status).toBe('waiting');
  });

  it('aborts when the approval before the last ring is rejected: the last ring is never enqueued', async () => {
    const result = await run(fleet({ approval: (i, now) => decision(i.requestId, 'rejected', now) }));
    expect(enqueues(result).map((e) => e.ring)).toEqual([0, 1]);
    expect(lastReport(result).status).toBe('aborted');
    expect(lastReport(result).reason).toMatch(/^approval before ring 2: rejected by Bob \(telegram 42\)/);
  });

  it('aborts when the approval expires (the real approval sub-orchestration, run to its deadline)', async () => {
    const deadlines: string[] = [];
    const nested = runsNested(approvalOrchestration, {
      activities: {
        [ApprovalActivities.open]: (open: { openedAt: string }) => {
          const deadline = new Date(Date.parse(open.openedAt) + 24 * HOUR).toISOString();
          deadlines.push(deadline);
          return { deadline, policy: { approvers: 1, requesterMayApprove: false } };
        },
        [ApprovalActivities.expire]: (expiry: ExpireApprovalInput) =>
          decision(expiry.requestId, 'expired', expiry.at),
      },
    });
    const result = await run(fleet(), { subOrchestrations: { [Orchestrations.approval]: nested } });
    expect(enqueues(result).map((e) => e.ring)).toEqual([0, 1]);
    expect(lastReport(result).status).toBe('aborted');
    expect(lastReport(result).reason).toBe(
      `approval before ring 2: approval expired at ${deadlines[0]} with no decision`,
    );
  });

  it('starts nothing while paused, and goes on when resumed', async () => {
    // Paused from 30 minutes (during ring 1's bake) to 5 hours; the bake alone would end at ~1h20m.
    const pausedFrom = 30 * MIN;
    const resumedAt = 5 * HOUR;
    const control = (now: number): WaveControlView =>
      now >= Date.parse(at(pausedFrom)) && now < Date.parse(at(resumedAt))
        ? { paused: true, aborted: false, by: 'alice' }
        : { paused: false, aborted: false };
    const result = await run(fleet({ control }), {
      events: [
        { name: Events.waveControl, afterMs: pausedFrom },
        { name: Events.waveControl, afterMs: resumedAt },
      ],
    });
    expect(result.status).toBe('Completed');
    const ring1 = enqueues(result)[1]!;
    expect(Date.parse(ring1.at)).toBe(Date.parse(at(resumedAt)));
    expect(lastReport(result).status).toBe('completed');
  });

  it('ends aborted when an operator aborts while a ring runs, enqueueing nothing more', async () => {
    const abortAt = 15 * MIN; // ring 1 not yet (it waits for its bake); the canary ended at 10 minutes
    const control = (now: number): WaveControlView =>
      now >= Date.parse(at(abortAt))
        ? { paused: false, aborted: true, by: 'alice', reason: 'bad release notes' }
        : { paused: false, aborted: false };
    const result = await run(fleet({ control, ringTakesMs: 60 * MIN }), {
      events: [{ name: Events.waveControl, afterMs: abortAt }],
    });
    expect(result.status).toBe('Completed');
    expect(enqueues(result).map((e) => e.ring)).toEqual([0]);
    expect(lastReport(result)).toMatchObject({
      status: 'aborted',
      reason: 'aborted by alice: bad release notes',
    });
    // Ended at the abort's event (the wave woke from its poll wait), not at the next poll.
    expect(result.endedAt).toBe(at(abortAt));
  });

  it('counts slugs still running past the ring timeout as failures (the observe deadline)', async () => {
    const result = await run(fleet({ plan: planOf({ ringTimeoutMs: 2 * HOUR }) }));
    const observed = result.inputsOf<WaveObserveInput>(UpgradeWaveActivities.observe)[0]!;
    expect(observed.deadline).toBe(at(2 * HOUR));
  });

  it('skips empty rings without waiting for their bake or asking for approval', async () => {
    const plan = planOf();
    plan.rings[2]!.slugs = 0;
    const result = await run(fleet({ plan }));
    expect(enqueues(result).map((e) => e.ring)).toEqual([0, 1]);
    expect(result.subOrchestrations).toHaveLength(0);
    expect(lastReport(result).status).toBe('completed');
  });

  it('continues as new during a long ring, and the next generation goes on where it was', async () => {
    const model = fleet({ ringTakesMs: 2 * DAY, plan: planOf({ ringTimeoutMs: 3 * DAY }) });
    const first = await run(model);
    expect(first.status).toBe('ContinuedAsNew');
    const carried = first.continuedAsNewWith as WaveInput;
    expect(carried.cursor).toMatchObject({ ring: 0, phase: 'settle', ringStartedAt: START });
    // The last thing before continue-as-new is an observe activity, not a timer race.
    expect(first.history.at(-1)?.EventType).not.toBe('TimerFired');
    expect(first.names().at(-1)).toBe(UpgradeWaveActivities.observe);

    const next = await run({ ...model, ringTakesMs: 10 * MIN }, {}, carried);
    expect(next.status).toBe('Completed');
    expect(next.callsOf(UpgradeWaveActivities.plan)).toEqual([]);
    expect(enqueues(next).map((e) => e.ring)).toEqual([1, 2]);
    expect(lastReport(next).status).toBe('completed');
  });

  it('fails, and says so on its record, when the plan is refused', async () => {
    const result = await run(fleet(), {
      activities: { [UpgradeWaveActivities.plan]: () => ({ status: 'refused', reason: 'no wave x' }) },
    });
    expect(result.output).toMatchObject({ status: 'failed', reason: 'no wave x' });
    expect(lastReport(result)).toMatchObject({ status: 'failed', reason: 'no wave x' });
    expect(enqueues(result)).toEqual([]);
  });
});
