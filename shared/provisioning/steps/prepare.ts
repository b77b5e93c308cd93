import { keyVaultNameUsable } from '../../azure/keyVault.js';
import { logAnalyticsNameReserved } from '../../azure/monitoring.js';
import { storageAccountNameUsable } from '../../azure/storage.js';
import { MAX_INCARNATION, footprintNames } from '../../domain/footprint.js';
import { BrokerError, ErrorCodes, isBrokerError } from '../../errors.js';
import { assertConfigPassesAudit } from '../../openclaw/auditConfig.js';
import type { EnvironmentRecord } from '../../storage/environmentRegistry.js';
import { PROVISION_STEPS, type PrepareInput, type PrepareOutput, type ProvisionPlan } from '../contracts.js';
import { baseRecord } from './bookkeeping.js';
import type { StepContext } from './context.js';

/**
 * Decides the incarnation and the names, audits the config that will be rendered (before
 * anything is deployed) and marks the environment busy. Safe to run twice: it reads, and writes
 * the registry record with the same values. A slug seen for the first time (or after teardown)
 * gets the next incarnation whose Key Vault, storage and Log Analytics names are free: names
 * held by soft-deleted resources of an earlier life are skipped.
 */
export async function prepareStep(ctx: StepContext, input: PrepareInput): Promise<PrepareOutput> {
  const { config, registry, render } = ctx;
  const { request } = input;
  const params = request.params;
  const current = await registry.get(request.slug);
  const running = current && current.state !== 'deleted' ? current.openclawVersion : undefined;
  // A slug that runs changes version only by an upgrade (stop, snapshot, gate, rollback): a
  // convergence run renders the version the registry says runs, never a default or a version an
  // upgrade rolled back.
  if (running && params.openclawVersion !== undefined && params.openclawVersion !== running) {
    return {
      status: 'refused',
      reason: `${request.slug} runs OpenClaw ${running}; moving it to ${params.openclawVersion} is an upgrade (op "upgrade" with targetVersion), not a provisioning`,
    };
  }
  const version = running ?? params.openclawVersion ?? config.openclaw.defaultVersion;
  const provisional = footprintNames(request.slug, { salt: config.nameSalt, incarnation: 1 });
  try {
    const rendered = render({
      version,
      appFqdn: `${provisional.containerApp}.pending.azurecontainerapps.io`,
      channels: params.channels,
      ...(params.foundry
        ? { foundry: { endpoint: params.foundry.endpoint, deployment: params.foundry.deployment } }
        : {}),
    });
    assertConfigPassesAudit(rendered.text, version);
  } catch (error) {
    if (isBrokerError(error)) return { status: 'refused', reason: error.message };
    throw error;
  }

  const missing = missingSecretParams(request, current);
  if (missing) return { status: 'refused', reason: missing };
  let incarnation =
    current && current.state !== 'deleted' ? current.incarnation : (current?.incarnation ?? 0) + 1;
  if (!current || current.state === 'deleted') {
    incarnation = await firstUsableIncarnation(ctx, request.slug, incarnation);
  }
  const names = footprintNames(request.slug, { salt: config.nameSalt, incarnation });
  const plan: ProvisionPlan = {
    slug: request.slug,
    requestId: request.requestId,
    incarnation,
    names: { ...names },
    location: config.azure.location,
    tenantId: config.azure.tenantId,
    openclawVersion: version,
    imageDigest: running === version ? current?.upgrades?.current?.digest : undefined,
    channels: [...params.channels],
    telegramBotTokenRef: params.telegramBotToken?.secretRef,
    foundry: params.foundry && {
      endpoint: params.foundry.endpoint,
      deployment: params.foundry.deployment,
      apiKeyRef: params.foundry.apiKey?.secretRef,
    },
    allowedIdentities: [...params.allowedIdentities],
    owners: params.owners.length > 0 ? [...params.owners] : [...(current?.owners ?? [])],
    previousState: current?.state,
  };
  await registry.update(request.slug, (record) => ({
    ...baseRecord(record, plan),
    state: record?.state === 'ready' ? 'updating' : 'provisioning',
    incarnation,
    owners: plan.owners,
    activeRequestId: request.requestId,
    currentStep: 'prepare',
    progress: { done: 0, total: PROVISION_STEPS.length },
  }));
  return {
    status: 'planned',
    plan,
    timing: {
      retryIntervalMs: config.provisioning.retryIntervalMs,
      propagationTimeoutMs: config.provisioning.propagationTimeoutMs,
      readyPollIntervalMs: config.provisioning.readyPollIntervalMs,
      readyTimeoutMs: config.provisioning.readyTimeoutMs,
    },
    changes: [],
  };
}

async function firstUsableIncarnation(ctx: StepContext, slug: string, from: number): Promise<number> {
  const { config, azure } = ctx;
  for (let incarnation = from; incarnation <= MAX_INCARNATION; incarnation++) {
    const names = footprintNames(slug, { salt: config.nameSalt, incarnation });
    const [vaultOk, storageOk, workspaceReserved] = await Promise.all([
      keyVaultNameUsable(azure, { resourceGroup: names.resourceGroup, name: names.keyVault }),
      storageAccountNameUsable(azure, {
        resourceGroup: names.resourceGroup,
        accountName: names.storageAccount,
      }),
      logAnalyticsNameReserved(azure, names.logAnalyticsWorkspace),
    ]);
    if (vaultOk && storageOk && !workspaceReserved) return incarnation;
  }
  throw new BrokerError(ErrorCodes.Internal, `no free incarnation left for ${slug}`);
}

/**
 * A channel or model that needs a secret the request does not bring and the slug's vault does not
 * hold yet (per the registry's secret ages): refused before anything is deployed.
 */
function missingSecretParams(
  request: PrepareInput['request'],
  current: EnvironmentRecord | undefined,
): string | undefined {
  const has = (kind: string) =>
    current !== undefined && current.state !== 'deleted' && kind in current.secretAges;
  const params = request.params;
  if (params.channels.includes('telegram') && !params.telegramBotToken && !has('telegram-bot-token')) {
    return 'the telegram channel needs telegramBotToken ({ secretRef } to the token staged in the broker vault)';
  }
  if (params.foundry && !params.foundry.apiKey && !has('foundry-api-key')) {
    return 'foundry needs apiKey ({ secretRef } to the key staged in the broker vault)';
  }
  return undefined;
}
