import { createHash } from 'node:crypto';
import type { AzureClients } from '../azure/azureClients.js';
import { configHash, CONFIG_HASH_TAG } from '../azure/containerApps.js';
import type { GatewayReadiness } from '../azure/gatewayProbe.js';
import { gatewayProbeUrl } from '../azure/gatewayProbe.js';
import {
  activateRevision,
  activeRevisionOf,
  getRevision,
  listRevisions,
  replicaFacts,
  routeAllTrafficTo,
  stopRevisions,
} from '../azure/revisions.js';
import type { BrokerConfig } from '../config.js';
import { compareCalendarVersions } from '../domain/openclawVersion.js';
import type { DeployedRelease, UpgradeState } from '../domain/upgradeState.js';
import { BrokerError, ErrorCodes, isBrokerError, messageOf } from '../errors.js';
import type { Logger } from '../logger.js';
import type { AdminChat } from '../maintenance/adminChat.js';
import { maintenanceTarget } from '../maintenance/target.js';
import { done, notYet, refused, type StepOutcome } from '../operations/outcome.js';
import { assertConfigPassesAudit } from '../openclaw/auditConfig.js';
import { configSecretNames, retargetContainerApp } from '../openclaw/containerAppSpec.js';
import { renderNginxConfig } from '../openclaw/nginxConfig.js';
import { renderOpenClawConfig, type OpenClawChannel } from '../openclaw/renderConfig.js';
import { openClawVersionSupport } from '../openclaw/versions.js';
import type { NpmPublishTimes } from '../registries/npmRegistry.js';
import { isBrokerRequestId } from '../requests/brokerRequestIds.js';
import type { EnvironmentRecord, EnvironmentRegistry } from '../storage/environmentRegistry.js';
import type {
  CommitInput,
  GateFacts,
  GateInput,
  PlanOutcome,
  RestoreInput,
  RollbackRecordInput,
  StopInput,
  UpgradePlan,
  UpgradePlanInput,
  UpgradeStepInput,
} from './contracts.js';
import { judgeVersion, judgeVersions, newestEligibleAbove } from './eligibility.js';
import type { FrozenDigest } from './imageDigest.js';

/** The slug's state share, as the snapshot adapter needs it. */
export interface StateShare {
  resourceGroup: string;
  storageAccount: string;
  share: string;
}

/** Share snapshots of a slug's state (shared/azure/shareSnapshots.ts over the account key). */
export interface StateSnapshots {
  /**
   * Takes a snapshot of the share once per `key` (a second call finds the first one's); answers its
   * id (the service's `x-ms-snapshot` time).
   */
  snapshot(share: StateShare, key: string): Promise<string>;
  /** Makes the live share equal to the snapshot. Safe to run again after a crash midway. */
  restore(share: StateShare, snapshot: string): Promise<void>;
  /** Deletes all but the newest `keep` snapshots, never one in `protect`. */
  prune(share: StateShare, keep: number, protect: readonly string[]): Promise<void>;
}

/** What the upgrade steps need from the outside world; tests pass their own. */
export interface UpgradeDependencies {
  config: BrokerConfig;
  azure: AzureClients;
  registry: EnvironmentRegistry;
  chat: AdminChat;
  probe(url: string): Promise<GatewayReadiness>;
  /** npm's versions and publish times of the `openclaw` package. */
  publishTimes(): Promise<NpmPublishTimes>;
  /** The frozen digest of `version`'s image (TagMoved when the tag moved since it was frozen). */
  digestOf(version: string, now: number): Promise<FrozenDigest>;
  snapshots: StateSnapshots;
  /** Where a failure to tell the admin chat is logged. */
  log?: Pick<Logger, 'warn'>;
}

export type UpgradeSteps = ReturnType<typeof createUpgradeSteps>;

const IMAGE_TAG = /:(\d{4}\.\d{1,2}\.\d+(?:-[0-9A-Za-z.]+)?)(?:@(sha256:[0-9a-f]{64}))?$/;

/**
 * The upgrade's steps. Each is safe to run twice: it reads before it writes, writes the same
 * values again, and finds what an earlier attempt did (the named revision, the recorded snapshot).
 */
