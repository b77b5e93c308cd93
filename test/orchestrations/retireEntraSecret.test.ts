import { describe, expect, it } from 'vitest';
import { retireEntraSecretOrchestration } from '../../orchestrations/retireEntraSecret.js';
import { RotationActivities } from '../../shared/functionNames.js';
import type { EntraRetireInput } from '../../shared/rotation/contracts.js';
import { replay } from '../support/replay.js';
import { START, done, ms, target } from './fixtures.js';

const NOT_BEFORE = '2026-11-23T08:00:00.000Z';
const input: EntraRetireInput = {
  target,
  applicationId: 'app-object-id',
  keyId: 'key-old',
  notBefore: NOT_BEFORE,
};

describe('retire-entra-secret orchestration (replayed)', () => {
  it('waits for the grace period on a durable timer, then removes the old secret', async () => {
    const run = await replay(retireEntraSecretOrchestration, input, {
      activities: { [RotationActivities.entraRemove]: (_: EntraRetireInput) => done({ removed: true }) },
    });
    expect(run.status).toBe('Completed');
    expect(run.output).toBe('removed');
    expect(run.timers.map((timer) => timer.fireAt)).toEqual([NOT_BEFORE]);
    expect(run.callsOf(RotationActivities.entraRemove)).toEqual([
      expect.objectContaining({ at: NOT_BEFORE, input }),
    ]);
  });

  it('retries a removal that throws on the extension retry timers, and fails on a definitive failure', async () => {
    const run = await replay(
      retireEntraSecretOrchestration,
      { ...input, notBefore: START },
      {
        activities: {
          [RotationActivities.entraRemove]: (_: EntraRetireInput, call) => {
            if (call.attempt < 3) throw new Error('Graph 503');
            return { status: 'failed', error: { code: 'Authorization_RequestDenied', message: 'no rights' } };
          },
        },
      },
    );
    expect(run.status).toBe('Failed');
    expect(run.error).toContain(
      'removing the old client secret of acme failed: Authorization_RequestDenied: no rights',
    );
    const calls = run.callsOf(RotationActivities.entraRemove);
    expect(calls.map((call) => call.retry)).toEqual([false, true, true]);
    // 60 s, then 120 s (backoff coefficient 2).
    expect([ms(calls[0]!.at, calls[1]!.at), ms(calls[1]!.at, calls[2]!.at)]).toEqual([60_000, 120_000]);
  });
});
