import { ContainerAppsAPIClient } from '@azure/arm-appcontainers';
import { ApplicationInsightsManagementClient } from '@azure/arm-appinsights';
import { AuthorizationManagementClient } from '@azure/arm-authorization';
import { KeyVaultManagementClient } from '@azure/arm-keyvault';
import { ManagedServiceIdentityClient } from '@azure/arm-msi';
import { OperationalInsightsManagementClient } from '@azure/arm-operationalinsights';
import { ResourceManagementClient } from '@azure/arm-resources';
import { SecretClient } from '@azure/keyvault-secrets';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ContainerAppEvent } from '../../sandbox/sim/arm/armState.js';
import { startTrustedSimulator, type TrustedSimulator } from './simFixture.js';

const secretsUser = '4633458b-17de-408a-b874-0445c86b69e6';
const secretsOfficer = 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7';
const rg = 'claw-apps';

describe('the monitoring and Container Apps footprint in the simulator', () => {
  let t: TrustedSimulator;
  let apps: ContainerAppsAPIClient;
  let insights: OperationalInsightsManagementClient;
  let workspaceId: string;
  let environmentId: string;
  let identityId: string;
  let vaultUri: string;
  let secrets: SecretClient;
  const events: ContainerAppEvent[] = [];

  const grant = async (principalId: string, role: string, scope: string) =>
    new AuthorizationManagementClient(
      t.credential,
      t.sim.subscriptionId,
      t.armOptions,
    ).roleAssignments.create(scope, randomUUID(), {
      roleDefinitionId: `/subscriptions/${t.sim.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${role}`,
      principalId,
      principalType: 'ServicePrincipal',
    });

  const appEnvelope = (image: string, extra: { revisionSuffix?: string } = {}) => ({
    location: 'westeurope',
    identity: { type: 'UserAssigned' as const, userAssignedIdentities: { [identityId]: {} } },
    managedEnvironmentId: environmentId,
    configuration: {
      activeRevisionsMode: 'Single' as const,
      ingress: { external: true, targetPort: 18789 },
      secrets: [
        { name: 'gateway-token', keyVaultUrl: `${vaultUri}secrets/gateway-token`, identity: identityId },
      ],
      registries: [{ server: 'ghcr.io', identity: identityId }],
    },
    template: {
      ...extra,
      containers: [
        {
          name: 'gateway',
          image,
          env: [
            { name: 'OPENCLAW_GATEWAY_TOKEN', secretRef: 'gateway-token' },
            { name: 'OPENCLAW_STATE_DIR', value: '/home/node/.openclaw' },
          ],
        },
      ],
      scale: { minReplicas: 1, maxReplicas: 1 },
    },
  });

  beforeAll(async () => {
    t = await startTrustedSimulator({ dataPlanePropagationSeconds: 30 });
    t.sim.arm.onContainerAppEvent((event) => events.push(event));
    apps = new ContainerAppsAPIClient(t.credential, t.sim.subscriptionId, t.armOptions);
    insights = new OperationalInsightsManagementClient(t.credential, t.sim.subscriptionId, t.armOptions);
    await new ResourceManagementClient(
      t.credential,
      t.sim.subscriptionId,
      t.armOptions,
    ).resourceGroups.createOrUpdate(rg, { location: 'westeurope' });
    const identity = await new ManagedServiceIdentityClient(
      t.credential,
      t.sim.subscriptionId,
      t.armOptions,
    ).userAssignedIdentities.createOrUpdate(rg, 'id-claw-alpha', { location: 'westeurope' });
    identityId = identity.id!;
    const vault = await new KeyVaultManagementClient(
      t.credential,
      t.sim.subscriptionId,
      t.armOptions,
    ).vaults.createOrUpdate(
      rg,
      'kv-claw-apps',
      {
        location: 'westeurope',
        properties: {
          tenantId: t.sim.tenantId,
          sku: { family: 'A', name: 'standard' },
          enableRbacAuthorization: true,
        },
      },
      t.poll,
    );
    vaultUri = vault.properties.vaultUri!;
    await grant(t.sim.broker.objectId, secretsOfficer, vault.id!);
    await grant(identity.principalId!, secretsUser, vault.id!);
    t.sim.admin.advance(30_000);
    secrets = new SecretClient(vaultUri, t.credential, { disableChallengeResourceVerification: true });
    await secrets.setSecret('gateway-token', 'token-v1');
  });
  afterAll(async () => {
    await t.sim.stop();
  });

  it('creates a Log Analytics workspace through a Creating -> Succeeded poll, with shared keys', async () => {
    const poller = await insights.workspaces.beginCreateOrUpdate(
      rg,
      'log-claw-alpha',
      { location: 'westeurope', retentionInDays: 30 },
      t.poll,
    );
    const workspace = await poller.pollUntilDone();
    expect(workspace.provisioningState).toBe('Succeeded');
    expect(workspace.customerId).toMatch(/^[0-9a-f-]{36}$/);
    workspaceId = workspace.id!;
    expect(
      (await insights.sharedKeysOperations.getSharedKeys(rg, 'log-claw-alpha')).primarySharedKey,
    ).toBeTruthy();
  });

  it('creates a component with the ms-rest ApplicationInsightsManagementClient, whose 2018-05-01-preview mappers cannot carry WorkspaceResourceId', async () => {
    const client = new ApplicationInsightsManagementClient(t.credential, t.sim.subscriptionId, {
      baseUri: t.sim.url,
    });
    const component = await client.components.createOrUpdate(rg, 'appi-claw-classic', {
      location: 'westeurope',
      kind: 'web',
      applicationType: 'web',
      ...({ workspaceResourceId: workspaceId } as object),
    });
    expect(component.connectionString).toContain(`InstrumentationKey=${component.instrumentationKey!}`);
    expect(component.ingestionMode).toBe('ApplicationInsights');
    expect(
      t.sim.admin.requests().find((entry) => entry.path.endsWith('/appi-claw-classic'))?.apiVersion,
    ).toBe('2018-05-01-preview');
  });

  it('creates a workspace-based component at api-version 2020-02-02 and refuses one naming a missing workspace', async () => {
    const token = (await t.credential.getToken(`${t.sim.url}/.default`)).token;
    const put = (name: string, workspace: string) =>
      fetch(
        `${t.sim.url}/subscriptions/${t.sim.subscriptionId}/resourceGroups/${rg}/providers/Microsoft.Insights/components/${name}?api-version=2020-02-02`,
        {
          method: 'PUT',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({
            location: 'westeurope',
            kind: 'web',
            properties: { Application_Type: 'web', WorkspaceResourceId: workspace },
          }),
        },
      );
    const created = await put('appi-claw-alpha', workspaceId);
    expect(created.status).toBe(201);
    expect(
      ((await created.json()) as { properties: { IngestionMode: string } }).properties.IngestionMode,
    ).toBe('LogAnalytics');
    expect((await put('appi-claw-orphan', `${workspaceId}x`)).status).toBe(400);
  });

  it('creates a managed environment shipping logs to the workspace, and registers the Azure Files share without echoing its key', async () => {
    const workspace = await insights.workspaces.get(rg, 'log-claw-alpha');
    const keys = await insights.sharedKeysOperations.getSharedKeys(rg, 'log-claw-alpha');
    const environment = await apps.managedEnvironments.beginCreateOrUpdateAndWait(
      rg,
      'cae-claw-alpha',
      {
        location: 'westeurope',
        appLogsConfiguration: {
          destination: 'log-analytics',
          logAnalyticsConfiguration: { customerId: workspace.customerId!, sharedKey: keys.primarySharedKey! },
        },
      },
      t.poll,
    );
    expect(environment.provisioningState).toBe('Succeeded');
    environmentId = environment.id!;
    const put = t.sim.admin
      .requests()
      .find((entry) => entry.method === 'PUT' && entry.path.endsWith('/cae-claw-alpha'));
    expect(put).toMatchObject({ status: 201, apiVersion: '2025-07-01' });
    expect(t.sim.admin.requests().some((entry) => /operationStatuses/i.test(entry.path))).toBe(true);

    const storage = await apps.managedEnvironmentsStorages.createOrUpdate(
      rg,
      'cae-claw-alpha',
      'openclaw-state',
      {
        properties: {
          azureFile: {
            accountName: 'stclawalpha',
            accountKey: 'secret-key',
            shareName: 'openclaw-state',
            accessMode: 'ReadWrite',
          },
        },
      },
    );
    expect(storage.properties?.azureFile?.accountKey).toBeUndefined();
    expect(JSON.stringify(t.sim.admin.snapshot())).not.toContain('secret-key');
  });

  it('creates a container app whose Key Vault secret reference resolves through its identity, and announces the revision', async () => {
    const app = await apps.containerApps.beginCreateOrUpdateAndWait(
      rg,
      'ca-claw-alpha',
      appEnvelope('ghcr.io/openclaw/openclaw:2026.9.6'),
      t.poll,
    );
    expect(app.provisioningState).toBe('Succeeded');
    expect(app.latestReadyRevisionName).toBe(app.latestRevisionName);
    expect(app.configuration?.ingress?.fqdn).toMatch(/^ca-claw-alpha\./);
    // As a real GET: the identity's key has `resourcegroups` lowercased, absent settings come back null.
    const lowered = identityId.replace('/resourceGroups/', '/resourcegroups/');
    expect(app.identity?.userAssignedIdentities?.[lowered]?.principalId).toBeTruthy();
    expect(app.configuration?.ingress).toMatchObject({ exposedPort: 0, customDomains: null });
    expect(app.template?.scale).toMatchObject({ cooldownPeriod: 300, pollingInterval: 30 });

    const runtime = t.sim.containerApp('ca-claw-alpha');
    expect(runtime).toMatchObject({
      image: 'ghcr.io/openclaw/openclaw:2026.9.6',
      running: true,
      healthState: 'Healthy',
    });
    expect(runtime?.env).toEqual({
      OPENCLAW_GATEWAY_TOKEN: 'token-v1',
      OPENCLAW_STATE_DIR: '/home/node/.openclaw',
    });
    expect(events).toContainEqual({
      kind: 'revisionCreated',
      appId: app.id,
      revisionName: app.latestRevisionName,
    });

    // A Key Vault reference comes back without its value (the 2025-07-01 example shows names only).
    const listed = await apps.containerApps.listSecrets(rg, 'ca-claw-alpha');
    expect(listed.value).toEqual([
      { name: 'gateway-token', keyVaultUrl: `${vaultUri}secrets/gateway-token`, identity: identityId },
    ]);
  });

  it('keeps the old secret value over a restart, picks the new version up when the reference is set again, or after 30 minutes', async () => {
    await secrets.setSecret('gateway-token', 'token-v2');
    const app = await apps.containerApps.get(rg, 'ca-claw-alpha');
    await apps.containerAppsRevisions.restartRevision(rg, 'ca-claw-alpha', app.latestRevisionName!);
    expect(events.at(-1)).toMatchObject({ kind: 'revisionRestarted' });
    expect(t.sim.containerApp('ca-claw-alpha')?.env['OPENCLAW_GATEWAY_TOKEN']).toBe('token-v1');

    await apps.containerApps.beginUpdateAndWait(
      rg,
      'ca-claw-alpha',
      appEnvelope('ghcr.io/openclaw/openclaw:2026.9.6'),
      t.poll,
    );
    expect(t.sim.containerApp('ca-claw-alpha')?.env['OPENCLAW_GATEWAY_TOKEN']).toBe('token-v2');
    expect((await apps.containerApps.get(rg, 'ca-claw-alpha')).latestRevisionName).toBe(
      app.latestRevisionName,
    );

    await secrets.setSecret('gateway-token', 'token-v3');
    t.sim.admin.advance(31 * 60_000);
    expect(t.sim.containerApp('ca-claw-alpha')?.env['OPENCLAW_GATEWAY_TOKEN']).toBe('token-v3');
  });

  it('keeps the old revision running until the new one is ready when the image changes (single revision mode), with revision states to poll', async () => {
    const before = await apps.containerApps.get(rg, 'ca-claw-alpha');
    t.sim.admin.addFault({
      kind: 'slowProvisioning',
      surface: 'arm',
      method: 'PUT',
      path: '/containerApps/ca-claw-alpha$',
      seconds: 90,
      count: 1,
    });
    const poller = await apps.containerApps.beginCreateOrUpdate(
      rg,
      'ca-claw-alpha',
      appEnvelope('ghcr.io/openclaw/openclaw:2026.10.1', { revisionSuffix: 'v2026-10-1' }),
      t.poll,
    );
    const provisioning = await apps.containerAppsRevisions.getRevision(
      rg,
      'ca-claw-alpha',
      'ca-claw-alpha--v2026-10-1',
    );
    // The new revision's replica is already up (starting) while the old one still runs and serves.
    expect(provisioning).toMatchObject({
      provisioningState: 'Provisioning',
      runningState: 'Processing',
      active: false,
      replicas: 1,
      trafficWeight: 0,
    });
    expect(
      await apps.containerAppsRevisions.getRevision(rg, 'ca-claw-alpha', before.latestRevisionName!),
    ).toMatchObject({ active: true, runningState: 'Running', replicas: 1, trafficWeight: 100 });
    t.sim.admin.advance(90_000);
    await poller.pollUntilDone();

    const revisions = [];
    for await (const revision of apps.containerAppsRevisions.listRevisions(rg, 'ca-claw-alpha'))
      revisions.push(revision);
    expect(revisions.find((revision) => revision.name === before.latestRevisionName)).toMatchObject({
      active: false,
    });
    expect(revisions.find((revision) => revision.name === 'ca-claw-alpha--v2026-10-1')).toMatchObject({
      active: true,
      runningState: 'Running',
      healthState: 'Healthy',
      trafficWeight: 100,
    });
    t.sim.admin.advance(1000);
    expect(
      await apps.containerAppsRevisions.getRevision(rg, 'ca-claw-alpha', before.latestRevisionName!),
    ).toMatchObject({ active: false, runningState: 'Stopped', replicas: 0 });
    const order = events.slice(-2).map((event) => event.kind);
    expect(order).toEqual(['revisionCreated', 'revisionDeactivated']);
  });

  it('answers a Key Vault reference the identity cannot resolve in both of Azure’s shapes, in turn: a 400, and a Failed operation', async () => {
    const envelope = appEnvelope('ghcr.io/openclaw/openclaw:2026.10.1');
    envelope.configuration.secrets = [
      { name: 'gateway-token', keyVaultUrl: `${vaultUri}secrets/does-not-exist`, identity: identityId },
    ];
    const put = () =>
      apps.containerApps.beginCreateOrUpdateAndWait(rg, 'ca-claw-broken', envelope, t.poll).then(
        () => undefined,
        (e: unknown) => e as { statusCode?: number; code?: string; message: string },
      );
    const answers = [await put(), await put()];
    expect(answers).toContainEqual(
      expect.objectContaining({ statusCode: 400, code: 'InvalidParameterValueInContainerTemplate' }),
    );
    const failed = answers.find((answer) => answer?.statusCode !== 400);
    expect(failed?.message).toMatch(
      /ContainerAppOperationError.*unable to get value using Managed identity/s,
    );
    expect((await apps.containerApps.get(rg, 'ca-claw-broken')).provisioningState).toBe('Failed');
  });

  it('stores the built-in auth config under the name current', async () => {
    const config = await apps.containerAppsAuthConfigs.createOrUpdate(rg, 'ca-claw-alpha', 'current', {
      platform: { enabled: true },
      globalValidation: {
        unauthenticatedClientAction: 'RedirectToLoginPage',
        excludedPaths: ['/api/messages', '/telegram/webhook'],
      },
    });
    expect(config.globalValidation?.excludedPaths).toContain('/api/messages');
    await expect(
      apps.containerAppsAuthConfigs.createOrUpdate(rg, 'ca-claw-alpha', 'other', {
        platform: { enabled: true },
      }),
    ).rejects.toMatchObject({ statusCode: 400 });
  });

  it('deletes a container app as 202 + Location + Azure-AsyncOperation and announces it', async () => {
    const app = await apps.containerApps.get(rg, 'ca-claw-broken');
    await apps.containerApps.beginDeleteAndWait(rg, 'ca-claw-broken', t.poll);
    await expect(apps.containerApps.get(rg, 'ca-claw-broken')).rejects.toMatchObject({ statusCode: 404 });
    expect(events.at(-1)).toEqual({ kind: 'appDeleted', appId: app.id });
  });

  it('soft-deletes a workspace: the name is reserved elsewhere for 14 days, recovered in place, free after force', async () => {
    await insights.workspaces.beginCreateOrUpdateAndWait(
      rg,
      'log-claw-beta',
      { location: 'westeurope' },
      t.poll,
    );
    const original = await insights.workspaces.get(rg, 'log-claw-beta');
    await insights.workspaces.beginDeleteAndWait(rg, 'log-claw-beta', t.poll);
    const deleted: string[] = [];
    for await (const workspace of insights.deletedWorkspaces.list()) deleted.push(workspace.name!);
    expect(deleted).toContain('log-claw-beta');

    await new ResourceManagementClient(
      t.credential,
      t.sim.subscriptionId,
      t.armOptions,
    ).resourceGroups.createOrUpdate('claw-apps-2', { location: 'westeurope' });
    await expect(
      insights.workspaces.beginCreateOrUpdateAndWait(
        'claw-apps-2',
        'log-claw-beta',
        { location: 'westeurope' },
        t.poll,
      ),
    ).rejects.toMatchObject({
      statusCode: 409,
    });
    const recovered = await insights.workspaces.beginCreateOrUpdateAndWait(
      rg,
      'log-claw-beta',
      { location: 'westeurope' },
      t.poll,
    );
    expect(recovered.customerId).toBe(original.customerId);

    await insights.workspaces.beginDeleteAndWait(rg, 'log-claw-beta', { ...t.poll, force: true });
    await expect(
      insights.workspaces.beginCreateOrUpdateAndWait(
        'claw-apps-2',
        'log-claw-beta',
        { location: 'westeurope' },
        t.poll,
      ),
    ).resolves.toMatchObject({
      provisioningState: 'Succeeded',
    });
  });

  it('frees a soft-deleted workspace name after 14 simulated days', async () => {
    await insights.workspaces.beginCreateOrUpdateAndWait(
      rg,
      'log-claw-gamma',
      { location: 'westeurope' },
      t.poll,
    );
    await insights.workspaces.beginDeleteAndWait(rg, 'log-claw-gamma', t.poll);
    t.sim.admin.advance(14 * 24 * 3600_000);
    await expect(
      insights.workspaces.beginCreateOrUpdateAndWait(
        'claw-apps-2',
        'log-claw-gamma',
        { location: 'westeurope' },
        t.poll,
      ),
    ).resolves.toMatchObject({
      provisioningState: 'Succeeded',
    });
  });
});
