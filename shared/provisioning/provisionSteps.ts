import { randomBytes } from 'node:crypto';
import type { AuthConfig, ContainerApp } from '@azure/arm-appcontainers';
import type { AzureClients } from '../azure/azureClients.js';
import {
  configHash,
  ensureAuthConfig,
  ensureContainerApp,
  ensureEnvironmentStorage,
  ensureManagedEnvironment,
  isImagePullUnauthorized,
  isKeyVaultReferenceUnreadable,
} from '../azure/containerApps.js';
import type { Change } from '../azure/ensure.js';
import {
  BROKER_SECRET_DISPLAY_NAME,
  readRecorded,
  type EntraApplication,
  type EntraClient,
  type OwnedObjectKind,
} from '../azure/entra.js';
import { gatewayProbeUrl, type GatewayReadiness } from '../azure/gatewayProbe.js';
import { ensureKeyVault, keyVaultNameUsable } from '../azure/keyVault.js';
import {
  deleteAndPurgeSecret,
  ensureSecret,
  parseSecretUri,
  readSecret,
  secretTags,
  secretUri,
  writeSecret,
} from '../azure/keyVaultSecrets.js';
import { ensureManagedIdentity } from '../azure/managedIdentity.js';
import {
  appInsightsConnectionString,
  ensureAppInsights,
  ensureLogAnalyticsWorkspace,
  logAnalyticsNameReserved,
} from '../azure/monitoring.js';
import { ensureResourceGroup, listResourcesInGroup } from '../azure/resourceGroups.js';
import { BuiltInRoles, ensureRoleAssignment, type RoleGrant } from '../azure/roleAssignments.js';
import { ensureStorage, storageAccountKey, storageAccountNameUsable } from '../azure/storage.js';
import type { BrokerConfig } from '../config.js';
import {
  AUTH_SECRET_NAME,
  MAINTENANCE_APP_SECRETS,
  MAINTENANCE_SECRET_NAMES,
  MAX_INCARNATION,
  SLUG_SECRET_NAMES,
  footprintNames,
} from '../domain/footprint.js';
import { BrokerError, ErrorCodes, isBrokerError } from '../errors.js';
import { assertConfigPassesAudit } from '../openclaw/auditConfig.js';
import { buildContainerAppSpec } from '../openclaw/containerAppSpec.js';
import { renderNginxConfig } from '../openclaw/nginxConfig.js';
import {
  renderOpenClawConfig,
  type RenderOpenClawConfigInput,
  type RenderedOpenClawConfig,
} from '../openclaw/renderConfig.js';
import { openClawVersionSupport } from '../openclaw/versions.js';
import { isOwnStagedSecret, stagedSecretName, type StageableSecret } from '../intake/stagedSecrets.js';
import {
  entraObjectsOf,
  type EntraObjects,
  type EnvironmentRecord,
  type EnvironmentRegistry,
} from '../storage/environmentRegistry.js';
import {
  PROVISION_STEPS,
  type FinishInput,
  type PrepareInput,
  type PrepareOutput,
  type ProvisionPlan,
  type RecordFailureInput,
  type RecordFailureOutput,
  type ReportProgressInput,
  type SecretUris,
  type StepFacts,
  type StepInput,
} from './contracts.js';
import { asStepOutcome, done as stepDone, type StepOutcome } from '../operations/outcome.js';
import { azureFailureOf } from '../azure/azureErrors.js';

/** What the provisioning steps need from the outside world; tests pass their own. */
export interface ProvisionDependencies {
  config: BrokerConfig;
  azure: AzureClients;
  entra: EntraClient;
  registry: EnvironmentRegistry;
  brokerPrincipalId(): Promise<string>;
  probe(url: string): Promise<GatewayReadiness>;
  /** Defaults to renderOpenClawConfig; a test can make it render a config that fails the audit. */
  renderConfig?: (input: RenderOpenClawConfigInput) => RenderedOpenClawConfig;
}

/** 32 random bytes, hex: the gateway token's form (OpenClaw's audit wants at least 24 characters). */
function randomHexToken(): string {
  return randomBytes(32).toString('hex');
}

/** Provisioning's `done` always lists its changes (none is an empty list). */
const done = <T>(value: T, changes: (Change | undefined)[] = []): StepOutcome<T> => stepDone(value, changes);

/** Every provisioning step may read Entra objects this run just created (isReplicationLag). */
export const asProvisionOutcome = <T>(body: () => Promise<StepOutcome<T>>): Promise<StepOutcome<T>> =>
  asStepOutcome(body, { freshEntraObjects: true });

