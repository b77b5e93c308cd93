import { describe, expect, it } from 'vitest';
import { approvalOrchestration } from '../../orchestrations/approval.js';
import { teardownOrchestration } from '../../orchestrations/teardown.js';
import { ApprovalActivities, Orchestrations, TeardownActivities } from '../../shared/functionNames.js';
import type {
  ApprovalDecision,
  ApprovalInput,
  ExpireApprovalInput,
} from '../../shared/approvals/contracts.js';
import type {
  BackupFacts,
  FinishInput,
  InspectInput,
  Inspection,
  MarkInput,
  TeardownPlan,
} from '../../shared/teardown/contracts.js';
import type { OperationResult } from '../../shared/intake/runnerContracts.js';
import {
  replay,
  runsNested,
  secretLikeValues,
  type ActivityScript,
  type ReplayRun,
  type Script,
} from '../support/replay.js';
import { done, notYet } from '../../shared/operations/outcome.js';
import { requestOf } from './fixtures.js';

const request = requestOf('teardown', { requestId: 'req-td-1', params: { purgeKeyVault: true } });
const plan: TeardownPlan = {
  slug: 'acme',
  requestId: 'req-td-1',
  incarnation: 1,
  resourceGroup: 'claw-acme',
  groupExists: true,
  resources: [{ type: 'Microsoft.App/containerApps', name: 'ca-acme' }],
  keyVault: { name: 'kv-acme-x1', location: 'westeurope', purgeProtection: false },
  storageAccount: 'stacmex1',
  stateShare: 'state',
  entra: { application: { id: 'app-object-id', appId: 'app-id' }, group: { id: 'group-id' } },
  entraNames: { application: 'claw-acme', group: 'shire-acme' },
  purgeKeyVault: true,
  backupRetentionMs: 30 * 24 * 3600_000,
};
const backup: BackupFacts = {
  location: 'backups/acme/req-td-1',
  files: 3,
  bytes: 1024,
  retainUntil: '2026-12-22T08:00:00.000Z',
};

function decision(
  outcome: ApprovalDecision['outcome'],
  decidedAt = '2026-11-22T09:00:00.000Z',
): ApprovalDecision {
  return {
    requestId: 'req-td-1',
    outcome,
    decidedAt,
    decidedBy:
      outcome === 'expired' ? { kind: 'system', id: 'broker' } : { kind: 'telegram', id: '42', name: 'Bob' },
    approvals:
      outcome === 'approved' ? [{ by: { kind: 'telegram', id: '42' }, at: decidedAt, via: 'telegram' }] : [],
    policy: { approvers: 1, requesterMayApprove: false },
    requestedBy: request.requestedBy,
  };
}

const DESTRUCTIVE = [
  TeardownActivities.markDeleting,
  TeardownActivities.backup,
  TeardownActivities.deleteResourceGroup,
  TeardownActivities.keyVault,
  TeardownActivities.entra,
  TeardownActivities.finish,
];

/** Teardown's steps answer a StepOutcome (registerStep wraps what the step returns in `done`). */
const answers =
  (step: ActivityScript): ActivityScript =>
  (...args) =>
    done(step(...args));

function script(approval: ActivityScript, inspect?: ActivityScript): Script {
  return {
    activities: {
      [TeardownActivities.inspect]: answers(
        inspect ?? ((_: InspectInput): Inspection => ({ kind: 'plan', plan })),
      ),
      [TeardownActivities.markDeleting]: answers((_: MarkInput) => null),
      [TeardownActivities.backup]: answers(() => backup),
      [TeardownActivities.deleteResourceGroup]: answers(() => null),
      [TeardownActivities.keyVault]: answers(() => ({ name: 'kv-acme-x1', outcome: 'purged' })),
      [TeardownActivities.entra]: answers(() => ({
        removed: ['app registration claw-acme', 'group shire-acme'],
      })),
      [TeardownActivities.finish]: answers((_: FinishInput) => null),
    },
    subOrchestrations: { [Orchestrations.approval]: approval },
  };
}

