import { ContainerAppsAPIClient } from '@azure/arm-appcontainers';
import { KeyVaultManagementClient } from '@azure/arm-keyvault';
import { ManagedServiceIdentityClient } from '@azure/arm-msi';
import { ResourceManagementClient } from '@azure/arm-resources';
import { ClientSecretCredential } from '@azure/identity';
import { SecretClient } from '@azure/keyvault-secrets';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startFullSimulator,
  trustSimulatorCertificate,
  type FullSimulator,
} from '../../sandbox/sim/index.js';

const rg = 'claw-full';
const gatewayToken = 'c3'.repeat(32);
const openclawConfig = `{
  gateway: {
    port: 18789, bind: 'lan',
    auth: { mode: "token", token: "\${OPENCLAW_GATEWAY_TOKEN}", rateLimit: { maxAttempts: 10, windowMs: 60000 } },
    controlUi: { allowedOrigins: ["https://ca-claw-full.example.azurecontainerapps.io"] },
  },
  update: { checkOnStart: false, auto: { enabled: false } },
  discovery: { mdns: { mode: "off" } },
  logging: { consoleStyle: "json" },
}`;

describe('the full simulator: Azure core with Telegram, Graph and the OpenClaw stand-in mounted', () => {
  let sim: FullSimulator;
  let credential: ClientSecretCredential;
  const armOptions = () => ({ endpoint: sim.url, retryOptions: { maxRetries: 2, retryDelayInMs: 20 } });
  const admin = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${sim.url}/admin/${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return {
      status: response.status,
      body: response.status === 204 ? undefined : ((await response.json()) as Record<string, unknown>),
    };
  };

  beforeAll(async () => {
    sim = await startFullSimulator({
      telegram: { botToken: '123456:sim-bot-token-abcdefghijklmnop' },
      dataPlanePropagationSeconds: 30,
    });
    trustSimulatorCertificate(sim.caCertPem);
    credential = new ClientSecretCredential(sim.tenantId, sim.broker.clientId, sim.broker.clientSecret, {
      authorityHost: sim.url,
      disableInstanceDiscovery: true,
    });
  });
  afterAll(async () => {
    await sim.stop();
  });

  it('runs a provisioned container app as an OpenClaw gateway that is ready with its Key Vault token and the config on its share', async () => {
    await new ResourceManagementClient(
      credential,
      sim.subscriptionId,
      armOptions(),
    ).resourceGroups.createOrUpdate(rg, { location: 'westeurope' });
    const identity = await new ManagedServiceIdentityClient(
      credential,
      sim.subscriptionId,
      armOptions(),
    ).userAssignedIdentities.createOrUpdate(rg, 'id-claw-full', {
      location: 'westeurope',
    });
    const vault = await new KeyVaultManagementClient(
      credential,
      sim.subscriptionId,
      armOptions(),
    ).vaults.createOrUpdate(
      rg,
      'kv-claw-full',
      {
        location: 'westeurope',
        properties: {
          tenantId: sim.tenantId,
          sku: { family: 'A', name: 'standard' },
          enableRbacAuthorization: true,
        },
      },
      { updateIntervalInMs: 5 },
    );
    sim.grantRole(sim.broker.objectId, 'Key Vault Secrets Officer', vault.id!);
    sim.grantRole(identity.principalId!, 'Key Vault Secrets User', vault.id!);
    sim.admin.advance(30_000);
    await new SecretClient(vault.properties.vaultUri!, credential, {
      disableChallengeResourceVerification: true,
    }).setSecret('gateway-token', gatewayToken);

    const apps = new ContainerAppsAPIClient(credential, sim.subscriptionId, armOptions());
    const environment = await apps.managedEnvironments.beginCreateOrUpdateAndWait(
      rg,
      'cae-claw-full',
      { location: 'westeurope' },
      { updateIntervalInMs: 5 },
    );
    await apps.managedEnvironmentsStorages.createOrUpdate(rg, 'cae-claw-full', 'state', {
      properties: {
        azureFile: {
          accountName: 'stclawfull',
          accountKey: 'k',
          shareName: 'openclaw-state',
          accessMode: 'ReadWrite',
        },
      },
    });
    sim.files.write('stclawfull', 'openclaw-state', 'openclaw.json', openclawConfig);
    await apps.containerApps.beginCreateOrUpdateAndWait(
      rg,
      'ca-claw-full',
      {
        location: 'westeurope',
        identity: { type: 'UserAssigned', userAssignedIdentities: { [identity.id!]: {} } },
        managedEnvironmentId: environment.id!,
        configuration: {
          secrets: [
            {
              name: 'gateway-token',
              keyVaultUrl: `${vault.properties.vaultUri!}secrets/gateway-token`,
              identity: identity.id!,
            },
          ],
        },
        template: {
          containers: [
            {
              name: 'gateway',
              image: 'ghcr.io/openclaw/openclaw:2026.9.6',
              env: [
                { name: 'OPENCLAW_GATEWAY_TOKEN', secretRef: 'gateway-token' },
                { name: 'OPENCLAW_STATE_DIR', value: '/home/node/.openclaw' },
              ],
              volumeMounts: [{ volumeName: 'state', mountPath: '/home/node/.openclaw' }],
            },
          ],
          volumes: [{ name: 'state', storageType: 'AzureFile', storageName: 'state' }],
        },
      },
      { updateIntervalInMs: 5 },
    );
    const ready = await fetch(`${sim.url}/openclaw/ca-claw-full/readyz`);
    expect(ready.status).toBe(200);
    expect(sim.openclaw.readiness('ca-claw-full')?.ready).toBe(true);
  });

  it('serves Graph to a token for graph.microsoft.com from the same tenant, and Telegram under /telegram/', async () => {
    const token = (await credential.getToken('https://graph.microsoft.com/.default')).token;
    const groups = await fetch(`${sim.url}/graph/v1.0/groups`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(groups.status).toBe(200);
    const anonymous = await fetch(`${sim.url}/graph/v1.0/groups`);
    expect(anonymous.status).toBe(401);
    const me = await fetch(`${sim.url}/telegram/bot123456:sim-bot-token-abcdefghijklmnop/getMe`);
    expect(((await me.json()) as { ok: boolean }).ok).toBe(true);
  });

  it('shows every surface in /admin/state and logs requests without secrets, tokens or query strings', async () => {
    const state = await admin('GET', 'state');
    expect(Object.keys(state.body?.['surfaces'] as object)).toEqual(
      expect.arrayContaining(['arm', 'keyvault', 'identity', 'blob', 'graph', 'openclaw', 'telegram']),
    );
    const log = await admin('GET', 'requests');
    const text = JSON.stringify(log.body) + JSON.stringify(state.body);
    expect(text).not.toContain(gatewayToken);
    expect(text).not.toContain(sim.broker.clientSecret);
    expect(text).not.toMatch(/bearer|eyJ|sig=|client_secret/i);
    const entries = log.body?.['value'] as {
      surface: string;
      path: string;
      apiVersion?: string;
      latencyMs: number;
    }[];
    expect(
      entries.some((entry) => entry.surface === 'identity' && entry.path.endsWith('/oauth2/v2.0/token')),
    ).toBe(true);
    expect(entries.find((entry) => entry.path.endsWith('/vaults/kv-claw-full'))?.apiVersion).toBe(
      '2026-02-01',
    );
    expect(
      entries
        .filter((entry) => entry.path.includes('/telegram/'))
        .every((entry) => !entry.path.includes('sim-bot-token')),
    ).toBe(true);
  });

  it('adds, lists and removes faults over HTTP, and a keyVaultForbidden fault refuses a granted caller', async () => {
    const vault = await new KeyVaultManagementClient(credential, sim.subscriptionId, armOptions()).vaults.get(
      rg,
      'kv-claw-full',
    );
    const secrets = new SecretClient(vault.properties.vaultUri!, credential, {
      disableChallengeResourceVerification: true,
      retryOptions: { maxRetries: 0 },
    });
    const added = await admin('POST', 'faults', { kind: 'keyVaultForbidden', surface: 'keyvault', count: 1 });
    expect(added.status).toBe(201);
    const fault = (added.body?.['value'] as { id: string }[])[0]!;
    await expect(secrets.getSecret('gateway-token')).rejects.toMatchObject({ statusCode: 403 });
    await expect(secrets.getSecret('gateway-token')).resolves.toMatchObject({ value: gatewayToken });
    expect(
      ((await admin('GET', 'faults')).body?.['value'] as { id: string; fired: number }[]).find(
        (f) => f.id === fault.id,
      )?.fired,
    ).toBe(1);
    expect((await admin('DELETE', `faults/${fault.id}`)).status).toBe(204);
    expect((await admin('POST', 'faults', { kind: 'http', status: 99 })).status).toBe(400);
  });

  it('advances simulated time over HTTP', async () => {
    const before = sim.clock.now();
    const answer = await admin('POST', 'clock/advance', { seconds: 90 });
    expect(answer.body?.['epochMs']).toBe(before + 90_000);
  });

  it('answers 400 naming the mistake, never a 500, when an admin call names a Telegram user or chat it does not know', async () => {
    const say = await admin('POST', 'telegram/chats/-42/say', { text: '/envs', as: 999999 });
    expect(say.status).toBe(400);
    expect(String(say.body?.['error'])).toContain('Telegram user 999999 is not known to the simulator');
  });
});
