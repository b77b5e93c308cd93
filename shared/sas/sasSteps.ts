import {
  BlobServiceClient,
  ContainerSASPermissions,
  SASProtocol,
  generateBlobSASQueryParameters,
} from '@azure/storage-blob';
import { statusOf } from '../azure/azureErrors.js';
import { BuiltInRoles, ensureRoleAssignment, type RoleGrant } from '../azure/roleAssignments.js';
import { latestVersion, writeVersion } from '../maintenance/keyVaultVersions.js';
import type {
  SasFailureInput,
  SasFailureOutput,
  SasGrantInput,
  SasIssueInput,
  SasIssued,
  SasPlan,
  SasPlanInput,
  SasRecordInput,
  SasRecordOutput,
} from './contracts.js';
import { sasRenewalDue, sasRetryAt } from './sasSchedule.js';
import { MAINTENANCE_SECRET_NAMES } from '../domain/footprint.js';
import { asStepOutcome, done, notYet, preconditionFailed } from '../operations/outcome.js';
import { MAINTENANCE_TAGS } from '../maintenance/contracts.js';
import { maintenanceTarget, notMaintainable, type MaintenanceDependencies } from '../maintenance/target.js';

export interface SasDependencies extends MaintenanceDependencies {
  /** The broker's own object id: the SAS signer that needs the blob roles. */
  brokerPrincipalId(): Promise<string>;
}

/** Write and create only: the log shipper appends logs; it can neither read, list nor delete. */
export const LOG_SAS_PERMISSIONS = 'cw';
/** A SAS is valid from a little before it is issued, for clock skew between the broker and Storage. */
const CLOCK_SKEW_MS = 5 * 60_000;

/**
 * Plans a renewal of a ready environment; refuses a request made before the current SAS was
 * issued (a duplicate or late request: the renewal it asked for has happened). Reads only.
 */
export async function planSasRenewal(deps: SasDependencies, input: SasPlanInput): Promise<SasPlan> {
  const { azure, config, registry } = deps;
  const { request } = input;
  const record = await registry.get(request.slug);
  const blocked = notMaintainable(record, request.slug);
  if (blocked || !record) return { status: 'refused', reason: blocked ?? 'no environment' };
  const issuedAt = record.maintenance?.sasIssuedAt;
  if (issuedAt && Date.parse(issuedAt) > Date.parse(request.requestedAt)) {
    return {
      status: 'refused',
      reason: `the log-shipping SAS of ${request.slug} was renewed at ${issuedAt}, after this request was made (${request.requestedAt}); it expires at ${record.sasExpiresAt ?? 'unknown'}`,
    };
  }
  return {
    status: 'planned',
    target: await maintenanceTarget(azure, config, record, request.requestId),
    timing: {
      verifyIntervalMs: config.provisioning.retryIntervalMs,
      verifyTimeoutMs: config.provisioning.propagationTimeoutMs,
    },
    lifetimeMs: config.sas.lifetimeMs,
  };
}

/**
 * Makes sure the broker holds Storage Blob Delegator (to get a user-delegation key) and Storage
 * Blob Data Contributor (a SAS grants no more than its signer holds) on the slug's storage
 * account. Idempotent: deterministic assignment names, read before written; "not yet" while
 * ARM does not know the principal.
 */
export function grantSasSigner(deps: SasDependencies, input: SasGrantInput) {
  const { azure } = deps;
  return asStepOutcome(async () => {
    const { target } = input;
    const principalId = await deps.brokerPrincipalId();
    const scope = `/subscriptions/${azure.subscriptionId}/resourceGroups/${target.resourceGroup}/providers/Microsoft.Storage/storageAccounts/${target.storageAccount}`;
    const grants: RoleGrant[] = [
      {
        label: 'broker: Storage Blob Delegator',
        scope,
        roleDefinitionGuid: BuiltInRoles.storageBlobDelegator,
        principalId,
      },
      {
        label: 'broker: Storage Blob Data Contributor',
        scope,
        roleDefinitionGuid: BuiltInRoles.storageBlobDataContributor,
        principalId,
      },
    ];
    const outcomes = await Promise.all(grants.map((grant) => ensureRoleAssignment(azure, grant)));
    const pending = outcomes.flatMap((outcome) =>
      outcome.status === 'principal-not-found' ? [outcome.message] : [],
    );
    if (pending.length > 0) return notYet(pending.join('; '));
    return done({
      granted: outcomes.filter((outcome) => outcome.status === 'present' && outcome.change).length,
    });
  });
}

