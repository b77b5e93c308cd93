import type { ContainerApp } from '@azure/arm-appcontainers';
import { azureFailureOf } from '../../azure/azureErrors.js';
import {
  configHash,
  ensureContainerApp,
  isImagePullUnauthorized,
  isKeyVaultReferenceUnreadable,
} from '../../azure/containerApps.js';
import { secretTags, secretUri } from '../../azure/keyVaultSecrets.js';
import { appInsightsConnectionString } from '../../azure/monitoring.js';
import {
  AUTH_SECRET_NAME,
  MAINTENANCE_APP_SECRETS,
  MAINTENANCE_SECRET_NAMES,
} from '../../domain/footprint.js';
import { BrokerError, ErrorCodes, isBrokerError } from '../../errors.js';
import { assertConfigPassesAudit } from '../../openclaw/auditConfig.js';
import { buildContainerAppSpec } from '../../openclaw/containerAppSpec.js';
import { renderNginxConfig } from '../../openclaw/nginxConfig.js';
import { openClawVersionSupport } from '../../openclaw/versions.js';
import type { StepInput } from '../contracts.js';
import { appFqdn, asProvisionOutcome, done, need, type StepContext } from './context.js';

/**
 * Renders openclaw.json for the app's real host name and the NGINX sidecar config, audits the
 * config again (nothing that fails the audit is ever deployed), builds the app body and deploys
 * it when it differs from what runs. A deployment that fails because the gateway identity
 * cannot read Key Vault yet (role propagation) is "not yet"; the next attempt makes a new
 * revision. Idempotent: ensureContainerApp compares before it writes.
 */
export function containerAppStep(ctx: StepContext, input: StepInput) {
  const { config, azure, render, slugVault } = ctx;
  return asProvisionOutcome(async () => {
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
      image: {
        repository,
        version: plan.openclawVersion,
        ...(plan.imageDigest ? { digest: plan.imageDigest } : {}),
      },
      keyVaultSecrets: {
        gatewayToken: secrets.gatewayToken,
        ...(secrets.telegramBotToken ? { telegramBotToken: secrets.telegramBotToken } : {}),
        ...(secrets.telegramWebhookSecret ? { telegramWebhookSecret: secrets.telegramWebhookSecret } : {}),
        ...(secrets.foundryApiKey ? { foundryApiKey: secrets.foundryApiKey } : {}),
        // Teams: the slug's app registration is the bot's identity, its client secret the password.
        ...(plan.channels.includes('teams') ? { teamsAppPassword: entra.clientSecretUri } : {}),
      },
      openclawConfig,
      nginxConfig,
      ...(plan.channels.includes('teams') ? { teams: { appId: entra.appId, tenantId: plan.tenantId } } : {}),
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
      if (ensured.waiting) return { status: 'not-yet', reason: ensured.waiting };
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
  });
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
