import type { Revision } from '@azure/arm-appcontainers';
import type { AzureClients } from './azureClients.js';
import { hasStatus } from './azureErrors.js';

/**
 * A container app's revisions, and what the broker does with them to keep OpenClaw a single writer
 * of its state share.
 *
 * Why this exists: in single revision mode Container Apps keeps the old revision running until the
 * new one is ready ("zero downtime", learn.microsoft.com azure/container-apps/revisions), so a
 * template change puts two gateways on one share; there is no Recreate strategy
 * (microsoft/azure-container-apps #493, #969, #1129, #1674). The broker's apps run in multiple
 * revision mode, and every change that makes a new revision first deactivates the running ones and
 * waits until none has a replica.
 */

/** What the broker reads of one revision. */
export interface RevisionFacts {
  name: string;
  active: boolean;
  /** Replicas the revision reports; 0 once a deactivation has finished. */
  replicas: number;
  runningState: string;
  healthState: string;
  provisioningState: string;
  createdTime?: string | undefined;
  trafficWeight: number;
  /** The image of the revision's first container (the gateway). */
  image: string;
  /** The secret the revision mounts as openclaw.json, when it mounts one. */
  configSecret?: string | undefined;
}

/** The revision's replica containers, as the replicas API reports them. */
export interface ReplicaFacts {
  replicas: number;
  /** Sum of every container's restartCount over the revision's replicas. */
  restarts: number;
  /** Every container of every replica ready, and at least one replica. */
  ready: boolean;
}

export async function listRevisions(
  azure: AzureClients,
  resourceGroup: string,
  app: string,
): Promise<RevisionFacts[]> {
  const revisions: RevisionFacts[] = [];
  for await (const revision of azure.containerApps.containerAppsRevisions.listRevisions(resourceGroup, app))
    revisions.push(revisionFacts(revision));
  return revisions;
}

export async function getRevision(
  azure: AzureClients,
  resourceGroup: string,
  app: string,
  revision: string,
): Promise<RevisionFacts | undefined> {
  try {
    return revisionFacts(
      await azure.containerApps.containerAppsRevisions.getRevision(resourceGroup, app, revision),
    );
  } catch (error) {
    if (hasStatus(error, 404)) return undefined;
    throw error;
  }
}

/** The replicas of one revision and their containers' restart counts (GET .../replicas). */
export async function replicaFacts(
  azure: AzureClients,
  resourceGroup: string,
  app: string,
  revision: string,
): Promise<ReplicaFacts> {
  const listed = await azure.containerApps.containerAppsRevisionReplicas.listReplicas(
    resourceGroup,
    app,
    revision,
  );
  let restarts = 0;
  let ready = listed.value.length > 0;
  for (const replica of listed.value) {
    for (const container of replica.containers ?? []) {
      restarts += container.restartCount ?? 0;
      if (container.ready !== true) ready = false;
    }
  }
  return { replicas: listed.value.length, restarts, ready };
}

/**
 * Deactivates every active revision except `keep` and reports which revisions still have replicas
 * (a deactivation takes a while to drain). Safe to run again: an inactive revision is left alone.
 */
export async function stopRevisions(
  azure: AzureClients,
  resourceGroup: string,
  app: string,
  options: { keep?: string | undefined } = {},
): Promise<{ deactivated: string[]; stillRunning: string[]; revisions: RevisionFacts[] }> {
  const revisions = await listRevisions(azure, resourceGroup, app);
  const deactivated: string[] = [];
  for (const revision of revisions) {
    if (!revision.active || revision.name === options.keep) continue;
    await azure.containerApps.containerAppsRevisions.deactivateRevision(resourceGroup, app, revision.name);
    deactivated.push(revision.name);
  }
  const stillRunning: string[] = [];
  for (const revision of revisions) {
    if (revision.name === options.keep) continue;
    // The revision's own `replicas` can lag; the replicas API is what runs.
    const { replicas } = await replicaFacts(azure, resourceGroup, app, revision.name);
    if (replicas > 0) stillRunning.push(revision.name);
  }
  return { deactivated, stillRunning, revisions };
}

/** Activates `revision` (no-op when active). */
export async function activateRevision(
  azure: AzureClients,
  resourceGroup: string,
  app: string,
  revision: string,
): Promise<void> {
  await azure.containerApps.containerAppsRevisions.activateRevision(resourceGroup, app, revision);
}

/**
 * Sends all ingress traffic to `revision` by name. A merge PATCH of the ingress's traffic only
 * (ContainerApps_Update is a JSON merge patch: arrays are replaced, other settings kept); an
 * app-scope change, so no new revision.
 */
export async function routeAllTrafficTo(
  azure: AzureClients,
  resourceGroup: string,
  app: string,
  revision: string,
): Promise<void> {
  const current = await azure.containerApps.containerApps.get(resourceGroup, app);
  const traffic = current.configuration?.ingress?.traffic ?? [];
  if (traffic.length === 1 && traffic[0]?.revisionName === revision && traffic[0].weight === 100) return;
  await azure.containerApps.containerApps.beginUpdateAndWait(
    resourceGroup,
    app,
    {
      location: current.location,
      configuration: { ingress: { traffic: [{ revisionName: revision, weight: 100 }] } },
    },
    azure.poll,
  );
}

/** The revision that serves: the active one (there is at most one when the broker is in charge). */
export function activeRevisionOf(revisions: readonly RevisionFacts[]): RevisionFacts | undefined {
  const active = revisions.filter((revision) => revision.active);
  return active.sort((a, b) => (b.createdTime ?? '').localeCompare(a.createdTime ?? ''))[0] ?? undefined;
}

function revisionFacts(revision: Revision): RevisionFacts {
  const gateway = revision.template?.containers?.[0];
  const configVolume = revision.template?.volumes?.find((volume) => volume.name === 'openclaw-config');
  return {
    name: revision.name ?? '',
    active: revision.active === true,
    replicas: revision.replicas ?? 0,
    runningState: revision.runningState ?? 'Unknown',
    healthState: revision.healthState ?? 'None',
    provisioningState: revision.provisioningState ?? 'Unknown',
    createdTime: revision.createdTime?.toISOString(),
    trafficWeight: revision.trafficWeight ?? 0,
    image: gateway?.image ?? '',
    configSecret: configVolume?.secrets?.[0]?.secretRef,
  };
}
