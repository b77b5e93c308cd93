import { azureFailureOf } from '../../azure/azureErrors.js';
import { listResourcesInGroup } from '../../azure/resourceGroups.js';
import { configSecretNames } from '../../openclaw/containerAppSpec.js';
import type { EnvironmentRecord } from '../../storage/environmentRegistry.js';
import {
  PROVISION_STEPS,
  type FinishInput,
  type ProvisionPlan,
  type RecordFailureInput,
  type RecordFailureOutput,
  type ReportProgressInput,
} from '../contracts.js';
import type { StepContext } from './context.js';

/** Marks the environment ready with its URL and version. Safe to run twice: it sets values. */
export async function finishStep(ctx: StepContext, input: FinishInput): Promise<void> {
  const { registry } = ctx;
  const { plan } = input;
  const fqdn = input.facts.containerApp?.fqdn;
  const revision = input.facts.containerApp?.latestRevisionName;
  await registry.update(plan.slug, (record) => {
    const upgrades = record?.upgrades ?? {};
    const current = upgrades.current;
    const same = current?.version === plan.openclawVersion && current.revision === revision;
    return {
      ...baseRecord(record, plan),
      state: 'ready',
      incarnation: plan.incarnation,
      openclawVersion: plan.openclawVersion,
      url: fqdn ? `https://${fqdn}` : record?.url,
      owners: plan.owners,
      // What an upgrade renders the gateway from, and the release it returns to on a rollback.
      gateway: {
        channels: [...plan.channels],
        ...(plan.foundry
          ? { foundry: { endpoint: plan.foundry.endpoint, deployment: plan.foundry.deployment } }
          : {}),
      },
      upgrades:
        revision && !same
          ? {
              ...upgrades,
              current: {
                version: plan.openclawVersion,
                digest: plan.imageDigest,
                revision,
                configSecret: configSecretNames(plan.openclawVersion).openclaw,
                at: input.finishedAt,
              },
            }
          : upgrades,
      currentStep: undefined,
      progress: { done: PROVISION_STEPS.length, total: PROVISION_STEPS.length },
    };
  });
}

/**
 * Marks the environment failed and lists what exists in its resource group, for the failure
 * report. Safe to run twice: it sets values and reads.
 */
export async function recordFailureStep(
  ctx: StepContext,
  input: RecordFailureInput,
): Promise<RecordFailureOutput> {
  const { azure, registry } = ctx;
  const { plan } = input;
  let existing: string[];
  try {
    existing = (await listResourcesInGroup(azure, plan.names.resourceGroup)).map(
      (r) => `${r.type}/${r.name}`,
    );
  } catch (error) {
    existing = [`(could not list: ${azureFailureOf(error).code})`];
  }
  await registry.update(plan.slug, (record) => ({
    ...baseRecord(record, plan),
    state: 'failed',
    incarnation: plan.incarnation,
    currentStep: input.step,
  }));
  return { existing };
}

/**
 * Shows the running step and done/total on the registry record. Safe to run twice and in any
 * order: it only moves progress forward, and only for the request that holds the environment.
 */
export async function reportProgressStep(ctx: StepContext, input: ReportProgressInput): Promise<void> {
  const { registry } = ctx;
  await registry.update(input.slug, (record) => {
    if (!record || record.activeRequestId !== input.requestId) return undefined;
    if ((record.progress?.done ?? 0) > input.done) return undefined;
    return { ...record, currentStep: input.step, progress: { done: input.done, total: input.total } };
  });
}

export function baseRecord(
  record: EnvironmentRecord | undefined,
  plan: ProvisionPlan,
): Omit<EnvironmentRecord, 'etag' | 'updatedAt' | 'createdAt'> {
  if (record) {
    const { etag: _etag, updatedAt: _updated, createdAt: _created, ...rest } = record;
    return rest;
  }
  return {
    slug: plan.slug,
    state: 'provisioning',
    incarnation: plan.incarnation,
    owners: plan.owners,
    secretAges: {},
  };
}
