import { describe, expect, it } from 'vitest';
import { rotateSecretsOrchestration } from '../../orchestrations/rotateSecrets.js';
import { RotationActivities } from '../../shared/functionNames.js';
import type {
  EntraRetireInput,
  GatewayVerifyInput,
  RecordRotationInput,
  RecordSkipInput,
  RotationItem,
  RotationPlan,
  StorageRegenerateInput,
} from '../../shared/rotation/contracts.js';
import type { OperationResult } from '../../shared/intake/runnerContracts.js';
import { replay, secretLikeValues, type ActivityScript, type Script } from '../support/replay.js';
import { done, maintenanceTiming, ms, requestOf, target } from './fixtures.js';
import type { DeliverInput } from '../../shared/maintenance/contracts.js';
import type { StepOutcome } from '../../shared/operations/outcome.js';

const request = requestOf('rotate-secrets');
const GRACE_MS = 24 * 3600_000;

const gateway: RotationItem = { kind: 'gateway-token', fromVersion: '0123456789abcdef0123456789abcdef' };
const storage: RotationItem = {
  kind: 'storage-key',
  fromKey: 'key1',
  toKey: 'key2',
  fromKeyCreatedAt: '2026-01-01T00:00:00.000Z',
};
const entra: RotationItem = {
  kind: 'entra-client-secret',
  applicationId: 'app-object-id',
  fromKeyId: 'key-old',
};
const bot: RotationItem = { kind: 'telegram-bot-token', setAt: '2026-01-01T00:00:00.000Z' };

/** Every step done; `overrides` replace some. */
function script(items: RotationItem[], overrides: Record<string, ActivityScript> = {}): Script {
  const plan: RotationPlan = {
    status: 'planned',
    target,
    timing: maintenanceTiming,
    entraGraceMs: GRACE_MS,
    items,
    skipped: [],
  };
  return {
    activities: {
      [RotationActivities.plan]: () => plan,
      [RotationActivities.gatewayWrite]: () => done({ toVersion: 'fedcba9876543210fedcba9876543210' }),
      [RotationActivities.deliver]: (_: DeliverInput) => done({ revision: 'ca-acme--r2', restarted: true }),
      [RotationActivities.gatewayVerify]: () => done({}),
      [RotationActivities.retireVersions]: () => done({ disabled: 1 }),
      [RotationActivities.storageMove]: () => done({ moved: true }),
      [RotationActivities.storageVerify]: () => done({}),
      [RotationActivities.storageRegenerate]: () => done({ regenerated: true }),
      [RotationActivities.entraAdd]: () => done({ toKeyId: 'key-new' }),
      [RotationActivities.entraVerify]: () => done({}),
      [RotationActivities.entraScheduleRetire]: () => null,
      [RotationActivities.flagSecret]: () => done({ told: true }),
      [RotationActivities.recordRotation]: () => null,
      [RotationActivities.recordSkip]: () => null,
      ...overrides,
    },
  };
}