/**
 * Issues the SAS and stores it as a new version of `log-shipping-sas` whose expiry attribute is
 * the SAS's expiry. "Not yet" while the broker's blob roles propagate (403 on the delegation
 * key). Safe to run twice: a latest version written by this request is returned as it is; a
 * latest version expiring later than this one would (a newer renewal) refuses the step, so a
 * late step never replaces a newer SAS.
 */
export function issueSas(deps: SasDependencies, input: SasIssueInput) {
  const { azure, config } = deps;
  const pollIntervalMs = config.azure.lroPollIntervalMs;
  return asStepOutcome<SasIssued>(async () => {
    const { target } = input;
    const vault = azure.secrets(target.vaultUri);
    const current = await latestVersion(vault, MAINTENANCE_SECRET_NAMES.logShippingSas);
    if (current?.tags[MAINTENANCE_TAGS.request] === target.requestId && current.expiresOn) {
      return done({
        version: current.version,
        issuedAt: current.tags[MAINTENANCE_TAGS.issuedAt] ?? input.now,
        expiresAt: current.expiresOn,
      });
    }
    const issuedAt = Date.parse(input.now);
    const wantedExpiry = issuedAt + input.lifetimeMs;
    if (current?.expiresOn && Date.parse(current.expiresOn) > wantedExpiry) {
      throw preconditionFailed(
        `the stored SAS expires at ${current.expiresOn}, after the one this request would issue: a newer renewal happened`,
      );
    }
    const account = await azure.storage.storageAccounts.getProperties(
      target.resourceGroup,
      target.storageAccount,
    );
    const endpoint = account.primaryEndpoints?.blob;
    if (!endpoint) throw new Error(`storage account ${target.storageAccount} has no blob endpoint`);
    const blobs = new BlobServiceClient(endpoint, azure.credential, {
      retryOptions: { maxTries: config.azure.maxRetries + 1 },
    });
    const startsOn = new Date(issuedAt - CLOCK_SKEW_MS);
    let key;
    try {
      key = await blobs.getUserDelegationKey(startsOn, new Date(wantedExpiry));
    } catch (error) {
      if (statusOf(error) === 403) {
        return notYet("the broker's blob roles on the storage account have not propagated yet (403)");
      }
      throw error;
    }
    const expiresAt = Math.min(wantedExpiry, Date.parse(key.signedExpiresOn.toISOString()));
    const sas = generateBlobSASQueryParameters(
      {
        containerName: target.logContainer,
        permissions: ContainerSASPermissions.parse(LOG_SAS_PERMISSIONS),
        startsOn,
        expiresOn: new Date(expiresAt),
        protocol: SASProtocol.Https,
      },
      key,
      target.storageAccount,
    ).toString();
    const containerUrl = `${endpoint.replace(/\/+$/, '')}/${target.logContainer}`;
    const issuedIso = new Date(issuedAt).toISOString();
    const version = await writeVersion(
      vault,
      MAINTENANCE_SECRET_NAMES.logShippingSas,
      `${containerUrl}?${sas}`,
      {
        tags: { [MAINTENANCE_TAGS.request]: target.requestId, [MAINTENANCE_TAGS.issuedAt]: issuedIso },
        expiresOn: new Date(expiresAt),
        pollIntervalMs,
      },
    );
    return done({ version, issuedAt: issuedIso, expiresAt: new Date(expiresAt).toISOString() });
  });
}

