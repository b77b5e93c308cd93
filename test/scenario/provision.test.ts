import { AuthorizationManagementClient } from '@azure/arm-authorization';
import { ContainerAppsAPIClient } from '@azure/arm-appcontainers';
import { ClientSecretCredential } from '@azure/identity';
import { SecretClient } from '@azure/keyvault-secrets';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { roleAssignmentName, BuiltInRoles } from '../../shared/azure/roleAssignments.js';
import type { GraphSurface } from '../../sandbox/sim/graph.js';
import { ProvisionWorld, type RequestView } from './provisionWorld.js';
import { stagedSecretName } from '../../shared/intake/stagedSecrets.js';

/**
 * Provisioning end to end, as an operator sees it: a request through the HTTP API, the slug runner,
 * the provisioning orchestration and its activities on the local Functions host (Azurite), against
 * the simulated ARM, Key Vault, Graph and OpenClaw gateway. Then the same request again (nothing to
 * do), then again after drift (repaired), then a search for leaked secrets.
 */
let world: ProvisionWorld;
let credential: ClientSecretCredential;
const BOT_TOKEN = '7000000042:AAH0scenarioFakeBotTokenValue0123456789';
const FOUNDRY_KEY = 'f0undry-key-5c3n4r10-0123456789abcdef';
const seen: RequestView[] = [];

beforeAll(async () => {
  world = await ProvisionWorld.start();
  credential = new ClientSecretCredential(
    world.sim.tenantId,
    world.sim.broker.clientId,
    world.sim.broker.clientSecret,
    {
      authorityHost: world.sim.url,
      disableInstanceDiscovery: true,
    },
  );
});

afterAll(async () => {
  await world?.stop();
});

const armWrites = (afterSeq: number) =>
  world
    .requests(afterSeq)
    .filter((entry) => entry.surface === 'arm' && entry.method !== 'GET')
    .map((entry) => `${entry.method} ${entry.path}`);

const armOptions = () => ({ endpoint: world.sim.url, credentialScopes: [`${world.sim.url}/.default`] });

function resourcesIn(group: string): string[] {
  return [...world.sim.arm.resources.values()]
    .filter(
      (resource) =>
        resource.resourceGroup.toLowerCase() === group &&
        resource.type.split('/').length === 2 &&
        resource.type !== 'Microsoft.Resources/resourceGroups',
    )
    .map((resource) => resource.type)
    .sort();
}

