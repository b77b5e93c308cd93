import type { ContainerApp } from '@azure/arm-appcontainers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { azureFailureOf } from '../../shared/azure/azureErrors.js';
import {
  CONFIG_HASH_TAG,
  ensureAuthConfig,
  ensureContainerApp,
  ensureEnvironmentStorage,
  ensureManagedEnvironment,
  isImagePullUnauthorized,
  isKeyVaultReferenceUnreadable,
} from '../../shared/azure/containerApps.js';
import { ensureKeyVault } from '../../shared/azure/keyVault.js';
import { writeSecret } from '../../shared/azure/keyVaultSecrets.js';
import { ensureManagedIdentity } from '../../shared/azure/managedIdentity.js';
import { ensureLogAnalyticsWorkspace } from '../../shared/azure/monitoring.js';
import { ensureResourceGroup } from '../../shared/azure/resourceGroups.js';
import { BuiltInRoles, ensureRoleAssignment } from '../../shared/azure/roleAssignments.js';
import { ensureStorage } from '../../shared/azure/storage.js';
import { appSecretValue, reapplySecretReferences } from '../../shared/maintenance/appDelivery.js';
import { footprintNames } from '../../shared/domain/footprint.js';
import { buildContainerAppSpec } from '../../shared/openclaw/containerAppSpec.js';
import { renderNginxConfig } from '../../shared/openclaw/nginxConfig.js';
import { renderOpenClawConfig } from '../../shared/openclaw/renderConfig.js';
import { startAzureFixture, type AzureFixture } from './azureFixture.js';

/**
 * Contract tests of the Container Apps adapters: the environment (logs to Log Analytics, the state
 * share registered with a key ARM never returns), the app (compared before it is written, a failed
 * revision redeployed) and built-in auth.
 */
let t: AzureFixture;
const rg = 'claw-apps';
const base = { resourceGroup: rg, slug: 'apps', location: 'westeurope' };
let environmentId: string;
let identity: { id: string; principalId: string; clientId: string };
let vaultUri: string;

function appSpec(maxReplicas = 1): ContainerApp {
  return {
    location: 'westeurope',
    tags: { 'managed-by': 'claw-broker', 'claw-broker-slug': 'apps' },
    identity: { type: 'UserAssigned', userAssignedIdentities: { [identity.id]: {} } },
    managedEnvironmentId: environmentId,
    configuration: {
      activeRevisionsMode: 'Single',
      ingress: { external: true, targetPort: 8080 },
      secrets: [
        { name: 'gateway-token', keyVaultUrl: `${vaultUri}secrets/gateway-token`, identity: identity.id },
        { name: 'openclaw-config', value: '{"gateway":{}}' },
      ],
    },
    template: {
      containers: [
        {
          name: 'openclaw',
          image: 'ghcr.io/openclaw/openclaw:2026.9.6',
          env: [{ name: 'OPENCLAW_GATEWAY_TOKEN', secretRef: 'gateway-token' }],
        },
      ],
      scale: { minReplicas: 1, maxReplicas },
    },
  };
}

beforeAll(async () => {
  t = await startAzureFixture({ dataPlanePropagationSeconds: 30 });
  await ensureResourceGroup(t.azure, { name: rg, slug: 'apps', location: 'westeurope' });
  const workspace = await ensureLogAnalyticsWorkspace(t.azure, { ...base, name: 'log-apps-1' });
  await ensureStorage(t.azure, {
    ...base,
    accountName: 'stapps1',
    shareName: 'openclaw-state',
    containerName: 'openclaw-logs',
  });
  const environment = await ensureManagedEnvironment(t.azure, {
    ...base,
    name: 'cae-apps',
    workspace: { resourceGroup: rg, name: 'log-apps-1', customerId: workspace.value.customerId },
  });
  environmentId = environment.value.id;
  identity = (await ensureManagedIdentity(t.azure, { ...base, name: 'id-apps' })).value;
  const vault = await ensureKeyVault(t.azure, { ...base, name: 'kv-apps-1', tenantId: t.sim.tenantId });
  vaultUri = vault.value.vaultUri;
  t.sim.grantRole(t.sim.broker.objectId, 'Key Vault Secrets Officer', vault.value.id, {
    createdAt: t.sim.clock.now() - 3_600_000,
  });
  await writeSecret(t.azure.secrets(vaultUri), 'gateway-token', 'a'.repeat(64));
  await ensureRoleAssignment(t.azure, {
    label: 'gateway',
    scope: vault.value.id,
    principalId: identity.principalId,
    roleDefinitionGuid: BuiltInRoles.keyVaultSecretsUser,
  });
});

