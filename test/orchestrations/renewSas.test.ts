import { describe, expect, it } from 'vitest';
import { renewSasOrchestration } from '../../orchestrations/renewSas.js';
import { RotationActivities, SasActivities } from '../../shared/functionNames.js';
import type {
  SasFailureInput,
  SasFailureOutput,
  SasIssued,
  SasPlan,
  SasRecordInput,
} from '../../shared/sas/contracts.js';
import type { OperationResult } from '../../shared/intake/runnerContracts.js';
import { replay, secretLikeValues, type ActivityScript, type Script } from '../support/replay.js';
import { done, maintenanceTiming, ms, requestOf, target } from './fixtures.js';
import type { DeliverInput } from '../../shared/maintenance/contracts.js';

const request = requestOf('renew-sas');
const issued: SasIssued = {
  version: '00112233445566778899aabbccddeeff',
  issuedAt: '2026-11-22T08:00:00.000Z',
  expiresAt: '2026-11-29T08:00:00.000Z',
};
const failureOutput: SasFailureOutput = { failures: 3, retryAt: '2026-11-22T14:00:00.000Z' };

function script(overrides: Record<string, ActivityScript> = {}): Script {
  const plan: SasPlan = {
    status: 'planned',
    target,
    timing: maintenanceTiming,
    lifetimeMs: 7 * 24 * 3600_000,
  };
  return {
    activities: {
      [SasActivities.plan]: () => plan,
      [SasActivities.grant]: () => done({}),
      [SasActivities.issue]: () => done(issued),
      [RotationActivities.deliver]: () => done({ revision: 'ca-acme--r1', restarted: false }),
      [SasActivities.record]: () => ({ renewAt: '2026-11-26T20:00:00.000Z' }),
      [SasActivities.recordFailure]: (_: SasFailureInput) => failureOutput,
      ...overrides,
    },
  };
}

describe('renew-sas orchestration (replayed)', () => {
  it('issues, delivers and records the SAS', async () => {
    const run = await replay(renewSasOrchestration, request, script());
    expect(run.status).toBe('Completed');
    expect(run.names()).toEqual([
      SasActivities.plan,
      SasActivities.grant,
      SasActivities.issue,
      RotationActivities.deliver,
      SasActivities.record,
    ]);
    expect(run.inputsOf<DeliverInput>(RotationActivities.deliver)[0]).toMatchObject({
      expect: { kind: 'secret-version', version: issued.version },
      restart: false,
      ensureReference: expect.any(Object),
    });
    expect(run.inputsOf<SasRecordInput>(SasActivities.record)[0]).toMatchObject(issued);
    expect((run.output as OperationResult).outcome).toBe('succeeded');
    expect(run.callsOf(SasActivities.recordFailure)).toEqual([]);
    expect(secretLikeValues(run)).toEqual([]);
  });

  it('records the failure and fails with the attempt count when a step stays not-yet past the timeout', async () => {
    const run = await replay(
      renewSasOrchestration,
      request,
      script({ [SasActivities.grant]: () => ({ status: 'not-yet', reason: 'role assignment propagating' }) }),
    );
    expect(run.status).toBe('Failed');
    const grants = run.callsOf(SasActivities.grant);
    expect(grants).toHaveLength(maintenanceTiming.verifyTimeoutMs / maintenanceTiming.verifyIntervalMs + 1);
    expect(ms(grants[0]!.at, grants.at(-1)!.at)).toBe(maintenanceTiming.verifyTimeoutMs);
    const [failure] = run.inputsOf<SasFailureInput>(SasActivities.recordFailure);
    expect(failure!.error).toContain('grant: still not done after 60s: role assignment propagating');
    expect(run.error).toContain('failed (attempt 3)');
    expect(run.error).toContain(`next attempt after ${failureOutput.retryAt}`);
    expect(run.callsOf(SasActivities.issue)).toEqual([]);
  });

  it('records the failure when a step fails definitively', async () => {
    const run = await replay(
      renewSasOrchestration,
      request,
      script({
        [SasActivities.issue]: () => ({
          status: 'failed',
          error: { code: 'AuthorizationFailure', message: 'denied' },
        }),
      }),
    );
    expect(run.status).toBe('Failed');
    expect(run.inputsOf<SasFailureInput>(SasActivities.recordFailure)[0]!.error).toContain(
      'issue: AuthorizationFailure: denied',
    );
    expect(run.error).toContain('attempt 3');
  });

  it('rejects, recording no failure, when the plan or a step refuses', async () => {
    const planned = await replay(renewSasOrchestration, request, {
      activities: { [SasActivities.plan]: () => ({ status: 'refused', reason: 'a newer SAS was issued' }) },
    });
    expect(planned.output).toEqual({ outcome: 'rejected', reason: 'a newer SAS was issued' });

    const stepped = await replay(
      renewSasOrchestration,
      request,
      script({ [SasActivities.issue]: () => ({ status: 'refused', reason: 'a newer SAS exists' }) }),
    );
    expect(stepped.status).toBe('Completed');
    const result = stepped.output as OperationResult;
    expect(result.outcome).toBe('rejected');
    expect(result.reason).toContain('issue: precondition failed: a newer SAS exists');
    expect(stepped.callsOf(SasActivities.recordFailure)).toEqual([]);
    expect(stepped.callsOf(RotationActivities.deliver)).toEqual([]);
  });
});
