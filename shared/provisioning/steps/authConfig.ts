import type { AuthConfig } from '@azure/arm-appcontainers';
import { ensureAuthConfig } from '../../azure/containerApps.js';
import { AUTH_SECRET_NAME } from '../../domain/footprint.js';
import { renderNginxConfig } from '../../openclaw/nginxConfig.js';
import { openClawVersionSupport } from '../../openclaw/versions.js';
import type { StepInput } from '../contracts.js';
import { asProvisionOutcome, done, fresh, need, type StepContext } from './context.js';

/**
 * Container Apps built-in auth: Microsoft sign-in for everything except the bot webhook paths
 * and the readiness probe, access only for `shire-admins`, `shire-<slug>` and the request's
 * explicit identities. Idempotent: read first.
 */
export function authConfigStep(ctx: StepContext, input: StepInput) {
  const { config, azure } = ctx;
  return asProvisionOutcome(async () => {
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
  });
}
