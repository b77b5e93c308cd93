import { describe, expect, it } from 'vitest';
import { upgradeOrchestration } from '../../orchestrations/upgrade.js';
import type { ApprovalDecision } from '../../shared/approvals/contracts.js';
import { Orchestrations, UpgradeActivities } from '../../shared/functionNames.js';
import type { OperationResult } from '../../shared/intake/runnerContracts.js';
import type {
  CommitInput,
  GateInput,
  RestoreInput,
  RollbackRecordInput,
  StopInput,
  UpgradePlan,
} from '../../shared/upgrades/contracts.js';
import { inTurn, replay, secretLikeValues, type ActivityScript, type Script } from '../support/replay.js';
import { done, ms, requestOf, target } from './fixtures.js';

const request = { ...requestOf('upgrade'), params: { targetVersion: '2026.9.6' } };
const DIGEST = `sha256:${'ab'.repeat(32)}`;
const timing = { readyTimeoutMs: 600_000, pollIntervalMs: 15_000, soakMs: 300_000, stopTimeoutMs: 300_000 };
const plan: UpgradePlan = {
  target: { ...target, openclawVersion: '2026.8.2' },
  from: {
    version: '2026.8.2',
    revision: 'ca-acme--old',
    configSecret: 'openclaw-config-2026-8-2',
    at: '2026-11-22T08:00:00.000Z',
  },
  to: { version: '2026.9.6', digest: DIGEST, repository: 'acr.azurecr.io/openclaw/openclaw' },
  approval: false,
  timing,
  publishedAt: '2026-09-06T12:00:00.000Z',
};
const NEW = 'ca-acme--u1234abcd';
const notYet = (reason: string) => ({ status: 'not-yet', reason });
const failed = (message: string) => ({ status: 'failed', error: { code: 'GatewayNotReady', message } });

/** The forward steps, in order; the rollback's steps after them. */
const FORWARD = [
  UpgradeActivities.plan,
  UpgradeActivities.preflight,
  UpgradeActivities.stop,
  UpgradeActivities.snapshot,
  UpgradeActivities.start,
  UpgradeActivities.gate,
  UpgradeActivities.gate,
  UpgradeActivities.commit,
];

function script(overrides: Record<string, ActivityScript> = {}, approval?: ActivityScript): Script {
  return {
    activities: {
      [UpgradeActivities.plan]: () => done({ kind: 'upgrade', plan }),
      [UpgradeActivities.preflight]: () => done({ configHash: 'h' }),
      [UpgradeActivities.stop]: () => done({ stopped: ['ca-acme--old'] }),
      [UpgradeActivities.snapshot]: () => done({ snapshot: '2026-11-22T08:00:01.0000000Z' }),
      [UpgradeActivities.start]: () => done({ revision: NEW }),
      [UpgradeActivities.gate]: (input: GateInput) => done({ revision: input.revision, restarts: 0 }),
      [UpgradeActivities.commit]: () => done({ pruned: true }),
      [UpgradeActivities.restore]: (input: RestoreInput) => done({ restored: input.snapshot }),
      [UpgradeActivities.reactivate]: () => done({ revision: 'ca-acme--old' }),
      [UpgradeActivities.recordRollback]: () => done({ recorded: true }),
      [UpgradeActivities.needsRepair]: () => done({ recorded: true }),
      ...overrides,
    },
    ...(approval ? { subOrchestrations: { [Orchestrations.approval]: approval } } : {}),
  };
}

