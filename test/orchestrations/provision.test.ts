import { describe, expect, it } from 'vitest';
import { provisionOrchestration } from '../../orchestrations/provision.js';
import { ProvisionActivities } from '../../shared/functionNames.js';
import { footprintNames } from '../../shared/domain/footprint.js';
import { lifecycleRequestSchema } from '../../shared/requests/lifecycleRequest.js';
import {
  STEP_DEPENDENCIES,
  type FinishInput,
  type GraphStep,
  type PrepareInput,
  type PrepareOutput,
  type ProvisionPlan,
  type ProvisionRequest,
  type ProvisionTiming,
  type RecordFailureInput,
  type ReportProgressInput,
  type StepInput,
} from '../../shared/provisioning/contracts.js';
import type { OperationResult } from '../../shared/intake/runnerContracts.js';
import { aRequest } from '../support/requests.js';
import { replay, secretLikeValues, type ActivityScript, type Script } from '../support/replay.js';
import type { StepOutcome } from '../../shared/operations/outcome.js';

const request = lifecycleRequestSchema.parse(
  aRequest({ op: 'provision', requestId: 'req-prov-1' }),
) as ProvisionRequest;
const names = footprintNames('acme', { salt: 'test', incarnation: 1 });
const plan: ProvisionPlan = {
  slug: 'acme',
  requestId: 'req-prov-1',
  incarnation: 1,
  names,
  location: 'westeurope',
  tenantId: '00000000-0000-0000-0000-000000000001',
  openclawVersion: '2026.9.6',
  channels: ['telegram'],
  allowedIdentities: [],
  owners: [],
};
const timing: ProvisionTiming = {
  retryIntervalMs: 10_000,
  propagationTimeoutMs: 60_000,
  readyPollIntervalMs: 15_000,
  readyTimeoutMs: 120_000,
};
const GRAPH_STEPS = Object.keys(STEP_DEPENDENCIES) as GraphStep[];
const EXISTING = [
  'Microsoft.ManagedIdentity/userAssignedIdentities/id-acme',
  'Microsoft.Storage/storageAccounts/stacme',
];

const done =
  (step: GraphStep): ActivityScript =>
  (_: StepInput): StepOutcome<unknown> => ({
    status: 'done',
    value:
      step === 'containerApp'
        ? { id: 'ca', fqdn: 'ca-acme.example.net', latestRevisionName: 'r1' }
        : { step },
    changes: [{ resource: `${step} ${names.slug}`, action: 'created' }],
  });

/** Every step done at once; `steps` replaces some of them. */
function script(steps: Partial<Record<GraphStep, ActivityScript>> = {}, prepare?: ActivityScript): Script {
  const activities: Record<string, ActivityScript> = {
    [ProvisionActivities.prepare]:
      prepare ?? ((_: PrepareInput): PrepareOutput => ({ status: 'planned', plan, timing, changes: [] })),
    [ProvisionActivities.reportProgress]: (_: ReportProgressInput) => null,
    [ProvisionActivities.finish]: (_: FinishInput) => null,
    [ProvisionActivities.recordFailure]: (_: RecordFailureInput) => ({ existing: EXISTING }),
  };
  for (const step of GRAPH_STEPS) activities[ProvisionActivities[step]] = steps[step] ?? done(step);
  return { activities };
}

const stepActivities = new Set<string>(GRAPH_STEPS.map((step) => ProvisionActivities[step]));

