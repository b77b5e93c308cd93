import { describe, expect, it } from 'vitest';
import { slugRunnerOrchestration } from '../../orchestrations/slugRunner.js';
import { Activities, Events, Orchestrations } from '../../shared/functionNames.js';
import type {
  ClaimedRequest,
  FinishRequestInput,
  SlugRunnerInput,
  StartRequestInput,
} from '../../shared/intake/runnerContracts.js';
import { replay, type ActivityScript } from '../support/replay.js';
import { requestOf } from './fixtures.js';

const input: SlugRunnerInput = { slug: 'acme' };
const claimed: ClaimedRequest = {
  requestId: 'req-renew-sas-1',
  op: 'renew-sas',
  request: requestOf('renew-sas'),
  instanceId: 'op:req-renew-sas-1',
};

function activities(claim: ActivityScript): Record<string, ActivityScript> {
  return {
    [Activities.claimNextRequest]: claim,
    [Activities.startRequest]: (_: StartRequestInput) => null,
    [Activities.finishRequest]: (_: FinishRequestInput) => null,
  };
}

describe('slug runner orchestration (replayed)', () => {
  it('runs the claimed request as its operation sub-orchestration, records the outcome and continues as new', async () => {
    const run = await replay(
      slugRunnerOrchestration,
      input,
      {
        activities: activities(() => claimed),
        subOrchestrations: {
          [Orchestrations.renewSas]: () => ({ outcome: 'succeeded', summary: 'renewed' }),
        },
      },
      { instanceId: 'runner:acme' },
    );
    expect(run.status).toBe('ContinuedAsNew');
    expect(run.continuedAsNewWith).toEqual(input);
    expect(run.names()).toEqual([
      Activities.claimNextRequest,
      Activities.startRequest,
      Activities.finishRequest,
    ]);
    expect(run.subOrchestrations).toEqual([
      expect.objectContaining({
        name: Orchestrations.renewSas,
        instanceId: 'op:req-renew-sas-1',
        input: claimed.request,
      }),
    ]);
    expect(run.inputsOf<FinishRequestInput>(Activities.finishRequest)).toEqual([
      expect.objectContaining({ requestId: 'req-renew-sas-1', outcome: 'succeeded', summary: 'renewed' }),
    ]);
  });

  it('records a failed operation with the first line of its failure', async () => {
    const run = await replay(slugRunnerOrchestration, input, {
      activities: activities(() => claimed),
      subOrchestrations: {
        [Orchestrations.renewSas]: () => {
          throw new Error('renewing the log-shipping SAS of acme failed (attempt 1): grant: denied');
        },
      },
    });
    expect(run.status).toBe('ContinuedAsNew');
    const [finish] = run.inputsOf<FinishRequestInput>(Activities.finishRequest);
    expect(finish).toMatchObject({ requestId: 'req-renew-sas-1', outcome: 'failed' });
    expect(finish!.reason).toContain(
      'renewing the log-shipping SAS of acme failed (attempt 1): grant: denied',
    );
    expect(finish!.reason).not.toContain('\n');
  });

  it('waits idle for a wake event when nothing is queued, then continues as new', async () => {
    const idle = await replay(slugRunnerOrchestration, input, { activities: activities(() => null) });
    expect(idle.status).toBe('Running');
    expect(idle.customStatus).toMatchObject({ slug: 'acme', idle: true });

    const woken = await replay(slugRunnerOrchestration, input, {
      activities: activities(() => null),
      events: [{ name: Events.wake, afterMs: 60_000 }],
    });
    expect(woken.status).toBe('ContinuedAsNew');
    expect(woken.names()).toEqual([Activities.claimNextRequest]);
    expect(woken.endedAt).toBe('2026-11-22T08:01:00.000Z');
  });
});