afterAll(async () => {
  await t?.sim.stop();
});

describe('Container Apps', () => {
  it('ships the environment’s logs to the workspace and registers the state share once, never reading its key back', async () => {
    const environment = await t.azure.containerApps.managedEnvironments.get(rg, 'cae-apps');
    expect(environment.appLogsConfiguration?.destination).toBe('log-analytics');
    const input = {
      resourceGroup: rg,
      environmentName: 'cae-apps',
      storageName: 'openclawstate',
      accountName: 'stapps1',
      shareName: 'openclaw-state',
    };
    expect(await ensureEnvironmentStorage(t.azure, input)).toMatchObject({ action: 'created' });
    const before = t.lastSeq();
    expect(await ensureEnvironmentStorage(t.azure, input)).toBeUndefined();
    expect(t.armWrites(before)).toEqual([]);
    const stored = await t.azure.containerApps.managedEnvironmentsStorages.get(
      rg,
      'cae-apps',
      'openclawstate',
    );
    expect(stored.properties?.azureFile).toEqual({
      accountName: 'stapps1',
      shareName: 'openclaw-state',
      accessMode: 'ReadWrite',
    });
  });

  it('takes an environment whose GET leaves out the log destination (as the 2025-07-01 examples do) by its workspace: no rewrite', async () => {
    const input = {
      ...base,
      name: 'cae-apps',
      workspace: {
        resourceGroup: rg,
        name: 'log-apps-1',
        customerId: (await t.azure.containerApps.managedEnvironments.get(rg, 'cae-apps'))
          .appLogsConfiguration!.logAnalyticsConfiguration!.customerId!,
      },
    };
    const environment = t.sim.arm.get(environmentId)!;
    const logs = (environment.body['properties'] as { appLogsConfiguration: Record<string, unknown> })
      .appLogsConfiguration;
    const destination = logs['destination'];
    delete logs['destination'];
    try {
      const before = t.lastSeq();
      expect((await ensureManagedEnvironment(t.azure, input)).change).toBeUndefined();
      expect(t.armWrites(before)).toEqual([]);
    } finally {
      logs['destination'] = destination;
    }
  });

  it('tells a Key Vault reference the app identity cannot read yet, in both of Azure’s shapes, and redeploys the failed revision once it can', async () => {
    const deploy = () =>
      ensureContainerApp(t.azure, {
        resourceGroup: rg,
        name: 'ca-apps',
        spec: appSpec(),
        configHash: 'h1',
      }).catch((e: unknown) => e);
    // The simulator answers in turn: a synchronous 400, then a Failed operation (a failed revision).
    const refused = azureFailureOf(await deploy());
    expect(refused).toMatchObject({ code: 'InvalidParameterValueInContainerTemplate', status: 400 });
    expect(refused.message).toContain("Field 'configuration.secrets' is invalid");
    expect(isKeyVaultReferenceUnreadable(refused)).toBe(true);
    const failed = azureFailureOf(await deploy());
    expect(failed.code).toBe('ContainerAppOperationError');
    expect(failed.message).toMatch(
      /Failed to provision revision .* unable to get value using Managed identity/,
    );
    expect(isKeyVaultReferenceUnreadable(failed)).toBe(true);
    expect(
      isKeyVaultReferenceUnreadable({ code: 'InvalidParameterValueInContainerTemplate', message: 'Field x' }),
    ).toBe(false);

    t.sim.admin.advance(31_000);
    const redeployed = await ensureContainerApp(t.azure, {
      resourceGroup: rg,
      name: 'ca-apps',
      spec: appSpec(),
      configHash: 'h1',
    });
    expect(redeployed.change).toMatchObject({ action: 'updated', fields: ['failed revision'] });
    expect(t.sim.containerApp('ca-apps')).toMatchObject({
      running: true,
      env: { OPENCLAW_GATEWAY_TOKEN: 'a'.repeat(64) },
    });
    expect(redeployed.value.fqdn).toMatch(/^ca-apps\./);
  });

  it('writes nothing when the app is as specified, and updates it when a setting or the config hash differs', async () => {
    const before = t.lastSeq();
    const same = await ensureContainerApp(t.azure, {
      resourceGroup: rg,
      name: 'ca-apps',
      spec: appSpec(),
      configHash: 'h1',
    });
    expect(same.change).toBeUndefined();
    expect(t.armWrites(before)).toEqual([]);

    // A template change makes a new revision: the running one is stopped first, and nothing is
    // written until it has no replica (one writer on the state share).
    const stopping = await ensureContainerApp(t.azure, {
      resourceGroup: rg,
      name: 'ca-apps',
      spec: appSpec(2),
      configHash: 'h1',
    });
    expect(stopping.waiting).toMatch(/before the new one starts \(one writer on the state share\)/);
    expect(stopping.change).toBeUndefined();
    t.sim.admin.advance(31_000);
    const scaled = await ensureContainerApp(t.azure, {
      resourceGroup: rg,
      name: 'ca-apps',
      spec: appSpec(2),
      configHash: 'h1',
    });
    expect(scaled.waiting).toBeUndefined();
    expect(scaled.change).toMatchObject({ action: 'updated', fields: ['template.scale'] });
    const rehashed = await ensureContainerApp(t.azure, {
      resourceGroup: rg,
      name: 'ca-apps',
      spec: appSpec(2),
      configHash: 'h2',
    });
    expect(rehashed.change).toMatchObject({ action: 'updated', fields: ['tags.claw-broker-config'] });
    expect((await t.azure.containerApps.containerApps.get(rg, 'ca-apps')).tags?.[CONFIG_HASH_TAG]).toBe('h2');
  });

  it('sets the Key Vault references again with every secret whole, so the inline config keeps its value and the new version is fetched', async () => {
    await writeSecret(t.azure.secrets(vaultUri), 'gateway-token', 'b'.repeat(64));
    const applied = await reapplySecretReferences(t.azure, {
      resourceGroup: rg,
      appName: 'ca-apps',
      vaultUri,
      restart: true,
    });
    expect(applied).toMatchObject({ restarted: true, added: false });
    expect(t.sim.containerApp('ca-apps')?.env['OPENCLAW_GATEWAY_TOKEN']).toBe('b'.repeat(64));
    const listed = await t.azure.containerApps.containerApps.listSecrets(rg, 'ca-apps');
    expect(listed.value).toContainEqual(
      expect.objectContaining({ name: 'openclaw-config', value: '{"gateway":{}}' }),
    );
  });

  it('reads a Key Vault reference’s value from listSecrets only where Azure returns one, and says so when it does not', async () => {
    const holds = (expected: string) =>
      appSecretValue(t.azure, {
        resourceGroup: rg,
        appName: 'ca-apps',
        appSecretName: 'gateway-token',
        expected,
      });
    // Undocumented for references (the 2025-07-01 example lists names only): the simulator's default.
    expect(await holds('b'.repeat(64))).toBe('not-returned');
    t.sim.arm.options.listSecretsKeyVaultValues = true;
    try {
      expect(await holds('b'.repeat(64))).toBe('matches');
      expect(await holds('a'.repeat(64))).toBe('differs');
    } finally {
      t.sim.arm.options.listSecretsKeyVaultValues = false;
    }
  });

  it('is refused, as Azure refuses it, a secrets PATCH that names a secret without its value', async () => {
    const error = await t.azure.containerApps.containerApps
      .beginUpdateAndWait(
        rg,
        'ca-apps',
        { location: 'westeurope', configuration: { secrets: [{ name: 'openclaw-config' }] } },
        t.azure.poll,
      )
      .catch((e: unknown) => e);
    expect(azureFailureOf(error)).toMatchObject({ code: 'ContainerAppSecretInvalid', status: 400 });
    expect(azureFailureOf(error).message).toContain('value or keyVaultUrl and identity should be provided');
  });

  it('deploys the gateway app the broker builds: its probes are within the 2025-07-01 spec ranges', async () => {
    const version = '2026.9.6';
    const spec = buildContainerAppSpec({
      names: footprintNames('apps', { salt: 'test', incarnation: 1 }),
      location: 'westeurope',
      managedEnvironmentId: environmentId,
      identity: { id: identity.id, clientId: identity.clientId },
      registryLoginServer: 'crclawbroker.azurecr.io',
      image: { repository: 'ghcr.io/openclaw/openclaw', version },
      keyVaultSecrets: { gatewayToken: `${vaultUri}secrets/gateway-token` },
      openclawConfig: renderOpenClawConfig({ version, appFqdn: 'ca-apps-built.example', channels: [] }),
      nginxConfig: renderNginxConfig({ version, channels: [] }),
    });
    const deployed = await ensureContainerApp(t.azure, {
      resourceGroup: rg,
      name: 'ca-apps-built',
      spec,
      configHash: 'h1',
    });
    expect(deployed.change).toMatchObject({ action: 'created' });
    expect(t.sim.containerApp('ca-apps-built')).toMatchObject({ running: true });

    const tooPatient = structuredClone(spec);
    tooPatient.template!.containers![0]!.probes![0]!.failureThreshold = 36;
    const refused = await t.azure.containerApps.containerApps
      .beginCreateOrUpdateAndWait(rg, 'ca-apps-refused', tooPatient, t.azure.poll)
      .catch((e: unknown) => e);
    expect(azureFailureOf(refused)).toMatchObject({
      code: 'InvalidParameterValueInContainerTemplate',
      status: 400,
    });
    expect(azureFailureOf(refused).message).toContain('probes[0].failureThreshold');
  });

  it('fails a revision whose image the identity cannot pull yet, and deploys it once AcrPull has propagated', async () => {
    const registryId = `/subscriptions/${t.sim.subscriptionId}/resourceGroups/${rg}/providers/Microsoft.ContainerRegistry/registries/crapps`;
    const now = t.sim.clock.now();
    t.sim.arm.put({
      id: registryId,
      type: 'Microsoft.ContainerRegistry/registries',
      name: 'crapps',
      subscriptionId: t.sim.subscriptionId,
      resourceGroup: rg,
      body: {
        id: registryId,
        name: 'crapps',
        type: 'Microsoft.ContainerRegistry/registries',
        location: 'westeurope',
        properties: { loginServer: 'crapps.azurecr.io', provisioningState: 'Succeeded' },
      },
      hidden: {},
      createdAt: now,
      updatedAt: now,
    });
    const spec = appSpec();
    spec.configuration!.registries = [{ server: 'crapps.azurecr.io', identity: identity.id }];
    spec.template!.containers![0]!.image = 'crapps.azurecr.io/openclaw/openclaw:2026.9.6';
    const deploy = () =>
      ensureContainerApp(t.azure, { resourceGroup: rg, name: 'ca-apps-acr', spec, configHash: 'h1' });
    const refused = azureFailureOf(await deploy().catch((e: unknown) => e));
    expect(isImagePullUnauthorized(refused, 'crapps.azurecr.io')).toBe(true);

    await ensureRoleAssignment(t.azure, {
      label: 'gateway: AcrPull',
      scope: registryId,
      principalId: identity.principalId,
      roleDefinitionGuid: BuiltInRoles.acrPull,
    });
    const stillPropagating = azureFailureOf(await deploy().catch((e: unknown) => e));
    expect(isImagePullUnauthorized(stillPropagating, 'crapps.azurecr.io')).toBe(true);
    t.sim.admin.advance(31_000);
    expect((await deploy()).change).toMatchObject({ action: 'updated', fields: ['failed revision'] });
    expect(t.sim.containerApp('ca-apps-acr')).toMatchObject({ running: true });
  });

  it('puts built-in auth once and repairs it when its excluded paths change', async () => {
    const desired = {
      platform: { enabled: true },
      globalValidation: {
        unauthenticatedClientAction: 'RedirectToLoginPage' as const,
        excludedPaths: ['/telegram-webhook', '/readyz'],
      },
    };
    expect(await ensureAuthConfig(t.azure, { resourceGroup: rg, appName: 'ca-apps', desired })).toMatchObject(
      { action: 'created' },
    );
    const before = t.lastSeq();
    expect(
      await ensureAuthConfig(t.azure, { resourceGroup: rg, appName: 'ca-apps', desired }),
    ).toBeUndefined();
    expect(t.armWrites(before)).toEqual([]);
    await t.azure.containerApps.containerAppsAuthConfigs.createOrUpdate(rg, 'ca-apps', 'current', {
      ...desired,
      globalValidation: { ...desired.globalValidation, excludedPaths: ['/'] },
    });
    expect(await ensureAuthConfig(t.azure, { resourceGroup: rg, appName: 'ca-apps', desired })).toMatchObject(
      {
        action: 'updated',
        fields: ['globalValidation.excludedPaths'],
      },
    );
  });
});