describe('provisioning a slug on the local host against the simulated Azure', () => {
  it('creates the whole footprint, shows progress while it runs, and ends ready with the gateway answering /readyz', async () => {
    const ref = await world.stageSecret('prov-acme-1', BOT_TOKEN);
    await world.requestProvision('acme', 'prov-acme-1', { telegramBotToken: { secretRef: ref } });
    const view = await world.until(
      'prov-acme-1',
      (current) => {
        seen.push(current);
        return ['succeeded', 'failed', 'rejected'].includes(current.status);
      },
      'an outcome',
    );
    expect(view, JSON.stringify(view)).toMatchObject({ status: 'succeeded' });
    expect(view.summary).toMatch(/^acme provisioned \(OpenClaw 2026\.9\.6, incarnation 1\)/);

    const running = seen.filter((current) => current.status === 'running' && current.progress);
    expect(running.length).toBeGreaterThan(0);
    expect(running.every((current) => current.progress?.total === 16)).toBe(true);
    const done = running.map((current) => current.progress!.done);
    expect(done).toEqual([...done].sort((a, b) => a - b));

    const environment = await world.environment('acme');
    expect(environment).toMatchObject({
      state: 'ready',
      incarnation: 1,
      openclawVersion: '2026.9.6',
      url: expect.stringMatching(/^https:\/\/ca-acme\.[0-9a-f]+\.westeurope\.azurecontainerapps\.io$/),
    });
    expect(Object.keys(environment['secretAges'] as object).sort()).toEqual([
      'entra-client-secret',
      'gateway-token',
      'storage-key',
      'telegram-bot-token',
      'telegram-webhook-secret',
    ]);

    const readyz = await fetch(`${world.sim.url}/openclaw/ca-acme/readyz`);
    expect(readyz.status).toBe(200);

    expect(resourcesIn('claw-acme')).toEqual([
      'Microsoft.App/containerApps',
      'Microsoft.App/managedEnvironments',
      'Microsoft.Insights/components',
      'Microsoft.KeyVault/vaults',
      'Microsoft.ManagedIdentity/userAssignedIdentities',
      'Microsoft.OperationalInsights/workspaces',
      'Microsoft.Storage/storageAccounts',
    ]);
    const group = world.sim.arm.get(`/subscriptions/${world.sim.subscriptionId}/resourceGroups/claw-acme`);
    expect(group?.body['tags']).toEqual({ 'managed-by': 'claw-broker', 'claw-broker-slug': 'acme' });

    // Entra replicated as a tenant does (1 s here): Graph answered 404 for the fresh app, and the
    // broker waited instead of failing or making a second app or group.
    const graph = world.sim.graph as GraphSurface;
    const apps = (graph.snapshot() as { applications: { id: string; displayName: string }[] }).applications;
    const acmeApps = apps.filter((app) => app.displayName === 'claw-acme');
    expect(acmeApps).toHaveLength(1);
    const replicationMisses = world
      .requests()
      .filter(
        (entry) => entry.surface === 'graph' && entry.status === 404 && entry.path.includes(acmeApps[0]!.id),
      );
    expect(replicationMisses.length).toBeGreaterThan(0);
    expect(graph.owners(acmeApps[0]!.id)).toEqual([world.sim.broker.objectId]);
    expect(graph.groups('shire-acme')).toHaveLength(1);
  });

  it('grants the gateway identity only AcrPull and Key Vault Secrets User, and the broker Secrets Officer on the vault', () => {
    const identity = [...world.sim.arm.resources.values()].find((r) => r.name === 'id-acme')!;
    const principal = (identity.body['properties'] as { principalId: string }).principalId;
    const vault = [...world.sim.arm.resources.values()].find(
      (r) => r.type === 'Microsoft.KeyVault/vaults' && r.resourceGroup === 'claw-acme',
    )!;
    const roles = (principalId: string) =>
      [...world.sim.arm.roleAssignments.values()]
        .filter((assignment) => assignment.principalId === principalId)
        .map(
          (assignment) =>
            `${assignment.roleDefinitionId.split('/').pop()} ${assignment.scope.split('/').pop()}`,
        )
        .sort();
    expect(roles(principal)).toEqual(
      [`${BuiltInRoles.keyVaultSecretsUser} ${vault.name}`, `${BuiltInRoles.acrPull} clawtestacr`].sort(),
    );
    expect(roles(world.sim.broker.objectId)).toContain(
      `${BuiltInRoles.keyVaultSecretsOfficer} ${vault.name}`,
    );
    expect(vault.body['properties'] as Record<string, unknown>).toMatchObject({
      enableRbacAuthorization: true,
      enableSoftDelete: true,
      accessPolicies: [],
    });
  });

  it('runs the gateway as one replica that reads every secret from Key Vault, behind Entra sign-in that leaves the webhook open', async () => {
    const app = world.sim.arm.get(
      `/subscriptions/${world.sim.subscriptionId}/resourceGroups/claw-acme/providers/Microsoft.App/containerApps/ca-acme`,
    )!;
    const properties = app.body['properties'] as {
      template: { scale: { minReplicas: number; maxReplicas: number }; containers: { image: string }[] };
      configuration: { secrets: { name: string; keyVaultUrl?: string }[] };
    };
    expect(properties.template.scale).toMatchObject({ minReplicas: 1, maxReplicas: 1 });
    expect(properties.template.containers[0]!.image).toBe('ghcr.io/openclaw/openclaw:2026.9.6');
    const referenced = properties.configuration.secrets
      .filter((secret) => secret.keyVaultUrl)
      .map((s) => s.name);
    expect(referenced.sort()).toEqual([
      'gateway-token',
      'microsoft-provider-authentication-secret',
      'telegram-bot-token',
      'telegram-webhook-secret',
    ]);
    expect(world.sim.containerApp('ca-acme')?.env['OPENCLAW_GATEWAY_TOKEN']).toMatch(/^[0-9a-f]{64}$/);

    const entraApp = world.graph.application(
      (
        world.graph.snapshot() as { applications: { displayName: string; appId: string }[] }
      ).applications.find((a) => a.displayName === 'claw-acme')!.appId,
    ) as { passwordCredentials: unknown[]; web: { redirectUris: string[] } };
    expect(entraApp.passwordCredentials).toHaveLength(1);
    expect(entraApp.web.redirectUris).toEqual([
      expect.stringMatching(/^https:\/\/ca-acme\..+\/\.auth\/login\/aad\/callback$/),
    ]);
    const slugGroup = world.graph.groups('shire-acme');
    expect(slugGroup).toHaveLength(1);

    const auth = world.sim.arm.get(`${app.id}/authConfigs/current`)!.body['properties'] as {
      globalValidation: { unauthenticatedClientAction: string; excludedPaths: string[] };
      identityProviders: {
        azureActiveDirectory: {
          validation: { defaultAuthorizationPolicy: { allowedPrincipals: { groups: string[] } } };
        };
      };
    };
    expect(auth.globalValidation).toMatchObject({
      unauthenticatedClientAction: 'RedirectToLoginPage',
      excludedPaths: ['/telegram-webhook', '/readyz'],
    });
    expect(
      auth.identityProviders.azureActiveDirectory.validation.defaultAuthorizationPolicy.allowedPrincipals
        .groups,
    ).toEqual([world.settings['ENTRA_ADMIN_GROUP_ID'], slugGroup[0]!.id]);
  });

  it('moves the staged bot token into the slug vault, and deletes and purges the staged copy', async () => {
    const staged = stagedSecretName('prov-acme-1', 'telegramBotToken');
    await expect(world.stagingSecrets.getSecret(staged)).rejects.toMatchObject({ statusCode: 404 });
    // Purged, not only deleted: no copy stays recoverable in the staging vault.
    await expect(world.stagingSecrets.getDeletedSecret(staged)).rejects.toMatchObject({ statusCode: 404 });
    const vault = [...world.sim.arm.resources.values()].find(
      (r) => r.type === 'Microsoft.KeyVault/vaults' && r.resourceGroup === 'claw-acme',
    )!;
    const slugSecrets = new SecretClient(
      (vault.body['properties'] as { vaultUri: string }).vaultUri,
      credential,
      {
        disableChallengeResourceVerification: true,
      },
    );
    expect((await slugSecrets.getSecret('telegram-bot-token')).value).toBe(BOT_TOKEN);
  });

  it('makes no ARM write when provisioning a ready slug again, and says nothing drifted', async () => {
    const before = world.lastSeq();
    const view = await world.provision('acme', 'prov-acme-2');
    expect(view, JSON.stringify(view)).toMatchObject({ status: 'succeeded' });
    expect(view.summary).toMatch(/^acme converged: nothing had drifted; ready at https:\/\/ca-acme\./);
    expect(armWrites(before)).toEqual([]);
    expect(world.requests(before).filter((e) => e.surface === 'graph' && e.method !== 'GET')).toEqual([]);
  });

  it('repairs a deleted role assignment and a changed setting, writes only those, and reports them', async () => {
    const identity = [...world.sim.arm.resources.values()].find((r) => r.name === 'id-acme')!;
    const principalId = (identity.body['properties'] as { principalId: string }).principalId;
    const registryId = world.settings['IMAGE_REGISTRY_ID']!;
    const assignment = roleAssignmentName({
      scope: registryId,
      principalId,
      roleDefinitionGuid: BuiltInRoles.acrPull,
    });
    const authorization = new AuthorizationManagementClient(
      credential,
      world.sim.subscriptionId,
      armOptions(),
    );
    await authorization.roleAssignments.delete(registryId, assignment);
    const apps = new ContainerAppsAPIClient(credential, world.sim.subscriptionId, armOptions());
    await apps.containerApps.beginUpdateAndWait(
      'claw-acme',
      'ca-acme',
      { location: 'westeurope', template: { scale: { minReplicas: 1, maxReplicas: 3 } } },
      { updateIntervalInMs: 20 },
    );

    const before = world.lastSeq();
    const view = await world.provision('acme', 'prov-acme-3');
    expect(view, JSON.stringify(view)).toMatchObject({ status: 'succeeded' });
    expect(view.summary).toContain('acme converged: repaired 2:');
    expect(view.summary).toContain('role assignment (gateway identity: AcrPull) created');
    expect(view.summary).toContain('container app ca-acme updated (template.scale)');
    // The out-of-band scale change made a second revision, which multiple revision mode keeps
    // running next to the first. A template repair makes a new revision, so the broker stops every
    // running one first (one writer on the state share), then writes the app.
    const writes = armWrites(before);
    expect(writes[0]).toMatch(
      new RegExp(`^PUT ${registryId}/providers/Microsoft.Authorization/roleAssignments/${assignment}$`, 'i'),
    );
    expect(writes.slice(1, -1)).toEqual([
      expect.stringMatching(
        /^POST \/subscriptions\/.+\/containerApps\/ca-acme\/revisions\/[^/]+\/deactivate$/,
      ),
      expect.stringMatching(
        /^POST \/subscriptions\/.+\/containerApps\/ca-acme\/revisions\/[^/]+\/deactivate$/,
      ),
    ]);
    expect(writes.at(-1)).toMatch(/^PUT \/subscriptions\/.+\/containerApps\/ca-acme$/);
    expect(writes).toHaveLength(4);
    const app = await apps.containerApps.get('claw-acme', 'ca-acme');
    expect(app.template?.scale?.maxReplicas).toBe(1);
    expect(
      world.sim.arm.roleAssignments.has(
        `${registryId}/providers/Microsoft.Authorization/roleAssignments/${assignment}`.toLowerCase(),
      ),
    ).toBe(true);
  });

  it('provisions a Teams slug with an Azure OpenAI deployment, its key moved from the staging vault like the bot token', async () => {
    const ref = await world.stageSecret('prov-teamsco-1', FOUNDRY_KEY, 'foundryApiKey');
    const view = await world.provision('teamsco', 'prov-teamsco-1', {
      channels: ['teams'],
      foundry: {
        endpoint: 'https://teamsco.openai.azure.com',
        deployment: 'gpt-4o',
        apiKey: { secretRef: ref },
      },
    });
    expect(view, JSON.stringify(view)).toMatchObject({ status: 'succeeded' });
    const env = world.sim.containerApp('ca-teamsco')?.env ?? {};
    expect(env['AZURE_OPENAI_API_KEY']).toBe(FOUNDRY_KEY);
    expect(env['MSTEAMS_APP_ID']).toBe(
      (
        world.graph.snapshot() as { applications: { displayName: string; appId: string }[] }
      ).applications.find((a) => a.displayName === 'claw-teamsco')?.appId,
    );
    expect(env['TELEGRAM_BOT_TOKEN']).toBeUndefined();
    expect((await fetch(`${world.sim.url}/openclaw/ca-teamsco/readyz`)).status).toBe(200);
    const staged = stagedSecretName('prov-teamsco-1', 'foundryApiKey');
    await expect(world.stagingSecrets.getSecret(staged)).rejects.toMatchObject({ statusCode: 404 });
    await expect(world.stagingSecrets.getDeletedSecret(staged)).rejects.toMatchObject({ statusCode: 404 });
  });

  it('leaves no secret value the simulator holds in histories, custom status, the registry, logs or the request log', async () => {
    const secrets = world.secretValues();
    expect(secrets).toContain(BOT_TOKEN);
    expect(secrets).toContain(FOUNDRY_KEY);
    expect(secrets.some((value) => /^[0-9a-f]{64}$/.test(value))).toBe(true); // the gateway token
    const places = [
      ...(await world.observableText()),
      ...world.instanceText([
        'op:prov-acme-1',
        'op:prov-acme-2',
        'op:prov-acme-3',
        'runner:acme',
        'op:prov-teamsco-1',
      ]),
    ];
    // The search covers orchestration histories: the task hub's blobs name the provisioning activities.
    expect(
      places.some((place) => place.where.startsWith('blob') && place.text.includes('provisionSecrets')),
    ).toBe(true);
    const leaks = places.flatMap((place) =>
      secrets
        .filter((secret) => place.text.includes(secret))
        .map((secret) => `${place.where}: ${secret.slice(0, 4)}…`),
    );
    expect(leaks).toEqual([]);
  });
});