export function createUpgradeSteps(deps: UpgradeDependencies) {
  const { config, azure, registry } = deps;

  /**
   * Reads the registry, the live app and the registries: what runs, what to move to, whether it
   * may. Nothing to do when the slug already runs the target. Refused (with the reason) for a slug
   * that is not ready, held, pinned elsewhere, a version that is not eligible, a downgrade, or a
   * tag that moved since its digest was frozen. Reads only.
   */
  async function plan(input: UpgradePlanInput): Promise<StepOutcome<PlanOutcome>> {
    const { request } = input;
    const now = Date.parse(input.now);
    const record = await registry.get(request.slug);
    const blocked = notUpgradable(record, request.slug);
    if (blocked) return refused(blocked);
    const upgrades = record!.upgrades ?? {};
    const fromWave = isBrokerRequestId(request.requestId);
    if (upgrades.hold) return refused(`${request.slug} is held from upgrades: ${controlText(upgrades.hold)}`);
    const target = await targetVersionOf(record!, request.params.targetVersion, now, fromWave);
    if ('refused' in target) return refused(target.refused);
    const version = target.version;
    if (upgrades.pinned && upgrades.pinned.version !== version) {
      return refused(
        `${request.slug} is pinned to OpenClaw ${upgrades.pinned.version}: ${controlText(upgrades.pinned)}`,
      );
    }
    const maintenance = await maintenanceTarget(azure, config, record!, request.requestId);
    const from = await runningRelease(maintenance.resourceGroup, maintenance.containerApp, now);
    if ('refused' in from) return refused(from.refused);
    const order = compareCalendarVersions(version, from.version);
    if (order === 0) {
      return done({
        kind: 'up-to-date',
        summary: `${request.slug} already runs OpenClaw ${version} (revision ${from.revision})`,
      });
    }
    if (order < 0) {
      return refused(
        `${request.slug} runs OpenClaw ${from.version}; ${version} is older, and OpenClaw's state migrations only go forward (a downgrade needs a restore, not an upgrade)`,
      );
    }
    let digest: FrozenDigest;
    try {
      digest = await deps.digestOf(version, now);
    } catch (error) {
      if (isBrokerError(error) && error.code === ErrorCodes.TagMoved)
        return refused(`${error.code}: ${error.message}`);
      throw error;
    }
    const policy = config.approvals.policies.upgrade;
    const upgradePlan: UpgradePlan = {
      target: { ...maintenance, openclawVersion: from.version },
      from,
      to: { version, digest: digest.digest, repository: config.image.repository },
      approval: !fromWave && policy.configured === true,
      timing: {
        readyTimeoutMs: config.upgrades.readyTimeoutMs,
        pollIntervalMs: config.upgrades.pollIntervalMs,
        soakMs: config.upgrades.soakMs,
        stopTimeoutMs: config.upgrades.stopTimeoutMs,
      },
      publishedAt: target.publishedAt,
    };
    return done({ kind: 'upgrade', plan: upgradePlan });
  }

  /**
   * Renders the target's config, checks it with the target version's own schema (the generated
   * config keys) and the audit, and builds the app body it would deploy from the live app. Zero
   * writes: a target that refuses the config fails here, before anything stops.
   */
  async function preflight(input: UpgradeStepInput): Promise<StepOutcome<{ configHash: string }>> {
    const { plan } = input;
    try {
      const body = await targetBody(plan);
      return done({ configHash: body.tags?.[CONFIG_HASH_TAG] ?? '' });
    } catch (error) {
      if (isBrokerError(error)) return refused(`preflight for OpenClaw ${plan.to.version}: ${error.message}`);
      throw error;
    }
  }

  /**
   * Records the upgrade as in flight (the first time), deactivates every active revision and
   * answers "not yet" until no revision has a replica: the new revision may start only on a share
   * nobody writes. Safe to run twice: deactivating an inactive revision changes nothing.
   */
  async function stop(input: StopInput): Promise<StepOutcome<{ stopped: string[] }>> {
    const { plan } = input;
    if (input.recordInFlight) {
      await updateUpgrades(plan, (upgrades, record) => ({
        record: { state: 'updating', activeRequestId: plan.target.requestId, currentStep: 'stop' },
        upgrades: {
          ...upgrades,
          inFlight:
            upgrades.inFlight?.requestId === plan.target.requestId
              ? upgrades.inFlight
              : {
                  requestId: plan.target.requestId,
                  targetVersion: plan.to.version,
                  stoppedRevision: plan.from.revision,
                  at: input.now,
                },
          current: upgrades.current ?? plan.from,
        },
        unchangedIf: record.state === 'updating' && upgrades.inFlight?.requestId === plan.target.requestId,
      }));
    }
    const { resourceGroup, containerApp } = plan.target;
    const result = await stopRevisions(azure, resourceGroup, containerApp);
    if (result.stillRunning.length > 0) {
      return notYet(
        `waiting for ${result.stillRunning.join(', ')} to have no replica (one writer on the state share)`,
      );
    }
    return done({ stopped: result.revisions.filter((revision) => !revision.active).map((r) => r.name) });
  }

  /**
   * A snapshot of the state share, taken while no revision runs: the only way back once the target
   * has migrated the state. Recorded on the registry; a second run answers the recorded one.
   */
  async function snapshot(input: UpgradeStepInput): Promise<StepOutcome<{ snapshot: string }>> {
    const { plan } = input;
    const record = await registry.get(plan.target.slug);
    const inFlight = record?.upgrades?.inFlight;
    if (inFlight?.requestId === plan.target.requestId && inFlight.snapshot)
      return done({ snapshot: inFlight.snapshot });
    const taken = await deps.snapshots.snapshot(shareOf(plan), `upgrade:${plan.target.requestId}`);
    await updateUpgrades(plan, (upgrades) => ({
      upgrades: {
        ...upgrades,
        inFlight: upgrades.inFlight && { ...upgrades.inFlight, snapshot: taken },
      },
    }));
    return done({ snapshot: taken });
  }

  /**
   * Deploys the target: the live app with the target's image by digest, its config in its own
   * secrets, its state dir and probes, under a revision named after the request. A second run finds
   * that revision and writes nothing.
   */
  async function start(input: UpgradeStepInput): Promise<StepOutcome<{ revision: string }>> {
    const { plan } = input;
    const { resourceGroup, containerApp } = plan.target;
    const revision = `${containerApp}--${revisionSuffixOf(plan.target.requestId)}`;
    if (await getRevision(azure, resourceGroup, containerApp, revision)) return done({ revision });
    const body = await targetBody(plan);
    await azure.containerApps.containerApps.beginCreateOrUpdateAndWait(
      resourceGroup,
      containerApp,
      body,
      azure.poll,
    );
    return done({ revision }, [{ resource: `container app ${containerApp}`, action: 'updated' }]);
  }

  /**
   * One look at a revision: failed (it could not be provisioned, it is gone or inactive, or its
   * containers restart beyond the limit or at all during the soak), "not yet" until its replica is
   * ready and the gateway's /readyz says ready, or done with its restart count.
   */
  async function gate(input: GateInput): Promise<StepOutcome<GateFacts>> {
    const { plan } = input;
    const { resourceGroup, containerApp } = plan.target;
    const revision = await getRevision(azure, resourceGroup, containerApp, input.revision);
    const fail = (reason: string): StepOutcome<GateFacts> => ({
      status: 'failed',
      error: { code: ErrorCodes.GatewayNotReady, message: `${input.revision}: ${reason}` },
    });
    if (!revision) return fail('the revision does not exist');
    if (revision.provisioningState === 'Failed') return fail('the revision failed to provision');
    if (!revision.active) return fail('the revision is not active');
    const replicas = await replicaFacts(azure, resourceGroup, containerApp, input.revision);
    if (input.restartsAtMost !== undefined && replicas.restarts > input.restartsAtMost) {
      return fail(
        `its containers restarted during the soak (${input.restartsAtMost} -> ${replicas.restarts})`,
      );
    }
    if (replicas.restarts > config.upgrades.restartLimit) {
      return fail(`crash-looping: ${replicas.restarts} container restarts`);
    }
    if (!replicas.ready) return notYet(`${input.revision} has no ready replica yet`);
    const version = versionOfImage(revision.image) ?? plan.to.version;
    const path = openClawVersionSupport(version).probes.readiness;
    const url = gatewayProbeUrl(
      config.openclaw.gatewayUrlTemplate,
      { fqdn: plan.target.fqdn, name: containerApp },
      path,
    );
    const answer = await deps.probe(url);
    if (!answer.ready) return notYet(`${path} answered ${answer.reason}`);
    return done({ revision: input.revision, restarts: replicas.restarts });
  }

  /**
   * The registry records the new release as current and keeps the one before, the in-flight
   * marker goes, the version is no longer failed on the slug; old snapshots are pruned.
   */
  async function commit(input: CommitInput): Promise<StepOutcome<{ pruned: boolean }>> {
    const { plan } = input;
    const current: DeployedRelease = {
      version: plan.to.version,
      digest: plan.to.digest,
      revision: input.revision,
      configSecret: configSecretNames(plan.to.version).openclaw,
      at: input.now,
    };
    await updateUpgrades(plan, (upgrades) => {
      const { [plan.to.version]: _cleared, ...failed } = upgrades.failed ?? {};
      return {
        record: {
          state: 'ready',
          openclawVersion: plan.to.version,
          activeRequestId: undefined,
          currentStep: undefined,
        },
        upgrades: {
          ...upgrades,
          current,
          previous: plan.from,
          failed: Object.keys(failed).length > 0 ? failed : undefined,
          inFlight: undefined,
          last: {
            requestId: plan.target.requestId,
            targetVersion: plan.to.version,
            outcome: 'upgraded',
            at: input.now,
          },
        },
      };
    });
    await deps.snapshots.prune(shareOf(plan), config.upgrades.snapshotsKept, [input.snapshot]);
    return done({ pruned: true });
  }

  /** Restores the state share from the upgrade's snapshot (the target may have migrated it). */
  async function restore(input: RestoreInput): Promise<StepOutcome<{ restored: string }>> {
    await deps.snapshots.restore(shareOf(input.plan), input.snapshot);
    return done({ restored: input.snapshot });
  }

  /**
   * Activates the revision that ran before and sends all traffic to it by name (the newest
   * revision is the one that failed). Called only once the new revision has no replica.
   */
  async function reactivate(input: UpgradeStepInput): Promise<StepOutcome<{ revision: string }>> {
    const { plan } = input;
    const { resourceGroup, containerApp } = plan.target;
    const previous = await getRevision(azure, resourceGroup, containerApp, plan.from.revision);
    if (!previous) {
      return {
        status: 'failed',
        error: {
          code: ErrorCodes.PreconditionFailed,
          message: `the previous revision ${plan.from.revision} no longer exists`,
        },
      };
    }
    if (!previous.active) await activateRevision(azure, resourceGroup, containerApp, plan.from.revision);
    await routeAllTrafficTo(azure, resourceGroup, containerApp, plan.from.revision);
    return done({ revision: plan.from.revision });
  }

  /** The slug runs its previous release again: recorded, the admin chat told. */
  async function recordRollback(input: RollbackRecordInput): Promise<StepOutcome<{ recorded: true }>> {
    const { plan } = input;
    let told = false;
    await updateUpgrades(plan, (upgrades) => {
      told = upgrades.last?.requestId === plan.target.requestId && upgrades.last.outcome === 'rolled-back';
      return {
        record: {
          state: 'ready',
          openclawVersion: plan.from.version,
          activeRequestId: undefined,
          currentStep: undefined,
        },
        upgrades: {
          ...upgrades,
          current: plan.from,
          inFlight: undefined,
          failed: input.targetFailed
            ? {
                ...upgrades.failed,
                [plan.to.version]: { at: input.now, requestId: plan.target.requestId, reason: input.reason },
              }
            : upgrades.failed,
          last: {
            requestId: plan.target.requestId,
            targetVersion: plan.to.version,
            outcome: 'rolled-back',
            at: input.now,
            reason: input.reason,
          },
        },
      };
    });
    if (!told) {
      await tellAdmins(
        `Upgrade of ${plan.target.slug} to OpenClaw ${plan.to.version} rolled back to ${plan.from.version} (revision ${plan.from.revision}, state restored): ${input.reason}`,
      );
    }
    return done({ recorded: true });
  }

  /**
   * The rollback failed too: every revision is deactivated (nothing writes the share), the slug is
   * `needs-repair`, and the admin chat is told what is known (the snapshot to restore from).
   */
  async function needsRepair(input: RollbackRecordInput): Promise<StepOutcome<{ recorded: true }>> {
    const { plan } = input;
    await stopRevisions(azure, plan.target.resourceGroup, plan.target.containerApp);
    let told = false;
    let snapshotId: string | undefined;
    await updateUpgrades(plan, (upgrades) => {
      told = upgrades.last?.requestId === plan.target.requestId && upgrades.last.outcome === 'needs-repair';
      snapshotId = upgrades.inFlight?.snapshot ?? snapshotId;
      return {
        record: { state: 'needs-repair', currentStep: undefined },
        upgrades: {
          ...upgrades,
          last: {
            requestId: plan.target.requestId,
            targetVersion: plan.to.version,
            outcome: 'needs-repair',
            at: input.now,
            reason: input.reason,
          },
        },
      };
    });
    if (!told) {
      await tellAdmins(
        `NEEDS REPAIR: ${plan.target.slug}'s upgrade to OpenClaw ${plan.to.version} failed and so did its rollback to ${plan.from.version} (revision ${plan.from.revision}). Every revision is stopped.${snapshotId ? ` The state before the upgrade is share snapshot ${snapshotId} of ${plan.target.storageAccount}/${plan.target.stateFileShare}.` : ''} ${input.reason}`,
      );
    }
    return done({ recorded: true });
  }

  // --- helpers -------------------------------------------------------------------------------

  /**
   * Tells the admin chat, best effort: the registry already says what happened (the request's
   * outcome and `upgrades.last` carry it too), so a chat that cannot be reached does not undo a
   * recorded rollback.
   */
  async function tellAdmins(text: string): Promise<void> {
    try {
      await deps.chat.tell(text);
    } catch (error) {
      deps.log?.warn('the admin chat could not be told', { error: messageOf(error) });
    }
  }

  async function targetVersionOf(
    record: EnvironmentRecord,
    requested: string | undefined,
    now: number,
    fromWave: boolean,
  ): Promise<{ version: string; publishedAt: string } | { refused: string }> {
    const published = await deps.publishTimes();
    const failedOnSlug = Object.keys(record.upgrades?.failed ?? {});
    const input = {
      now,
      published,
      policy: { minReleaseAgeMs: config.openclaw.minReleaseAgeMs, blocked: config.upgrades.blockedVersions },
      // An operator may retry a version that failed on the slug; a wave never does.
      failedOnSlug: fromWave ? failedOnSlug : [],
    };
    if (requested === undefined) {
      const current = record.openclawVersion!;
      const newest = newestEligibleAbove(current, judgeVersions(input));
      if (!newest) return { refused: `no eligible OpenClaw version above ${current}` };
      requested = newest;
    }
    const verdict = judgeVersion(requested, input);
    if (!verdict.eligible) {
      const from = verdict.eligibleFrom ? ` (eligible from ${verdict.eligibleFrom})` : '';
      return { refused: `OpenClaw ${requested} is not eligible: ${verdict.detail}${from}` };
    }
    return { version: requested, publishedAt: verdict.publishedAt };
  }

  /** The active revision and what it runs, or why there is no single one to return to. */
  async function runningRelease(
    resourceGroup: string,
    app: string,
    now: number,
  ): Promise<DeployedRelease | { refused: string }> {
    const revisions = await listRevisions(azure, resourceGroup, app);
    const active = activeRevisionOf(revisions);
    if (!active) return { refused: `container app ${app} has no active revision to upgrade from` };
    const match = IMAGE_TAG.exec(active.image);
    if (!match) return { refused: `the image of ${active.name} (${active.image}) names no OpenClaw version` };
    return {
      version: match[1]!,
      digest: match[2],
      revision: active.name,
      configSecret: active.configSecret ?? '',
      at: new Date(now).toISOString(),
    };
  }

  /** The app body the start step deploys, built from the live app (reads only). */
  async function targetBody(plan: UpgradePlan) {
    const record = await registry.get(plan.target.slug);
    const gateway = record?.gateway;
    if (!gateway) {
      throw new BrokerError(
        ErrorCodes.PreconditionFailed,
        `the registry holds no gateway settings for ${plan.target.slug}; provision it again (a convergence run records them)`,
      );
    }
    const { version } = plan.to;
    const channels = gateway.channels as OpenClawChannel[];
    const openclawConfig = renderOpenClawConfig({
      version,
      appFqdn: plan.target.fqdn,
      channels,
      adminRpc: openClawVersionSupport(version).adminRpcPlugin,
      ...(gateway.foundry ? { foundry: gateway.foundry } : {}),
    });
    assertConfigPassesAudit(openclawConfig.text, version);
    const nginxConfig = renderNginxConfig({ version, channels });
    const { resourceGroup, containerApp } = plan.target;
    const live = await azure.containerApps.containerApps.get(resourceGroup, containerApp);
    const listed = await azure.containerApps.containerApps.listSecrets(resourceGroup, containerApp);
    const inlineValues = new Map<string, string>();
    for (const secret of listed.value) {
      const declared = live.configuration?.secrets?.find((candidate) => candidate.name === secret.name);
      if (declared && !declared.keyVaultUrl && typeof secret.value === 'string' && secret.name)
        inlineValues.set(secret.name, secret.value);
    }
    const body = retargetContainerApp({
      live,
      inlineValues,
      image: plan.to,
      openclawConfig,
      nginxConfig,
      keepSecrets: plan.from.configSecret
        ? [plan.from.configSecret, plan.from.configSecret.replace(/^openclaw-/, 'nginx-')]
        : [],
      revisionSuffix: revisionSuffixOf(plan.target.requestId),
    });
    return {
      ...body,
      tags: { ...body.tags, [CONFIG_HASH_TAG]: configHash(openclawConfig.text, nginxConfig.text) },
    };
  }

  /**
   * Applies `change` to the slug's upgrade state (and record fields), under the registry's
   * optimistic concurrency; only while the record belongs to the same incarnation.
   */
  async function updateUpgrades(
    plan: UpgradePlan,
    change: (
      upgrades: UpgradeState,
      record: EnvironmentRecord,
    ) => {
      upgrades: UpgradeState;
      record?: Partial<
        Pick<EnvironmentRecord, 'state' | 'openclawVersion' | 'activeRequestId' | 'currentStep'>
      >;
      unchangedIf?: boolean;
    },
  ): Promise<void> {
    await registry.update(plan.target.slug, (record) => {
      if (!record || record.incarnation !== plan.target.incarnation) return undefined;
      const { etag: _etag, updatedAt: _updated, createdAt: _created, ...rest } = record;
      const next = change(record.upgrades ?? {}, record);
      if (next.unchangedIf) return undefined;
      return { ...rest, ...next.record, upgrades: next.upgrades };
    });
  }

  return {
    plan,
    preflight,
    stop,
    snapshot,
    start,
    gate,
    commit,
    restore,
    reactivate,
    recordRollback,
    needsRepair,
  };
}

