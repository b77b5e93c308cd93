import { describe, expect, it } from 'vitest';
import { approvalOrchestration } from '../../orchestrations/approval.js';
import { ApprovalActivities, Events } from '../../shared/functionNames.js';
import type {
  ApprovalDecision,
  ApprovalInput,
  ConfirmDecisionInput,
  ConfirmedDecision,
  ExpireApprovalInput,
  OpenApprovalInput,
} from '../../shared/approvals/contracts.js';
import { replay, secretLikeValues } from '../support/replay.js';

const START = '2026-11-22T08:00:00.000Z';
const DEADLINE = '2026-11-23T08:00:00.000Z';
const HOUR = 3600_000;

const input: ApprovalInput = {
  requestId: 'req-td-1',
  op: 'teardown',
  slug: 'acme',
  requestedBy: { kind: 'operator', id: 'alice@example.com' },
  changes: ['DELETES resource group claw-acme'],
};

function decision(outcome: ApprovalDecision['outcome'], decidedAt: string): ApprovalDecision {
  return {
    requestId: input.requestId,
    outcome,
    decidedAt,
    decidedBy:
      outcome === 'expired' ? { kind: 'system', id: 'broker' } : { kind: 'telegram', id: '42', name: 'Bob' },
    approvals:
      outcome === 'approved' ? [{ by: { kind: 'telegram', id: '42' }, at: decidedAt, via: 'telegram' }] : [],
    policy: { approvers: 1 } as ApprovalDecision['policy'],
    requestedBy: input.requestedBy,
  };
}

const open = (_: OpenApprovalInput) => ({ deadline: DEADLINE, policy: { approvers: 1 } });
const expire = (expiry: ExpireApprovalInput) => decision('expired', expiry.at);

describe('approval orchestration (replayed)', () => {
  it('expires at the deadline: the expire activity runs at the deadline and its decision is returned', async () => {
    const run = await replay(
      approvalOrchestration,
      input,
      {
        activities: {
          [ApprovalActivities.open]: open,
          [ApprovalActivities.expire]: expire,
          [ApprovalActivities.confirm]: () => {
            throw new Error('no decision event was raised');
          },
        },
      },
      { instanceId: 'approval:req-td-1' },
    );
    expect(run.status).toBe('Completed');
    expect(run.names()).toEqual([ApprovalActivities.open, ApprovalActivities.expire]);
    const [opened] = run.inputsOf<OpenApprovalInput>(ApprovalActivities.open);
    expect(opened).toMatchObject({ requestId: 'req-td-1', instanceId: 'approval:req-td-1', openedAt: START });
    expect(run.inputsOf<ExpireApprovalInput>(ApprovalActivities.expire)).toEqual([
      { requestId: 'req-td-1', at: DEADLINE },
    ]);
    expect(run.timers.map((timer) => timer.fireAt)).toEqual([DEADLINE]);
    expect((run.output as ApprovalDecision).outcome).toBe('expired');
    expect(run.customStatuses[0]).toMatchObject({ awaitingApproval: true, deadline: DEADLINE });
    expect(secretLikeValues(run)).toEqual([]);
  });

  it('expires as of the firing when the deadline timer fires late', async () => {
    const late = 5 * 60_000;
    const run = await replay(
      approvalOrchestration,
      input,
      { activities: { [ApprovalActivities.open]: open, [ApprovalActivities.expire]: expire } },
      { instanceId: 'approval:req-td-1', timerLateMs: late },
    );
    expect(run.timers[0]).toMatchObject({
      fireAt: DEADLINE,
      firedAt: new Date(Date.parse(DEADLINE) + late).toISOString(),
    });
    expect(run.inputsOf<ExpireApprovalInput>(ApprovalActivities.expire)[0]!.at).toBe(run.timers[0]!.firedAt);
  });

  it('keeps waiting when the record says the event decided nothing, until the same deadline', async () => {
    const run = await replay(
      approvalOrchestration,
      input,
      {
        activities: {
          [ApprovalActivities.open]: open,
          [ApprovalActivities.expire]: expire,
          [ApprovalActivities.confirm]: (_: ConfirmDecisionInput): ConfirmedDecision => ({
            decided: false,
            reason: 'still pending',
          }),
        },
        events: [{ name: Events.approvalDecision, afterMs: 2 * HOUR, data: decision('approved', START) }],
      },
      { instanceId: 'approval:req-td-1' },
    );
    expect(run.status).toBe('Completed');
    expect(run.names()).toEqual([
      ApprovalActivities.open,
      ApprovalActivities.confirm,
      ApprovalActivities.expire,
    ]);
    // The first deadline timer was cancelled when the event won; the second wait has the same deadline.
    expect(run.timers.map((timer) => [timer.fireAt, timer.cancelled])).toEqual([
      [DEADLINE, true],
      [DEADLINE, false],
    ]);
    expect((run.output as ApprovalDecision).outcome).toBe('expired');
  });

  it('returns the recorded decision when a decision event arrives before the deadline, and cancels the timer', async () => {
    const decidedAt = '2026-11-22T09:00:00.000Z';
    const run = await replay(
      approvalOrchestration,
      input,
      {
        activities: {
          [ApprovalActivities.open]: open,
          [ApprovalActivities.expire]: expire,
          [ApprovalActivities.confirm]: (confirm: ConfirmDecisionInput): ConfirmedDecision => ({
            decided: true,
            decision: { ...decision('rejected', decidedAt), requestId: confirm.requestId },
          }),
        },
        // The event's payload is not trusted: it says approved, the record says rejected.
        events: [{ name: Events.approvalDecision, afterMs: HOUR, data: decision('approved', decidedAt) }],
      },
      { instanceId: 'approval:req-td-1' },
    );
    expect(run.status).toBe('Completed');
    expect(run.names()).toEqual([ApprovalActivities.open, ApprovalActivities.confirm]);
    expect(run.inputsOf(ApprovalActivities.confirm)).toEqual([{ requestId: 'req-td-1' }]);
    expect(run.timers).toHaveLength(1);
    expect(run.timers[0]).toMatchObject({ fireAt: DEADLINE, cancelled: true });
    expect(run.timers[0]!.firedAt).toBeUndefined();
    expect(run.output).toMatchObject({ outcome: 'rejected', decidedAt });
    expect(run.endedAt).toBe(decidedAt);
  });
});