describe('provision orchestration (replayed)', () => {
  it('runs the graph with independent steps in parallel and succeeds', async () => {
    const activityMs = 60_000;
    const run = await replay(provisionOrchestration, request, script(), { activityMs });
    expect(run.status).toBe('Completed');
    const result = run.output as OperationResult;
    expect(result.outcome).toBe('succeeded');
    expect(result.summary).toContain('ca-acme.example.net');

    expect(run.names()[0]).toBe(ProvisionActivities.prepare);
    expect(run.names().at(-1)).toBe(ProvisionActivities.finish);
    const stepCalls = run.calls.filter((call) => stepActivities.has(call.name));
    expect(stepCalls.map((call) => call.name).sort()).toEqual([...stepActivities].sort());
    const at = (step: GraphStep) => Date.parse(run.callsOf(ProvisionActivities[step])[0]!.at);
    for (const step of GRAPH_STEPS) {
      for (const dependency of STEP_DEPENDENCIES[step])
        expect(at(step)).toBeGreaterThanOrEqual(at(dependency) + activityMs);
    }
    // The four steps that need only the resource group start together, as soon as it is done.
    const fanOut = (['identity', 'keyVault', 'storage', 'logAnalytics'] as const).map(at);
    expect(new Set(fanOut).size).toBe(1);
    expect(fanOut[0]).toBe(at('resourceGroup') + activityMs);
    // Wall time follows the critical path, not the sum of the steps.
    const wall = Date.parse(run.endedAt) - Date.parse(run.startedAt);
    expect(wall).toBeLessThan((GRAPH_STEPS.length + 2) * activityMs);

    const [finish] = run.inputsOf<FinishInput>(ProvisionActivities.finish);
    expect(Object.keys(finish!.facts).sort()).toEqual([...GRAPH_STEPS].sort());
    expect(run.callsOf(ProvisionActivities.reportProgress).length).toBeGreaterThan(0);
    expect(run.callsOf(ProvisionActivities.recordFailure)).toEqual([]);
    expect(run.customStatus).toMatchObject({ step: 'finish', done: 16, total: 16 });
    expect(secretLikeValues(run)).toEqual([]);
  });

  it('returns rejected when prepare refuses, and runs no step', async () => {
    const run = await replay(
      provisionOrchestration,
      request,
      script({}, () => ({ status: 'refused', reason: 'acme is being torn down' })),
    );
    expect(run.status).toBe('Completed');
    expect(run.output).toEqual({ outcome: 'rejected', reason: 'acme is being torn down' });
    expect(run.names()).toEqual([ProvisionActivities.prepare]);
  });

  it('fails with the step, its code and what exists when a step fails definitively', async () => {
    const run = await replay(
      provisionOrchestration,
      request,
      script({
        keyVault: (): StepOutcome<unknown> => ({
          status: 'failed',
          error: { code: 'VaultAlreadyExists', message: 'The vault name is already in use.' },
        }),
      }),
    );
    expect(run.status).toBe('Failed');
    expect(run.error).toContain(
      'failed at step keyVault: VaultAlreadyExists: The vault name is already in use',
    );
    expect(run.error).toContain(`Existing in ${names.resourceGroup}: ${EXISTING.join(', ')}`);
    const [record] = run.inputsOf<RecordFailureInput>(ProvisionActivities.recordFailure);
    expect(record).toMatchObject({ step: 'keyVault', error: { code: 'VaultAlreadyExists' } });
    expect(record!.plan.slug).toBe('acme');
    // Steps that depend on the failed one never start; nothing is finished.
    expect(run.callsOf(ProvisionActivities.roleAssignments)).toEqual([]);
    expect(run.callsOf(ProvisionActivities.finish)).toEqual([]);
    expect(run.names().at(-1)).toBe(ProvisionActivities.recordFailure);
  });

  it('retries a step that throws with backoff, then fails with ActivityFailed once the attempts are used up', async () => {
    const run = await replay(
      provisionOrchestration,
      request,
      script({
        storage: () => {
          throw new Error('503 Service Unavailable');
        },
      }),
    );
    expect(run.status).toBe('Failed');
    const calls = run.callsOf(ProvisionActivities.storage);
    expect(calls.map((call) => call.attempt)).toEqual([1, 2, 3, 4]);
    const gaps = calls.slice(1).map((call, index) => Date.parse(call.at) - Date.parse(calls[index]!.at));
    expect(gaps).toEqual([5_000, 10_000, 20_000]);
    expect(run.error).toContain('failed at step storage: ActivityFailed:');
    expect(run.error).toContain('503 Service Unavailable');
    const [record] = run.inputsOf<RecordFailureInput>(ProvisionActivities.recordFailure);
    expect(record).toMatchObject({ step: 'storage', error: { code: 'ActivityFailed' } });
  });

  it('recovers when a step throws fewer times than the attempts allow', async () => {
    const run = await replay(
      provisionOrchestration,
      request,
      script({
        identity: (input: StepInput, call) => {
          if (call.attempt < 3) throw new Error('ECONNRESET');
          return done('identity')(input as never, call);
        },
      }),
    );
    expect(run.status).toBe('Completed');
    expect(run.callsOf(ProvisionActivities.identity)).toHaveLength(3);
  });

  it('fails the run when prepare keeps throwing: the extension retries it with backoff', async () => {
    const run = await replay(
      provisionOrchestration,
      request,
      script({}, () => {
        throw new Error('429 Too Many Requests');
      }),
    );
    expect(run.status).toBe('Failed');
    expect(run.error).toContain('429 Too Many Requests');
    const calls = run.callsOf(ProvisionActivities.prepare);
    expect(calls).toHaveLength(4);
    expect(calls.map((call) => call.retry)).toEqual([false, true, true, true]);
    const retryDelays = run.timers
      .filter((timer) => timer.retry)
      .map((timer) => Date.parse(timer.fireAt) - Date.parse(timer.createdAt));
    // 5 s, 10 s, 20 s between attempts; after the last one DTFx's back-compat timer fires at once.
    expect(retryDelays).toEqual([5_000, 10_000, 20_000, 0]);
    expect(run.names()).toEqual(Array(4).fill(ProvisionActivities.prepare));
  });

  it('fails with PropagationTimeout when a step stays not-yet past the propagation timeout', async () => {
    const run = await replay(
      provisionOrchestration,
      request,
      script({
        roleAssignments: () => ({ status: 'not-yet', reason: 'PrincipalNotFound: not replicated yet' }),
      }),
    );
    expect(run.status).toBe('Failed');
    expect(run.error).toContain(
      'failed at step roleAssignments: PropagationTimeout: still not done after 60s',
    );
    expect(run.error).toContain('PrincipalNotFound: not replicated yet');
    const calls = run.callsOf(ProvisionActivities.roleAssignments);
    expect(calls).toHaveLength(timing.propagationTimeoutMs / timing.retryIntervalMs + 1);
    const waits = run.timers
      .filter((timer) => !timer.retry)
      .map((timer) => Date.parse(timer.fireAt) - Date.parse(timer.createdAt));
    expect(new Set(waits)).toEqual(new Set([timing.retryIntervalMs]));
    expect(run.inputsOf<RecordFailureInput>(ProvisionActivities.recordFailure)[0]).toMatchObject({
      step: 'roleAssignments',
      error: { code: 'PropagationTimeout' },
    });
    expect(run.callsOf(ProvisionActivities.secrets)).toEqual([]);
  });

  it('fails with GatewayNotReady when readiness stays not-yet past the ready timeout', async () => {
    const run = await replay(
      provisionOrchestration,
      request,
      script({ readiness: () => ({ status: 'not-yet', reason: 'gateway answers 503' }) }),
    );
    expect(run.status).toBe('Failed');
    expect(run.error).toContain(
      'failed at step readiness: GatewayNotReady: still not done after 120s: gateway answers 503',
    );
    const calls = run.callsOf(ProvisionActivities.readiness);
    expect(calls).toHaveLength(timing.readyTimeoutMs / timing.readyPollIntervalMs + 1);
    const span = Date.parse(calls.at(-1)!.at) - Date.parse(calls[0]!.at);
    expect(span).toBe(timing.readyTimeoutMs);
    expect(run.inputsOf<RecordFailureInput>(ProvisionActivities.recordFailure)[0]).toMatchObject({
      step: 'readiness',
      error: { code: 'GatewayNotReady' },
    });
    expect(run.callsOf(ProvisionActivities.finish)).toEqual([]);
  });
});