describe('rotate-secrets orchestration (replayed)', () => {
  it('fails only the item whose verification stays not-yet past the verify timeout; the others continue', async () => {
    const notYet = (): StepOutcome<object> => ({
      status: 'not-yet',
      reason: 'revision still starting',
    });
    const run = await replay(
      rotateSecretsOrchestration,
      request,
      script([gateway, storage], { [RotationActivities.gatewayVerify]: notYet }),
    );
    expect(run.status).toBe('Failed');
    expect(run.error).toMatch(
      /gateway-token failed: VerificationFailed: .*still not done after 60s: revision still starting/,
    );
    expect(run.error).toContain('storage-key rotated');

    const verifies = run.callsOf(RotationActivities.gatewayVerify);
    expect(verifies).toHaveLength(maintenanceTiming.verifyTimeoutMs / maintenanceTiming.verifyIntervalMs + 1);
    expect(ms(verifies[0]!.at, verifies.at(-1)!.at)).toBe(maintenanceTiming.verifyTimeoutMs);
    expect(verifies[0]!.input as GatewayVerifyInput).toMatchObject({ fromVersion: gateway.fromVersion });
    // The gateway token went no further: old versions kept, nothing recorded for it.
    expect(run.callsOf(RotationActivities.retireVersions)).toEqual([]);
    // The storage key went all the way, after the gateway token gave up.
    expect(run.inputsOf<StorageRegenerateInput>(RotationActivities.storageRegenerate)).toEqual([
      expect.objectContaining({ fromKey: 'key1', toKey: 'key2', fromKeyCreatedAt: storage.fromKeyCreatedAt }),
    ]);
    expect(run.inputsOf<RecordRotationInput>(RotationActivities.recordRotation)).toEqual([
      expect.objectContaining({ kind: 'storage-key', storageKeyInUse: 'key2' }),
    ]);
    expect(run.names().indexOf(RotationActivities.storageMove)).toBeGreaterThan(
      run.names().lastIndexOf(RotationActivities.gatewayVerify),
    );
    expect(secretLikeValues(run)).toEqual([]);
  });

  it('rejects the request when a step finds its precondition no longer holds, changing nothing after it', async () => {
    const run = await replay(
      rotateSecretsOrchestration,
      request,
      script([gateway], {
        [RotationActivities.gatewayWrite]: () => ({ status: 'refused', reason: 'a newer version exists' }),
      }),
    );
    expect(run.status).toBe('Completed');
    const result = run.output as OperationResult;
    expect(result.outcome).toBe('rejected');
    expect(result.reason).toContain('gateway-token refused: precondition failed: a newer version exists');
    expect(run.names()).toEqual([RotationActivities.plan, RotationActivities.gatewayWrite]);
  });

  it('rejects the request when the plan refuses it', async () => {
    const run = await replay(rotateSecretsOrchestration, request, {
      activities: { [RotationActivities.plan]: () => ({ status: 'refused', reason: 'acme is not ready' }) },
    });
    expect(run.output).toEqual({ outcome: 'rejected', reason: 'acme is not ready' });
  });

  it('records a skip when Entra refuses client secrets, and still flags the bot token', async () => {
    const run = await replay(
      rotateSecretsOrchestration,
      request,
      script([entra, bot], {
        [RotationActivities.entraAdd]: () => ({
          status: 'skipped',
          reason: 'the tenant forbids client secrets',
        }),
      }),
    );
    expect(run.status).toBe('Completed');
    expect(run.inputsOf<RecordSkipInput>(RotationActivities.recordSkip)).toEqual([
      expect.objectContaining({ kind: 'entra-client-secret', reason: 'the tenant forbids client secrets' }),
    ]);
    expect(run.callsOf(RotationActivities.deliver)).toEqual([]);
    expect(run.callsOf(RotationActivities.entraScheduleRetire)).toEqual([]);
    expect(run.callsOf(RotationActivities.flagSecret)).toHaveLength(1);
    const result = run.output as OperationResult;
    expect(result.outcome).toBe('succeeded');
    expect(result.summary).toContain('entra-client-secret skipped: the tenant forbids client secrets');
    expect(result.summary).toContain('telegram-bot-token flagged');
  });

  it('rotates the Entra secret and schedules the old one removal after the grace period', async () => {
    const run = await replay(rotateSecretsOrchestration, request, script([entra]));
    expect(run.status).toBe('Completed');
    expect(run.names()).toEqual([
      RotationActivities.plan,
      RotationActivities.entraAdd,
      RotationActivities.deliver,
      RotationActivities.entraVerify,
      RotationActivities.entraScheduleRetire,
      RotationActivities.recordRotation,
    ]);
    expect(run.inputsOf<DeliverInput>(RotationActivities.deliver)[0]!.expect).toEqual({
      kind: 'entra-key',
      keyId: 'key-new',
    });
    const [retire] = run.inputsOf<EntraRetireInput>(RotationActivities.entraScheduleRetire);
    expect(retire).toMatchObject({ applicationId: 'app-object-id', keyId: 'key-old' });
    expect(ms(run.callsOf(RotationActivities.entraVerify)[0]!.at, retire!.notBefore)).toBe(GRACE_MS);
  });
});
