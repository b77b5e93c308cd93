/**
 * The broker's app plus a stand-in of the per-slug `upgrade` operation, registered under its real
 * orchestration name (the slug runner calls it), so fleet waves run end to end before (and apart
 * from) the real upgrade. The stand-in keeps the contract the wave relies on: when it ends, the
 * slug's registry record has `upgrades.last = { requestId, targetVersion, outcome, at, reason? }`,
 * and its result gives the request its final status. A held slug is refused; otherwise the outcome
 * is what the test set for the slug in `upgradeOutcomes` (default `upgraded`, which moves the slug
 * to the target version; `rolled-back` records the version as failed on it).
 */
import * as df from 'durable-functions';
import type { OrchestrationContext, OrchestrationHandler } from 'durable-functions';
import { Orchestrations } from '../../shared/functionNames.js';
import type { UpgradeOutcome } from '../../shared/domain/upgradeState.js';
import type { OperationResult } from '../../shared/intake/runnerContracts.js';
import type { LifecycleRequest } from '../../shared/requests/lifecycleRequest.js';
import { services } from '../../functions/services.js';
import '../../functions/index.js';

export const TEST_UPGRADE_ACTIVITY = 'testUpgradeSlug';

/** The outcome each slug's upgrade ends with (set by the test; default `upgraded`). */
export const upgradeOutcomes = new Map<string, UpgradeOutcome>();

/** Request ids the stand-in upgraded, in order. */
export const upgradedRequests: string[] = [];

interface UpgradeInput {
  requestId: string;
  slug: string;
  targetVersion: string;
  at: string;
}

df.app.activity(TEST_UPGRADE_ACTIVITY, {
  handler: async (input: UpgradeInput): Promise<OperationResult | { outcome: 'failed'; reason: string }> => {
    const { registry } = services();
    const record = await registry.get(input.slug);
    const outcome: UpgradeOutcome = record?.upgrades?.hold
      ? 'refused'
      : (upgradeOutcomes.get(input.slug) ?? 'upgraded');
    const reason =
      outcome === 'refused' ? 'held' : outcome === 'rolled-back' ? 'the gate failed (test)' : undefined;
    await registry.update(input.slug, (current) =>
      current
        ? {
            ...current,
            openclawVersion: outcome === 'upgraded' ? input.targetVersion : current.openclawVersion,
            upgrades: {
              ...current.upgrades,
              ...(outcome === 'rolled-back'
                ? {
                    failed: {
                      ...current.upgrades?.failed,
                      [input.targetVersion]: { at: input.at, requestId: input.requestId, reason: reason! },
                    },
                  }
                : {}),
              last: {
                requestId: input.requestId,
                targetVersion: input.targetVersion,
                outcome,
                at: input.at,
                reason,
              },
            },
          }
        : undefined,
    );
    upgradedRequests.push(input.requestId);
    if (outcome === 'upgraded' || outcome === 'up-to-date') return { outcome: 'succeeded', summary: outcome };
    if (outcome === 'refused') return { outcome: 'rejected', reason: reason ?? 'refused' };
    return { outcome: 'failed', reason: `${outcome}: ${reason ?? ''}` };
  },
});

const standInUpgrade: OrchestrationHandler = function* (context: OrchestrationContext) {
  const request = context.df.getInput<Extract<LifecycleRequest, { op: 'upgrade' }>>();
  const input: UpgradeInput = {
    requestId: request.requestId,
    slug: request.slug,
    targetVersion: request.params.targetVersion ?? '',
    at: context.df.currentUtcDateTime.toISOString(),
  };
  const result = (yield context.df.callActivity(TEST_UPGRADE_ACTIVITY, input)) as
    OperationResult | { outcome: 'failed'; reason: string };
  // A failed upgrade fails its request, as the real one does (the slug runner records the reason).
  if (result.outcome === 'failed') throw new Error(result.reason);
  return result;
};

df.app.orchestration(Orchestrations.upgrade, standInUpgrade);
