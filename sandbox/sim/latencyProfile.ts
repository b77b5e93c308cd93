/**
 * How long Azure takes: each long-running operation and each propagation delay the broker waits
 * on, per resource type, in Azure seconds, with where the figure comes from. The simulator applies
 * the profile (option `latency`) divided by a time scale, so a bench of minutes of Azure time runs
 * in seconds; the ARM throttle's refill rate is multiplied by the same scale (throttle.ts) so the
 * ratio of throttle to latency holds.
 *
 * Sources: Microsoft publishes few durations. Where a page or a published measurement gives a
 * number or a range, it is cited; where none does, the note says so and the figure is the midpoint
 * of the range the cited material does give, stated as such. Change a figure only with a source.
 */

/** One duration and where it comes from. */
export interface LatencyFigure {
  seconds: number;
  source: string;
}

/**
 * What an operation does: long-running PUT of a new resource, of an existing one, DELETE, a revision
 * restart, or the time a revision's replica takes to start after an activation or to stop after a
 * deactivation.
 */
export type OperationKind = 'create' | 'update' | 'delete' | 'restart' | 'activate' | 'deactivate';

export interface LatencyProfile {
  /** By ARM resource type (`Microsoft.App/managedEnvironments`), then by kind. */
  operations: Record<string, Partial<Record<OperationKind, LatencyFigure>>>;
  /** A role assignment until Key Vault and Storage data planes honour it. */
  dataPlanePropagation: LatencyFigure;
  /** A new principal (managed identity) until ARM can name it in a role assignment without principalType. */
  entraReplication: LatencyFigure;
}

const ENVIRONMENT_CREATE: LatencyFigure = {
  seconds: 210,
  source:
    'No Microsoft figure found. Published expectations: "provision it within a few minutes" ' +
    '(github.com/microsoft/azure-container-apps/issues/433); scripts wait 1-2 min after `az containerapp ' +
    'env create` returns (Azure-Samples/java-on-azure-examples containerapp/create-environment workflow: ' +
    '`sleep 60` twice; CDCgov/phdi-azure PR #33: "waiting a minute"). Midpoint of 2-5 min: 3.5 min.',
};