describe('upgrade orchestration (replayed)', () => {
  it('stops, snapshots, starts, gates, soaks, gates again and commits, in that order', async () => {
    const run = await replay(upgradeOrchestration, request, script());
    expect(run.status).toBe('Completed');
    expect(run.names()).toEqual(FORWARD);
    expect(run.inputsOf<StopInput>(UpgradeActivities.stop)[0]!.recordInFlight).toBe(true);
    const [ready, soaked] = run.callsOf(UpgradeActivities.gate);
    expect((ready!.input as GateInput).restartsAtMost).toBeUndefined();
    expect((soaked!.input as GateInput).restartsAtMost).toBe(0);
    expect(ms(ready!.at, soaked!.at)).toBe(timing.soakMs);
    expect(run.inputsOf<CommitInput>(UpgradeActivities.commit)[0]).toMatchObject({
      revision: NEW,
      snapshot: '2026-11-22T08:00:01.0000000Z',
    });
    const result = run.output as OperationResult;
    expect(result.outcome).toBe('succeeded');
    expect(result.summary).toContain(`upgraded acme from OpenClaw 2026.8.2 to 2026.9.6: revision ${NEW}`);
    expect(run.subOrchestrations).toEqual([]);
    // The image digest is a public identifier with a secret's shape (64 hex): the only hit allowed.
    expect(secretLikeValues(run).filter((hit) => !DIGEST.endsWith(hit))).toEqual([]);
  });

  it('ends at the plan when the slug already runs the target, or the plan refuses', async () => {
    const upToDate = await replay(
      upgradeOrchestration,
      request,
      script({ [UpgradeActivities.plan]: () => done({ kind: 'up-to-date', summary: 'acme already runs' }) }),
    );
    expect(upToDate.output).toEqual({ outcome: 'succeeded', summary: 'acme already runs' });
    expect(upToDate.names()).toEqual([UpgradeActivities.plan]);
    const held = await replay(
      upgradeOrchestration,
      request,
      script({ [UpgradeActivities.plan]: () => ({ status: 'refused', reason: 'acme is held' }) }),
    );
    expect(held.output).toEqual({ outcome: 'rejected', reason: 'acme is held' });
    expect(held.names()).toEqual([UpgradeActivities.plan]);
  });

  it('a target whose config the preflight refuses: rejected with zero writes', async () => {
    const run = await replay(
      upgradeOrchestration,
      request,
      script({
        [UpgradeActivities.preflight]: () => ({ status: 'refused', reason: 'unknown config key x' }),
      }),
    );
    expect(run.output).toEqual({ outcome: 'rejected', reason: 'unknown config key x' });
    expect(run.names()).toEqual([UpgradeActivities.plan, UpgradeActivities.preflight]);
  });

  it('a target that never becomes ready rolls back within the ready timeout plus one poll', async () => {
    const run = await replay(
      upgradeOrchestration,
      request,
      script({
        [UpgradeActivities.gate]: (input: GateInput) =>
          input.revision === NEW
            ? notYet('/readyz answered HTTP 503')
            : done({ revision: input.revision, restarts: 0 }),
      }),
    );
    expect(run.status).toBe('Failed');
    const gates = run
      .callsOf(UpgradeActivities.gate)
      .filter((call) => (call.input as GateInput).revision === NEW);
    expect(ms(gates[0]!.at, gates.at(-1)!.at)).toBeLessThanOrEqual(
      timing.readyTimeoutMs + timing.pollIntervalMs,
    );
    expect(run.names().slice(FORWARD.length - 3 + gates.length - 1)).toEqual([
      UpgradeActivities.gate,
      UpgradeActivities.stop,
      UpgradeActivities.restore,
      UpgradeActivities.reactivate,
      UpgradeActivities.gate,
      UpgradeActivities.recordRollback,
    ]);
    expect(run.inputsOf<StopInput>(UpgradeActivities.stop)[1]!.recordInFlight).toBe(false);
    expect(run.inputsOf<GateInput>(UpgradeActivities.gate).at(-1)!.revision).toBe('ca-acme--old');
    const [record] = run.inputsOf<RollbackRecordInput>(UpgradeActivities.recordRollback);
    expect(record).toMatchObject({ targetFailed: true });
    expect(record!.reason).toMatch(/^gate: still not done after 600s: \/readyz answered HTTP 503/);
    expect(run.error).toContain('rolled back');
    expect(run.error).toContain('ca-acme--old runs 2026.8.2 again on the state restored from snapshot');
    expect(run.callsOf(UpgradeActivities.commit)).toEqual([]);
  });

  it('a crash-looping target (the gate fails) rolls back at once', async () => {
    const run = await replay(
      upgradeOrchestration,
      request,
      script({
        [UpgradeActivities.gate]: (input: GateInput) =>
          input.revision === NEW
            ? failed(`${NEW}: crash-looping: 3 container restarts`)
            : done({ revision: input.revision, restarts: 0 }),
      }),
    );
    expect(run.status).toBe('Failed');
    expect(run.inputsOf<RollbackRecordInput>(UpgradeActivities.recordRollback)[0]!.reason).toContain(
      'crash-looping',
    );
  });

  it('restarts that climb during the soak roll back', async () => {
    const run = await replay(
      upgradeOrchestration,
      request,
      script({
        [UpgradeActivities.gate]: inTurn(
          () => done({ revision: NEW, restarts: 0 }),
          () => failed(`${NEW}: its containers restarted during the soak (0 -> 1)`),
          (input: GateInput) => done({ revision: input.revision, restarts: 0 }),
        ),
      }),
    );
    expect(run.status).toBe('Failed');
    expect(run.inputsOf<RollbackRecordInput>(UpgradeActivities.recordRollback)[0]!.reason).toMatch(/^soak: /);
  });

  it('a stop that never drains turns back without a restore and does not mark the version failed', async () => {
    const run = await replay(
      upgradeOrchestration,
      request,
      script({
        [UpgradeActivities.stop]: (input: StopInput) =>
          input.recordInFlight
            ? notYet('waiting for ca-acme--old to have no replica')
            : done({ stopped: [] }),
      }),
    );
    expect(run.status).toBe('Failed');
    expect(run.callsOf(UpgradeActivities.snapshot)).toEqual([]);
    expect(run.callsOf(UpgradeActivities.start)).toEqual([]);
    expect(run.callsOf(UpgradeActivities.restore)).toEqual([]);
    expect(run.inputsOf<RollbackRecordInput>(UpgradeActivities.recordRollback)[0]!.targetFailed).toBe(false);
  });

  it('a rollback that fails too leaves the slug needs-repair and fails', async () => {
    const run = await replay(
      upgradeOrchestration,
      request,
      script({
        [UpgradeActivities.gate]: () => failed('crash-looping'),
      }),
    );
    expect(run.status).toBe('Failed');
    expect(run.names().slice(-2)).toEqual([UpgradeActivities.gate, UpgradeActivities.needsRepair]);
    expect(run.callsOf(UpgradeActivities.recordRollback)).toEqual([]);
    expect(run.error).toContain('the slug needs repair; every revision is stopped');
  });

  it('waits for approval when the plan asks for it, and a rejection changes nothing', async () => {
    const decision: ApprovalDecision = {
      requestId: request.requestId,
      outcome: 'rejected',
      decidedAt: '2026-11-22T09:00:00.000Z',
      decidedBy: { kind: 'telegram', id: '42', name: 'Bob' },
      approvals: [],
      policy: { approvers: 1, requesterMayApprove: false },
      requestedBy: request.requestedBy,
    };
    const run = await replay(
      upgradeOrchestration,
      request,
      script(
        { [UpgradeActivities.plan]: () => done({ kind: 'upgrade', plan: { ...plan, approval: true } }) },
        () => decision,
      ),
    );
    expect(run.output).toMatchObject({ outcome: 'rejected' });
    expect(run.subOrchestrations.map((call) => call.instanceId)).toEqual([`approval:${request.requestId}`]);
    expect(run.names()).toEqual([UpgradeActivities.plan, UpgradeActivities.preflight]);
  });
});