describe('teardown orchestration (replayed)', () => {
  it('rejects a refused inspection without asking for approval or touching anything', async () => {
    const run = await replay(
      teardownOrchestration,
      request,
      script(
        () => decision('approved'),
        () => ({ kind: 'refused', reason: 'claw-acme holds a resource the broker did not create' }),
      ),
    );
    expect(run.status).toBe('Completed');
    expect(run.output).toEqual({
      outcome: 'rejected',
      reason: 'claw-acme holds a resource the broker did not create',
    });
    expect(run.names()).toEqual([TeardownActivities.inspect]);
    expect(run.inputsOf<InspectInput>(TeardownActivities.inspect)).toEqual([
      { slug: 'acme', requestId: 'req-td-1', purgeKeyVault: true },
    ]);
    expect(run.subOrchestrations).toEqual([]);
  });

  it('rejects and deletes nothing when the approval is rejected', async () => {
    const run = await replay(
      teardownOrchestration,
      request,
      script(() => decision('rejected')),
    );
    expect(run.status).toBe('Completed');
    const result = run.output as OperationResult;
    expect(result.outcome).toBe('rejected');
    expect(result.reason).toContain('rejected by');
    expect(run.names()).toEqual([TeardownActivities.inspect]);
    for (const name of DESTRUCTIVE) expect(run.callsOf(name)).toEqual([]);
  });

  it('rejects and deletes nothing when the approval expires (the real approval orchestration, replayed)', async () => {
    const approvals: ReplayRun[] = [];
    const approval = runsNested(
      approvalOrchestration,
      {
        activities: {
          [ApprovalActivities.open]: () => ({
            deadline: '2026-11-23T08:00:00.000Z',
            policy: { approvers: 1, requesterMayApprove: false },
          }),
          [ApprovalActivities.expire]: (expire: ExpireApprovalInput) => decision('expired', expire.at),
          [ApprovalActivities.confirm]: () => ({ decided: false, reason: 'pending' }),
        },
      },
      approvals,
    );
    const run = await replay(teardownOrchestration, request, script(approval));
    expect(run.status).toBe('Completed');
    const result = run.output as OperationResult;
    expect(result.outcome).toBe('rejected');
    expect(result.reason).toContain('approval expired at 2026-11-23T08:00:00.000Z');
    expect(run.subOrchestrations).toEqual([
      expect.objectContaining({ name: Orchestrations.approval, instanceId: 'approval:req-td-1' }),
    ]);
    const asked = run.subOrchestrations[0]!.input as ApprovalInput;
    expect(asked).toMatchObject({ requestId: 'req-td-1', op: 'teardown', slug: 'acme' });
    expect(asked.changes.join('\n')).toContain('DELETES resource group claw-acme');
    expect(approvals[0]!.names()).toEqual([ApprovalActivities.open, ApprovalActivities.expire]);
    expect(run.names()).toEqual([TeardownActivities.inspect]);
    for (const name of DESTRUCTIVE) expect(run.callsOf(name)).toEqual([]);
    expect(run.customStatuses).toContainEqual(expect.objectContaining({ awaitingApproval: true }));
  });

  it('waits while Entra has not replicated an object provisioning just made, then goes on; gives up after the bound', async () => {
    const waiting = script(() => decision('approved'));
    waiting.activities![TeardownActivities.inspect] = (_: InspectInput, info) =>
      info.call <= 2
        ? notYet('Entra group g-1 is not readable yet (directory replication)')
        : done({ kind: 'plan', plan });
    const run = await replay(teardownOrchestration, request, waiting);
    expect(run.status).toBe('Completed');
    expect((run.output as OperationResult).outcome).toBe('succeeded');
    expect(run.callsOf(TeardownActivities.inspect)).toHaveLength(4);
    expect(
      run.timers
        .filter((timer) => !timer.retry)
        .map((timer) => Date.parse(timer.fireAt) - Date.parse(timer.createdAt)),
    ).toEqual([5_000, 10_000]);

    const never = script(() => decision('approved'));
    never.activities![TeardownActivities.inspect] = () => notYet('Entra group g-1 is not readable yet');
    const stuck = await replay(teardownOrchestration, request, never);
    expect(stuck.status).toBe('Failed');
    expect(stuck.error).toContain(
      'teardown acme: inspect: still not done after 1800s: Entra group g-1 is not readable yet',
    );
    expect(stuck.subOrchestrations).toEqual([]);
  });

  it('once approved, looks again and deletes in order', async () => {
    const run = await replay(
      teardownOrchestration,
      request,
      script(() => decision('approved')),
    );
    expect(run.status).toBe('Completed');
    expect(run.names()).toEqual([TeardownActivities.inspect, TeardownActivities.inspect, ...DESTRUCTIVE]);
    expect(run.inputsOf(TeardownActivities.deleteResourceGroup)).toEqual([plan]);
    expect(run.inputsOf<FinishInput>(TeardownActivities.finish)[0]).toMatchObject({
      plan,
      backup,
      vault: { outcome: 'purged' },
    });
    const result = run.output as OperationResult;
    expect(result.outcome).toBe('succeeded');
    expect(result.summary).toContain('deleted claw-acme');
    expect(result.summary).toContain('approved by 42');
    expect(secretLikeValues(run)).toEqual([]);
  });

  it('succeeds with nothing to do when the slug is already gone', async () => {
    const run = await replay(
      teardownOrchestration,
      request,
      script(
        () => decision('approved'),
        () => ({ kind: 'gone', reason: 'no resource group claw-acme' }),
      ),
    );
    expect(run.output).toEqual({
      outcome: 'succeeded',
      summary: 'nothing to do: no resource group claw-acme',
    });
    expect(run.subOrchestrations).toEqual([]);
  });
});