/** The figures the benches use; see each `source`. */
export const azureLatencyProfile: LatencyProfile = {
  operations: {
    'Microsoft.App/managedEnvironments': {
      create: ENVIRONMENT_CREATE,
      update: ENVIRONMENT_CREATE,
      delete: {
        seconds: 600,
        source:
          'Reported: "Deleting an ACA environment takes more than 10 minutes" ' +
          '(github.com/microsoft/azure-container-apps/issues/465). Lower bound taken: 10 min.',
      },
    },
    'Microsoft.App/containerApps': {
      create: {
        seconds: 60,
        source:
          'No published number. The create completes when the first revision is ready: "when one of its ' +
          'replicas starts and becomes ready ... all of its containers start and pass their startup and ' +
          'readiness probes" (learn.microsoft.com/azure/container-apps/application-lifecycle-management): ' +
          'image pull plus start. Midpoint of 30-90 s (unsourced range; stated as an assumption).',
      },
      update: {
        seconds: 45,
        source:
          'As create, without the first image pull on a node that has the image: normally "completes ' +
          'instantly" for the CLI, which returns before the revision is ready ' +
          '(github.com/microsoft/azure-container-apps/issues/623); the ARM operation ends when the new ' +
          'revision is ready (single revision mode, application-lifecycle-management). Midpoint of 30-60 s ' +
          '(unsourced range; stated as an assumption).',
      },
      delete: {
        seconds: 30,
        source:
          'No published number; assumption (containers get a 30 s termination grace period by default, containers docs).',
      },
    },
    'Microsoft.App/containerApps/revisions': {
      restart: {
        seconds: 30,
        source:
          'No published number: a restart replaces the replicas, which must pass their probes again ' +
          '(learn.microsoft.com/azure/container-apps/revisions). Assumption: 30 s.',
      },
      activate: {
        seconds: 30,
        source:
          'No published number: an activated revision starts a replica, which must pass its startup and ' +
          'readiness probes (learn.microsoft.com/azure/container-apps/application-lifecycle-management). ' +
          'Assumption: as a restart, 30 s.',
      },
      deactivate: {
        seconds: 30,
        source:
          "A deactivated revision's containers get SIGTERM and, if still running after 30 s, SIGKILL " +
          '(learn.microsoft.com/azure/container-apps/application-lifecycle-management, "Shutdown"). Upper ' +
          'bound taken: 30 s (a process that exits on SIGTERM stops sooner).',
      },
    },
    'Microsoft.Resources/resourceGroups': {
      delete: {
        seconds: 600,
        source:
          'A group delete ends when its last resource is deleted; a slug group holds a Container Apps ' +
          'environment, whose delete is the slowest (above: 10 min).',
      },
    },
    'Microsoft.KeyVault/vaults': {
      create: {
        seconds: 20,
        source:
          'No published number; assumption: 20 s (vault PUT answers with the resource and provisioningState).',
      },
    },
    'Microsoft.Storage/storageAccounts': {
      create: {
        seconds: 25,
        source:
          'No published number; the create is asynchronous (202 + Location, REST spec ' +
          'StorageAccounts_Create). Assumption: 25 s.',
      },
    },
    'Microsoft.OperationalInsights/workspaces': {
      create: {
        seconds: 15,
        source: 'No published number; assumption: 15 s.',
      },
    },
    // Microsoft.Insights/components: the PUT is synchronous (REST spec Components_CreateOrUpdate: 200,
    // no long-running operation), so its create time is one request's latency, not a profile entry.
  },
  dataPlanePropagation: {
    seconds: 315,
    source:
      'Key Vault RBAC: role assignment changes take "up to 10 minutes" to apply ' +
      '(learn.microsoft.com/azure/key-vault/general/rbac-guide, "role assignment latency"); measured ' +
      '"from 30s to minutes" (github.com/fangluguomsft/azure_rbac_latency). Midpoint of 30 s-10 min: 315 s.',
  },
  entraReplication: {
    seconds: 90,
    source:
      'No published number: a new principal may be missing from ARM\'s directory lookup ("replication ' +
      'delay", PrincipalNotFound; learn.microsoft.com/azure/role-based-access-control/troubleshooting). ' +
      'Terraform azurerm retried such assignments for 180 s (hashicorp/terraform-provider-azurerm PR ' +
      '#1647). Midpoint of 0-180 s: 90 s.',
  },
};

/** The profile applied at a time scale (Azure seconds per wall second). */
export interface LatencyOptions {
  profile?: LatencyProfile;
  /** Azure time per wall time, e.g. 20: a 210 s environment create takes 10.5 s. Default 1. */
  timeScale?: number;
}

/** ARM resource type of a resource id: `Microsoft.App/containerApps/revisions` and so on. */
export function resourceTypeOf(resourceId: string): string | undefined {
  if (/^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+$/i.test(resourceId))
    return 'Microsoft.Resources/resourceGroups';
  const match = /\/providers\/([^/]+)\/(.+)$/i.exec(resourceId);
  if (!match) return undefined;
  const segments = match[2]!.split('/');
  const types = segments.filter((_, index) => index % 2 === 0);
  return [match[1], ...types].join('/');
}

/**
 * Simulated milliseconds for an operation on `resourceId` under the profile, or undefined when the
 * profile has no figure for it (the simulator then uses its default provisioning time).
 */
export function operationMs(
  options: LatencyOptions,
  resourceId: string,
  kind: OperationKind,
): number | undefined {
  const type = resourceTypeOf(resourceId);
  const figure = type ? findType(options.profile ?? azureLatencyProfile, type)?.[kind] : undefined;
  return figure ? (figure.seconds * 1000) / scaleOf(options) : undefined;
}

/** Simulated milliseconds of a propagation delay under the profile. */
export function propagationMs(
  options: LatencyOptions,
  which: 'dataPlanePropagation' | 'entraReplication',
): number {
  return ((options.profile ?? azureLatencyProfile)[which].seconds * 1000) / scaleOf(options);
}

export function scaleOf(options: LatencyOptions): number {
  const scale = options.timeScale ?? 1;
  if (!Number.isFinite(scale) || scale <= 0)
    throw new RangeError(`The latency time scale must be a positive number; got ${String(scale)}.`);
  return scale;
}

function findType(profile: LatencyProfile, type: string) {
  const key = Object.keys(profile.operations).find((known) => known.toLowerCase() === type.toLowerCase());
  return key ? profile.operations[key] : undefined;
}