/**
 * Records the SAS's expiry and its renewal time (about 2/3 of the issued lifetime, with
 * jitter), and clears earlier failures. Sets values, only forward: an older SAS never replaces
 * a newer one's record.
 */
export async function recordSas(
  deps: Pick<SasDependencies, 'registry'>,
  input: SasRecordInput,
): Promise<SasRecordOutput> {
  const { registry } = deps;
  const renewAt = sasRenewalDue({
    slug: input.target.slug,
    issuedAt: input.issuedAt,
    expiresAt: input.expiresAt,
  });
  await registry.update(input.target.slug, (current) => {
    if (!current) return undefined;
    if (current.sasExpiresAt && Date.parse(current.sasExpiresAt) > Date.parse(input.expiresAt))
      return undefined;
    return {
      ...current,
      sasExpiresAt: input.expiresAt,
      maintenance: {
        ...current.maintenance,
        sasIssuedAt: input.issuedAt,
        sasRenewAt: renewAt,
        sasRenewal: undefined,
      },
    };
  });
  return { renewAt };
}

/**
 * Counts a failed renewal, sets when the next attempt may run (exponential back-off, kept
 * before the current SAS's expiry) and tells the admin chat, with the expiry. Safe to run twice:
 * a failure already counted for this request is not counted (or told) again.
 */
export async function recordSasFailure(
  deps: Pick<SasDependencies, 'config' | 'registry' | 'chat'>,
  input: SasFailureInput,
): Promise<SasFailureOutput> {
  const { config, registry } = deps;
  const { target } = input;
  const record = await registry.get(target.slug);
  const previous = record?.maintenance?.sasRenewal;
  if (previous?.lastError.startsWith(`[${target.requestId}]`)) {
    return {
      failures: previous.failures,
      retryAt: previous.retryAt,
      currentExpiresAt: record?.sasExpiresAt,
    };
  }
  const failures = (previous?.failures ?? 0) + 1;
  const retryAt = sasRetryAt({
    now: input.now,
    failures,
    initialMs: config.sas.retryInitialMs,
    maxMs: config.sas.retryMaxMs,
    currentExpiresAt: record?.sasExpiresAt,
  });
  const expiry = record?.sasExpiresAt
    ? `The current SAS expires at ${record.sasExpiresAt} (in ${hoursUntil(record.sasExpiresAt, input.now)} h)`
    : 'There is no current SAS';
  await deps.chat.tell(
    `claw-broker: renewing the log-shipping SAS of ${target.slug} failed (attempt ${failures}): ${input.error}. ${expiry}; the next attempt runs after ${retryAt}.`,
  );
  await registry.update(target.slug, (current) =>
    current
      ? {
          ...current,
          maintenance: {
            ...current.maintenance,
            sasRenewal: {
              failures,
              retryAt,
              lastError: `[${target.requestId}] ${input.error.slice(0, 300)}`,
            },
          },
        }
      : undefined,
  );
  return { failures, retryAt, currentExpiresAt: record?.sasExpiresAt };
}

/**
 * The renew-sas steps: a container-scoped, write-and-create-only SAS for the slug's log container,
 * signed with a user-delegation key obtained with the broker's own identity (never an account
 * key), stored in the slug's vault with its expiry as the version's expiry. Each step is safe to
 * run twice (it says how). Only times, versions and reasons leave a step.
 */
export function createSasSteps(deps: SasDependencies) {
  return {
    plan: (input: SasPlanInput) => planSasRenewal(deps, input),
    grant: (input: SasGrantInput) => grantSasSigner(deps, input),
    issue: (input: SasIssueInput) => issueSas(deps, input),
    record: (input: SasRecordInput) => recordSas(deps, input),
    recordFailure: (input: SasFailureInput) => recordSasFailure(deps, input),
  };
}

export type SasSteps = ReturnType<typeof createSasSteps>;

function hoursUntil(iso: string, now: string): number {
  return Math.round(((Date.parse(iso) - Date.parse(now)) / 3_600_000) * 10) / 10;
}