/**
 * The provisioning steps, each safe to run twice (it says how). Activities in
 * functions/provisionActivities.ts call these; the orchestration in orchestrations/provision.ts
 * decides the order.
 */
export function createProvisionSteps(deps: ProvisionDependencies) {
  const { azure, config, registry } = deps;
  const render = deps.renderConfig ?? renderOpenClawConfig;
  const pollMs = config.azure.lroPollIntervalMs;

  const need = <K extends keyof StepFacts>(input: StepInput, key: K): StepFacts[K] => {
    const fact = input.facts[key];
    if (!fact) throw new Error(`step input lacks the facts of ${key}`);
    return fact;
  };
  const slugVault = (input: StepInput) => azure.secrets(need(input, 'keyVault').vaultUri);
  /** Reads of resources in a group this run created are skipped: they cannot exist yet. */
  const fresh = (input: StepInput) => ({ inNewGroup: input.facts.resourceGroup?.created === true });

  return {
    /**
     * Decides the incarnation and the names, audits the config that will be rendered (before
     * anything is deployed) and marks the environment busy. Safe to run twice: it reads, and writes
     * the registry record with the same values. A slug seen for the first time (or after teardown)
     * gets the next incarnation whose Key Vault, storage and Log Analytics names are free: names
     * held by soft-deleted resources of an earlier life are skipped.
     */
    async prepare(input: PrepareInput): Promise<PrepareOutput> {
      const { request } = input;
      const params = request.params;
      const version = params.openclawVersion ?? config.openclaw.defaultVersion;
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

      const current = await registry.get(request.slug);
      const missing = missingSecretParams(request, current);
      if (missing) return { status: 'refused', reason: missing };
      let incarnation =
        current && current.state !== 'deleted' ? current.incarnation : (current?.incarnation ?? 0) + 1;
      if (!current || current.state === 'deleted') {
        incarnation = await firstUsableIncarnation(request.slug, incarnation);
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
    },

    /** Idempotent: ensureResourceGroup reads first and refuses a group it does not own. */
    resourceGroup: (input: StepInput) =>
      asProvisionOutcome(async () => {
        const { plan } = input;
        const ensured = await ensureResourceGroup(azure, {
          name: plan.names.resourceGroup,
          slug: plan.slug,
          location: plan.location,
        });
        return done(ensured.value, [ensured.change]);
      }),

    identity: (input: StepInput) =>
      asProvisionOutcome(async () => {
        const { plan } = input;
        const ensured = await ensureManagedIdentity(
          azure,
          {
            resourceGroup: plan.names.resourceGroup,
            name: plan.names.managedIdentity,
            slug: plan.slug,
            location: plan.location,
          },
          fresh(input),
        );
        return done(ensured.value, [ensured.change]);
      }),

    keyVault: (input: StepInput) =>
      asProvisionOutcome(async () => {
        const { plan } = input;
        const ensured = await ensureKeyVault(azure, {
          resourceGroup: plan.names.resourceGroup,
          name: plan.names.keyVault,
          slug: plan.slug,
          location: plan.location,
          tenantId: plan.tenantId,
        });
        return done(ensured.value, [ensured.change]);
      }),

    storage: (input: StepInput) =>
      asProvisionOutcome(async () => {
        const { plan } = input;
        const ensured = await ensureStorage(
          azure,
          {
            resourceGroup: plan.names.resourceGroup,
            accountName: plan.names.storageAccount,
            shareName: plan.names.stateFileShare,
            containerName: plan.names.logContainer,
            slug: plan.slug,
            location: plan.location,
          },
          fresh(input),
        );
        return done(ensured.value, ensured.changes);
      }),

    logAnalytics: (input: StepInput) =>
      asProvisionOutcome(async () => {
        const { plan } = input;
        const ensured = await ensureLogAnalyticsWorkspace(
          azure,
          {
            resourceGroup: plan.names.resourceGroup,
            name: plan.names.logAnalyticsWorkspace,
            slug: plan.slug,
            location: plan.location,
          },
          fresh(input),
        );
        return done(ensured.value, [ensured.change]);
      }),

    /**
     * The gateway identity gets Key Vault Secrets User on the vault and AcrPull on the image
     * registry; the broker gets Key Vault Secrets Officer on the vault (to write the slug's
     * secrets). Idempotent: deterministic assignment names, read before written. A principal ARM
     * does not know yet makes the step "not yet" after the other grants are made.
     */
    roleAssignments: (input: StepInput) =>
      asProvisionOutcome(async () => {
        const identity = need(input, 'identity');
        const vault = need(input, 'keyVault');
        const broker = await deps.brokerPrincipalId();
        const grants: RoleGrant[] = [
          {
            label: 'gateway identity: Key Vault Secrets User',
            scope: vault.id,
            roleDefinitionGuid: BuiltInRoles.keyVaultSecretsUser,
            principalId: identity.principalId,
          },
          {
            label: 'gateway identity: AcrPull',
            scope: config.image.registryId,
            roleDefinitionGuid: BuiltInRoles.acrPull,
            principalId: identity.principalId,
          },
          {
            label: 'broker: Key Vault Secrets Officer',
            scope: vault.id,
            roleDefinitionGuid: BuiltInRoles.keyVaultSecretsOfficer,
            principalId: broker,
          },
        ];
        // Grants on the vault are new with a new group; the registry's lie outside it and are read.
        const outcomes = await Promise.all(
          grants.map((grant) =>
            ensureRoleAssignment(azure, grant, grant.scope === vault.id ? fresh(input) : {}),
          ),
        );
        const pending = outcomes.flatMap((outcome) =>
          outcome.status === 'principal-not-found' ? [outcome.message] : [],
        );
        if (pending.length > 0) return { status: 'not-yet', reason: pending.join('; ') };
        return done(
          { granted: grants.length },
          outcomes.map((outcome) => (outcome.status === 'present' ? outcome.change : undefined)),
        );
      }),

    appInsights: (input: StepInput) =>
      asProvisionOutcome(async () => {
        const { plan } = input;
        const ensured = await ensureAppInsights(
          azure,
          {
            resourceGroup: plan.names.resourceGroup,
            name: plan.names.applicationInsights,
            slug: plan.slug,
            location: plan.location,
            workspaceId: need(input, 'logAnalytics').id,
          },
          fresh(input),
        );
        return done(ensured.value, [ensured.change]);
      }),

    /** The environment, shipping its logs to the workspace. Idempotent: read first. */
    managedEnvironment: (input: StepInput) =>
      asProvisionOutcome(async () => {
        const { plan } = input;
        const { names } = plan;
        const ensured = await ensureManagedEnvironment(
          azure,
          {
            resourceGroup: names.resourceGroup,
            name: names.managedEnvironment,
            slug: plan.slug,
            location: plan.location,
            workspace: {
              resourceGroup: names.resourceGroup,
              name: names.logAnalyticsWorkspace,
              customerId: need(input, 'logAnalytics').customerId,
            },
          },
          fresh(input),
        );
        return done(ensured.value, [ensured.change]);
      }),

    /** The state share registered on the environment, for the app to mount. Idempotent: read first. */
    environmentStorage: (input: StepInput) =>
      asProvisionOutcome(async () => {
        const { names } = input.plan;
        need(input, 'managedEnvironment');
        const change = await ensureEnvironmentStorage(
          azure,
          {
            resourceGroup: names.resourceGroup,
            environmentName: names.managedEnvironment,
            storageName: names.environmentStorage,
            accountName: need(input, 'storage').accountName,
            shareName: names.stateFileShare,
          },
          fresh(input),
        );
        return done({ storageName: names.environmentStorage }, [change]);
      }),

    /**
     * The slug's secrets in its vault, each written only when absent: the gateway token (32
     * random bytes, hex, generated here), the Telegram webhook secret, the storage account key, and
     * the secrets the request staged in the broker's vault (moved: copied, then the staged copy
     * deleted and purged). Returns versionless secret URIs only. While the broker's Key Vault role
     * has not propagated the vault answers 403 and the step is "not yet". Safe to run twice: every
     * write is conditional on absence, and a staged secret already moved is found in the slug's
     * vault.
     */
    secrets: (input: StepInput) =>
      asProvisionOutcome(async () => {
        const { plan } = input;
        const vault = slugVault(input);
        const vaultUri = need(input, 'keyVault').vaultUri;
        const changes: Change[] = [];
        const setAt: Record<string, string> = {};
        const now = () => new Date().toISOString();
        const track = (kind: string, wrote: boolean) => {
          if (!wrote) return;
          setAt[kind] = now();
          changes.push({ resource: `secret ${kind} in ${plan.names.keyVault}`, action: 'created' });
        };

        track('gateway-token', await ensureSecret(vault, SLUG_SECRET_NAMES.gatewayToken, randomHexToken));
        if ((await readSecret(vault, SLUG_SECRET_NAMES.storageKey)) === undefined) {
          const key = await storageAccountKey(azure, {
            resourceGroup: plan.names.resourceGroup,
            accountName: need(input, 'storage').accountName,
          });
          await writeSecret(vault, SLUG_SECRET_NAMES.storageKey, key, {}, pollMs);
          track('storage-key', true);
        }
        const uris: SecretUris = {
          gatewayToken: secretUri(vaultUri, SLUG_SECRET_NAMES.gatewayToken),
          storageKey: secretUri(vaultUri, SLUG_SECRET_NAMES.storageKey),
        };
        if (plan.channels.includes('telegram')) {
          track(
            'telegram-bot-token',
            await moveStagedSecret(
              plan.telegramBotTokenRef,
              'telegramBotToken',
              plan.requestId,
              vault,
              SLUG_SECRET_NAMES.telegramBotToken,
              'telegramBotToken',
            ),
          );
          track(
            'telegram-webhook-secret',
            await ensureSecret(vault, SLUG_SECRET_NAMES.telegramWebhookSecret, randomHexToken),
          );
          uris.telegramBotToken = secretUri(vaultUri, SLUG_SECRET_NAMES.telegramBotToken);
          uris.telegramWebhookSecret = secretUri(vaultUri, SLUG_SECRET_NAMES.telegramWebhookSecret);
        }
        if (plan.foundry) {
          track(
            'foundry-api-key',
            await moveStagedSecret(
              plan.foundry.apiKeyRef,
              'foundryApiKey',
              plan.requestId,
              vault,
              SLUG_SECRET_NAMES.foundryApiKey,
              'foundry.apiKey',
            ),
          );
          uris.foundryApiKey = secretUri(vaultUri, SLUG_SECRET_NAMES.foundryApiKey);
        }
        if (Object.keys(setAt).length > 0) {
          await registry.update(plan.slug, (record) =>
            record ? { ...record, secretAges: { ...record.secretAges, ...setAt } } : undefined,
          );
        }
        return done(uris, changes);
      }),

    /**
     * The slug's Entra objects: the app registration `claw-<slug>` (ID tokens with group claims,
     * the app's sign-in callback as redirect URI), its service principal, the group
     * `shire-<slug>`, and a client secret kept in the slug's vault (tagged with its key id).
     * Idempotent: each object is looked up by name first, and one found is adopted only when the
     * broker owns it in Entra (EntraClient.ownedBy); an app or group of that name that someone else owns fails
     * the step (ResourceNotOwned) before anything is created or changed. The broker creates the group
     * with itself as owner and adds itself as owner of the app it creates. The client secret is added
     * only when the vault holds none that the app still knows; client secrets the broker added
     * earlier but never stored (a crash between the two calls) are removed first, so they never
     * pile up.
     *
     * Entra is eventually consistent (isReplicationLag): for a while a fresh object is missing from
     * lookups by name and its owner reference from `ownedObjects`, and calls on it by id answer 404.
     * So each object's id is written to the registry (`entraObjects`) the moment it is created or
     * adopted, and later attempts read it by id, never by name again (no second app or group, no
     * "not owned" for the broker's own object); a 404 on it within the propagation timeout of its
     * creation, and any replication answer on a call, make the step "not yet".
     */
    entra: (input: StepInput) =>
      asProvisionOutcome(async () => {
        const { plan } = input;
        const { names } = plan;
        const vault = slugVault(input);
        const vaultUri = need(input, 'keyVault').vaultUri;
        const redirectUri = `https://${appFqdn(input)}/.auth/login/aad/callback`;
        const changes: Change[] = [];
        const brokerId = await deps.brokerPrincipalId();
        let objects: EntraObjects = entraObjectsOf(await registry.get(plan.slug), plan.incarnation) ?? {
          incarnation: plan.incarnation,
        };
        const remember = async (next: EntraObjects) => {
          objects = next;
          await registry.update(plan.slug, (record) =>
            record ? { ...record, entraObjects: next } : undefined,
          );
        };
        /**
         * The object this incarnation recorded, read by id (a 404 soon after its creation is
         * replication; later, it was deleted and the name is looked up again); otherwise the one of
         * that name, adopted only when the broker owns it.
         */
        const resolve = async <T extends { id: string }>(
          kind: OwnedObjectKind,
          name: string,
          entry: { id: string; at: string } | undefined,
          read: (id: string) => Promise<T | undefined>,
          find: () => Promise<T | undefined>,
        ): Promise<{ found: T | undefined; recorded: boolean }> => {
          const recorded = await readRecorded(kind, entry, read, config.provisioning.propagationTimeoutMs);
          if (recorded) return { found: recorded, recorded: true };
          const found = await find();
          if (found && !(await deps.entra.ownedBy(brokerId, found.id))) {
            throw notOwned(kind, name, found.id, brokerId);
          }
          return { found, recorded: false };
        };

        const resolvedApp = await resolve(
          'application',
          names.entraApplication,
          objects.application,
          (id) => deps.entra.getApplication(id),
          () => deps.entra.findApplication(names.entraApplication),
        );
        let app: EntraApplication | undefined = resolvedApp.found;
        const appRecorded = resolvedApp.recorded;
        const resolvedGroup = await resolve(
          'group',
          names.entraGroup,
          objects.group,
          (id) => deps.entra.getGroup(id),
          () => deps.entra.findGroup(names.entraGroup),
        );
        let group = resolvedGroup.found;
        const groupRecorded = resolvedGroup.recorded;
        const stored = await secretTags(vault, SLUG_SECRET_NAMES.entraClientSecret);

        const body = {
          displayName: names.entraApplication,
          signInAudience: 'AzureADMyOrg' as const,
          groupMembershipClaims: 'SecurityGroup' as const,
          web: { redirectUris: [redirectUri], implicitGrantSettings: { enableIdTokenIssuance: true } },
        };
        const appChange = {
          resource: `Entra application ${names.entraApplication}`,
          action: 'created' as const,
        };
        const groupChange = { resource: `Entra group ${names.entraGroup}`, action: 'created' as const };
        if (!app) {
          app = await deps.entra.createApplication(body);
          const at = new Date().toISOString();
          await remember({
            ...objects,
            application: { id: app.id, at, createdBy: plan.requestId, ownerAdded: false },
          });
          changes.push(appChange);
        } else {
          if (!appRecorded) {
            await remember({
              ...objects,
              application: { id: app.id, at: new Date().toISOString(), ownerAdded: true },
            });
          } else if (objects.application?.createdBy === plan.requestId) {
            changes.push(appChange); // An earlier attempt of this request created it.
          }
          if (!app.redirectUris.includes(redirectUri)) {
            await deps.entra.updateApplication(app.id, {
              web: { ...body.web, redirectUris: [...app.redirectUris, redirectUri] },
            });
            changes.push({
              resource: `Entra application ${names.entraApplication}`,
              action: 'updated',
              fields: ['web.redirectUris'],
            });
          }
        }
        if (objects.application && !objects.application.ownerAdded) {
          // False when Graph already had it (a tenant may make the creator an owner by itself).
          await deps.entra.addApplicationOwner(app.id, brokerId);
          await remember({ ...objects, application: { ...objects.application, ownerAdded: true } });
        }
        if (!(await deps.entra.findServicePrincipal(app.appId))) {
          if (await deps.entra.createServicePrincipal(app.appId)) {
            changes.push({ resource: `service principal of ${names.entraApplication}`, action: 'created' });
          }
        }
        if (!group) {
          group = await deps.entra.createGroup(
            names.entraGroup,
            `Users of the OpenClaw environment ${plan.slug}`,
            brokerId,
          );
          const at = new Date().toISOString();
          await remember({ ...objects, group: { id: group.id, at, createdBy: plan.requestId } });
          changes.push(groupChange);
        } else if (!groupRecorded) {
          await remember({ ...objects, group: { id: group.id, at: new Date().toISOString() } });
        } else if (objects.group?.createdBy === plan.requestId) {
          changes.push(groupChange); // An earlier attempt of this request created it.
        }
        const storedKeyId = stored?.['keyId'];
        const secretKnown = app.passwordCredentials.some((credential) => credential.keyId === storedKeyId);
        if (!secretKnown) {
          for (const orphan of app.passwordCredentials.filter(
            (c) => c.displayName === BROKER_SECRET_DISPLAY_NAME,
          )) {
            await deps.entra.removePassword(app.id, orphan.keyId);
          }
          const password = await deps.entra.addPassword(app.id, BROKER_SECRET_DISPLAY_NAME);
          await writeSecret(
            vault,
            SLUG_SECRET_NAMES.entraClientSecret,
            password.secretText,
            { keyId: password.keyId },
            pollMs,
          );
          await registry.update(plan.slug, (record) =>
            record
              ? {
                  ...record,
                  secretAges: { ...record.secretAges, 'entra-client-secret': new Date().toISOString() },
                }
              : undefined,
          );
          changes.push({ resource: `client secret of ${names.entraApplication}`, action: 'created' });
        }
        if (objects.application?.createdBy !== undefined || objects.group?.createdBy !== undefined) {
          // Reported as created once, in this outcome; a later run adopts them.
          await remember({
            incarnation: objects.incarnation,
            application: objects.application && { ...objects.application, createdBy: undefined },
            group: objects.group && { ...objects.group, createdBy: undefined },
          });
        }
        return done(
          {
            appId: app.appId,
            objectId: app.id,
            groupId: group.id,
            clientSecretUri: secretUri(vaultUri, SLUG_SECRET_NAMES.entraClientSecret),
          },
          changes,
        );
      }),

    /**
     * Renders openclaw.json for the app's real host name and the NGINX sidecar config, audits the
     * config again (nothing that fails the audit is ever deployed), builds the app body and deploys
     * it when it differs from what runs. A deployment that fails because the gateway identity
     * cannot read Key Vault yet (role propagation) is "not yet"; the next attempt makes a new
     * revision. Idempotent: ensureContainerApp compares before it writes.
     */
    containerApp: (input: StepInput) =>
      asProvisionOutcome(async () => {
        const { plan } = input;
        const identity = need(input, 'identity');
        const environment = need(input, 'managedEnvironment');
        const secrets = need(input, 'secrets');
        const entra = need(input, 'entra');
        const fqdn = appFqdn(input);
        const openclawConfig = render({
          version: plan.openclawVersion,
          appFqdn: fqdn,
          channels: plan.channels,
          // The broker's /devices command and the gateway-token check after a rotation use the
          // bundled admin RPC plugin; a version without it gets no plugin entry (its schema would
          // still accept one, but the route would not exist).
          adminRpc: openClawVersionSupport(plan.openclawVersion).adminRpcPlugin,
          ...(plan.foundry
            ? { foundry: { endpoint: plan.foundry.endpoint, deployment: plan.foundry.deployment } }
            : {}),
        });
        try {
          assertConfigPassesAudit(openclawConfig.text, plan.openclawVersion);
        } catch (error) {
          if (isBrokerError(error)) throw new BrokerError(ErrorCodes.ConfigAuditFailed, error.message);
          throw error;
        }
        const nginxConfig = renderNginxConfig({ version: plan.openclawVersion, channels: plan.channels });
        const repository = config.image.repository;
        const spec = buildContainerAppSpec({
          names: plan.names,
          location: plan.location,
          managedEnvironmentId: environment.id,
          identity: { id: identity.id, clientId: identity.clientId },
          registryLoginServer: repository.split('/')[0]!,
          image: { repository, version: plan.openclawVersion },
          keyVaultSecrets: {
            gatewayToken: secrets.gatewayToken,
            ...(secrets.telegramBotToken ? { telegramBotToken: secrets.telegramBotToken } : {}),
            ...(secrets.telegramWebhookSecret
              ? { telegramWebhookSecret: secrets.telegramWebhookSecret }
              : {}),
            ...(secrets.foundryApiKey ? { foundryApiKey: secrets.foundryApiKey } : {}),
            // Teams: the slug's app registration is the bot's identity, its client secret the password.
            ...(plan.channels.includes('teams') ? { teamsAppPassword: entra.clientSecretUri } : {}),
          },
          openclawConfig,
          nginxConfig,
          ...(plan.channels.includes('teams')
            ? { teams: { appId: entra.appId, tenantId: plan.tenantId } }
            : {}),
        });
        const connectionString = await appInsightsConnectionString(azure, {
          resourceGroup: plan.names.resourceGroup,
          name: plan.names.applicationInsights,
        });
        const withEdgeAuth = withEdgeAuthSecret(spec, entra.clientSecretUri, identity.id, connectionString);
        // Keep the log-shipping SAS reference renew-sas added (it appends it last), or a convergence
        // run would drop it and flag the app as drifted.
        const logSas = await secretTags(slugVault(input), MAINTENANCE_SECRET_NAMES.logShippingSas);
        const withAuth: ContainerApp = logSas
          ? {
              ...withEdgeAuth,
              configuration: {
                ...withEdgeAuth.configuration,
                secrets: [
                  ...(withEdgeAuth.configuration?.secrets ?? []),
                  {
                    name: MAINTENANCE_APP_SECRETS.logShippingSas,
                    keyVaultUrl: secretUri(
                      need(input, 'keyVault').vaultUri,
                      MAINTENANCE_SECRET_NAMES.logShippingSas,
                    ),
                    identity: identity.id,
                  },
                ],
              },
            }
          : withEdgeAuth;
        try {
          const ensured = await ensureContainerApp(azure, {
            resourceGroup: plan.names.resourceGroup,
            name: plan.names.containerApp,
            spec: withAuth,
            configHash: configHash(openclawConfig.text, nginxConfig.text),
          });
          return done(ensured.value, [ensured.change]);
        } catch (error) {
          const failure = azureFailureOf(error);
          if (isKeyVaultReferenceUnreadable(failure)) {
            return {
              status: 'not-yet',
              reason: `the gateway identity cannot read Key Vault yet: ${failure.message}`,
            };
          }
          const registry = repository.split('/')[0]!;
          if (isImagePullUnauthorized(failure, registry)) {
            return {
              status: 'not-yet',
              reason: `the gateway identity cannot pull from ${registry} yet (AcrPull propagating): ${failure.message}`,
            };
          }
          throw error;
        }
      }),

    /**
     * Container Apps built-in auth: Microsoft sign-in for everything except the bot webhook paths
     * and the readiness probe, access only for `shire-admins`, `shire-<slug>` and the request's
     * explicit identities. Idempotent: read first.
     */
    authConfig: (input: StepInput) =>
      asProvisionOutcome(async () => {
        const { plan } = input;
        const entra = need(input, 'entra');
        const support = openClawVersionSupport(plan.openclawVersion);
        const nginx = renderNginxConfig({ version: plan.openclawVersion, channels: plan.channels });
        const webhookPaths = nginx.routes
          .map((route) => route.location)
          .filter((location) => location.startsWith('= '))
          .map((location) => location.slice(2));
        const excludedPaths = [...webhookPaths, support.probes.readiness];
        const authority = config.azure.authorityHost.replace(/\/+$/, '');
        const desired: AuthConfig = {
          platform: { enabled: true },
          globalValidation: {
            unauthenticatedClientAction: 'RedirectToLoginPage',
            redirectToProvider: 'azureactivedirectory',
            excludedPaths,
          },
          identityProviders: {
            azureActiveDirectory: {
              enabled: true,
              registration: {
                clientId: entra.appId,
                clientSecretSettingName: AUTH_SECRET_NAME,
                openIdIssuer: `${authority}/${plan.tenantId}/v2.0`,
              },
              validation: {
                allowedAudiences: [`api://${entra.appId}`, entra.appId],
                defaultAuthorizationPolicy: {
                  allowedPrincipals: {
                    groups: [config.entra.adminGroupId, entra.groupId, ...plan.allowedIdentities],
                    identities: [...plan.allowedIdentities],
                  },
                },
              },
            },
          },
        };
        const change = await ensureAuthConfig(
          azure,
          {
            resourceGroup: plan.names.resourceGroup,
            appName: plan.names.containerApp,
            desired,
          },
          fresh(input),
        );
        return done({ excludedPaths }, [change]);
      }),

    /** One look at the gateway's readiness path; "not yet" until it answers 2xx. Reads only. */
    readiness: (input: StepInput) =>
      asProvisionOutcome(async () => {
        const { plan } = input;
        const app = need(input, 'containerApp');
        const path = openClawVersionSupport(plan.openclawVersion).probes.readiness;
        const url = gatewayProbeUrl(
          config.openclaw.gatewayUrlTemplate,
          { fqdn: app.fqdn, name: plan.names.containerApp },
          path,
        );
        const answer = await deps.probe(url);
        if (!answer.ready) return { status: 'not-yet', reason: `${path} answered ${answer.reason}` };
        return done({ url });
      }),

    /** Marks the environment ready with its URL and version. Safe to run twice: it sets values. */
    async finish(input: FinishInput): Promise<void> {
      const { plan } = input;
      const fqdn = input.facts.containerApp?.fqdn;
      await registry.update(plan.slug, (record) => ({
        ...baseRecord(record, plan),
        state: 'ready',
        incarnation: plan.incarnation,
        openclawVersion: plan.openclawVersion,
        url: fqdn ? `https://${fqdn}` : record?.url,
        owners: plan.owners,
        currentStep: undefined,
        progress: { done: PROVISION_STEPS.length, total: PROVISION_STEPS.length },
      }));
    },

    /**
     * Marks the environment failed and lists what exists in its resource group, for the failure
     * report. Safe to run twice: it sets values and reads.
     */
    async recordFailure(input: RecordFailureInput): Promise<RecordFailureOutput> {
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
    },

    /**
     * Shows the running step and done/total on the registry record. Safe to run twice and in any
     * order: it only moves progress forward, and only for the request that holds the environment.
     */
    async reportProgress(input: ReportProgressInput): Promise<void> {
      await registry.update(input.slug, (record) => {
        if (!record || record.activeRequestId !== input.requestId) return undefined;
        if ((record.progress?.done ?? 0) > input.done) return undefined;
        return { ...record, currentStep: input.step, progress: { done: input.done, total: input.total } };
      });
    },
  };

  async function firstUsableIncarnation(slug: string, from: number): Promise<number> {
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
   * Moves a secret the request staged in the broker's vault into the slug's vault under `name`,
   * then deletes the staged copy. Returns true when it wrote. Safe to run twice: when the staged
   * copy is gone, a secret already in the slug's vault means it was moved before.
   *
   * The intake already refused any reference but this request's own staged secret; this checks
   * again and never opens the vault the reference names: it reads the staging name derived from the
   * request id in the configured broker vault, so no reference can reach another slug's vault, the
   * broker's own secrets or another host.
   */
  async function moveStagedSecret(
    stagedRef: string | undefined,
    secret: StageableSecret,
    requestId: string,
    vault: ReturnType<AzureClients['secrets']>,
    name: string,
    param: string,
  ): Promise<boolean> {
    if (
      stagedRef !== undefined &&
      !isOwnStagedSecret(stagedRef, config.stagingKeyVaultUri, requestId, secret)
    ) {
      throw new BrokerError(
        ErrorCodes.SecretReferenceRefused,
        `${param} may only refer to the secret staged for request ${requestId} in the broker's Key Vault`,
      );
    }
    const current = await readSecret(vault, name);
    if (stagedRef) {
      const staging = azure.secrets(config.stagingKeyVaultUri);
      const stagedName = stagedSecretName(requestId, secret);
      const value = await readSecret(staging, stagedName, parseSecretUri(stagedRef).version);
      if (value !== undefined) {
        const wrote = value !== current;
        if (wrote) await writeSecret(vault, name, value, {}, pollMs);
        await deleteAndPurgeSecret(staging, stagedName, pollMs);
        return wrote;
      }
      // Moved before; a crash between the delete and the purge may have left a deleted copy.
      await deleteAndPurgeSecret(staging, stagedName, pollMs);
    }
    if (current !== undefined) return false;
    throw new BrokerError(
      ErrorCodes.StagedSecretMissing,
      stagedRef
        ? `${param} references the secret staged for request ${requestId}, which is not in the broker's Key Vault, and the slug's vault has no ${name}`
        : `${param} is required: the slug's vault has no ${name} yet`,
    );
  }
}

export type ProvisionSteps = ReturnType<typeof createProvisionSteps>;

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

/** The definitive failure for an Entra object of the footprint's name that the broker does not own. */
function notOwned(kind: OwnedObjectKind, name: string, id: string, brokerId: string): BrokerError {
  return new BrokerError(
    ErrorCodes.ResourceNotOwned,
    `Entra ${kind} ${name} exists but is not owned by claw-broker (object id ${id}; the broker is ${brokerId}): rename or remove it, or add the broker as an owner`,
  );
}

function appFqdn(input: StepInput): string {
  const environment = input.facts.managedEnvironment;
  if (!environment) throw new Error('step input lacks the facts of managedEnvironment');
  return `${input.plan.names.containerApp}.${environment.defaultDomain}`;
}

/**
 * Adds what buildContainerAppSpec leaves to the broker: the Entra client secret as a Key Vault
 * reference for built-in auth, and the Application Insights connection string (not a secret) for
 * the gateway's telemetry.
 */
function withEdgeAuthSecret(
  spec: ContainerApp,
  clientSecretUri: string,
  identityId: string,
  connectionString: string | undefined,
): ContainerApp {
  const containers = (spec.template?.containers ?? []).map((container, index) =>
    index === 0 && connectionString
      ? {
          ...container,
          env: [
            ...(container.env ?? []),
            { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: connectionString },
          ],
        }
      : container,
  );
  return {
    ...spec,
    configuration: {
      ...spec.configuration,
      secrets: [
        ...(spec.configuration?.secrets ?? []),
        { name: AUTH_SECRET_NAME, keyVaultUrl: clientSecretUri, identity: identityId },
      ],
    },
    template: { ...spec.template, containers },
  };
}

function baseRecord(
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