/** Why a slug cannot be upgraded now, or undefined. */
function notUpgradable(record: EnvironmentRecord | undefined, slug: string): string | undefined {
  if (!record) return `no environment ${slug} in the registry`;
  if (record.state === 'needs-repair')
    return `environment ${slug} needs repair after a failed rollback (${record.upgrades?.last?.reason ?? 'see the admin chat'})`;
  if (record.state !== 'ready') return `environment ${slug} is ${record.state}; an upgrade needs it ready`;
  if (!record.url || !record.openclawVersion) return `environment ${slug} has no gateway recorded yet`;
  return undefined;
}

function controlText(control: { at: string; by: string; reason?: string | undefined }): string {
  return `set by ${control.by} at ${control.at}${control.reason ? ` (${control.reason})` : ''}`;
}

function shareOf(plan: UpgradePlan): StateShare {
  return {
    resourceGroup: plan.target.resourceGroup,
    storageAccount: plan.target.storageAccount,
    share: plan.target.stateFileShare,
  };
}

/** `u` and 8 hex of the request id's hash: the new revision's name is fixed by the request. */
export function revisionSuffixOf(requestId: string): string {
  return `u${createHash('sha256').update(requestId).digest('hex').slice(0, 8)}`;
}

function versionOfImage(image: string): string | undefined {
  return IMAGE_TAG.exec(image)?.[1];
}
