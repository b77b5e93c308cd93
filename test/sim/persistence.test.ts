import { AuthorizationManagementClient } from '@azure/arm-authorization';
import { KeyVaultManagementClient } from '@azure/arm-keyvault';
import { ResourceManagementClient } from '@azure/arm-resources';
import { StorageManagementClient } from '@azure/arm-storage';
import { ClientSecretCredential } from '@azure/identity';
import { SecretClient } from '@azure/keyvault-secrets';
import {
  AnonymousCredential,
  BlobServiceClient,
  ContainerClient,
  ContainerSASPermissions,
  generateBlobSASQueryParameters,
  SASProtocol,
} from '@azure/storage-blob';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { GraphSurface } from '../../sandbox/sim/graph.js';
import {
  startFullSimulator,
  stateFileFormat,
  stateFileVersion,
  trustSimulatorCertificate,
  type FullSimulator,
} from '../../sandbox/sim/index.js';
import { createOpenClawSurface } from '../../sandbox/sim/openclaw.js';
import { startSimulator } from '../../sandbox/sim/simulator.js';
import type { TelegramSurface } from '../../sandbox/sim/telegram.js';

const roles = {
  secretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7',
  blobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe',
};
const rg = 'claw-persist';
const vaultName = 'kv-claw-persist';
const slowVaultName = 'kv-claw-slow';
const accountName = 'stclawpersist';
const botToken = '123456:persist-bot-token-abcdefghijk';
const webhookSecret = 'persisted_secret-token';
const poll = { updateIntervalInMs: 5 };

describe('simulator persistence (statePath)', () => {
  const dirs: string[] = [];
  const running: { stop(): Promise<void> }[] = [];
  const tempDir = async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sim-state-'));
    dirs.push(dir);
    return dir;
  };
  afterEach(async () => {
    await Promise.all(running.splice(0).map((sim) => sim.stop()));
    await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
  });

  it('restores the whole world after stop: same URLs, same broker credentials, resources, secrets, blobs, Telegram, Graph, files and a pending operation', async () => {
    const statePath = join(await tempDir(), 'nested', 'sim-state.json');
    const messages: string[] = [];
    const webhookCalls: { headers: Record<string, string>; body: string }[] = [];
    const start = (withUser: boolean) =>
      startFullSimulator({
        statePath,
        dataPlanePropagationSeconds: 30,
        onStateMessage: (message) => messages.push(message),
        telegram: {
          botToken,
          ...(withUser ? { users: [{ id: 4242, first_name: 'Frodo' }] } : {}),
          webhook: {
            fetch: (_url, init) => {
              webhookCalls.push({ headers: init.headers, body: init.body });
              return Promise.resolve({ status: 200, text: () => Promise.resolve('') });
            },
          },
        },
      });

    // ---- first life -------------------------------------------------------------------
    const first = await start(true);
    running.push(first);
    expect(first.persistence).toMatchObject({ path: statePath, restored: false });
    expect(messages.join('\n')).toContain(`no state file at ${statePath}`);
    trustSimulatorCertificate(first.caCertPem);
    const credential = new ClientSecretCredential(
      first.tenantId,
      first.broker.clientId,
      first.broker.clientSecret,
      { authorityHost: first.url, disableInstanceDiscovery: true },
    );
    const armOptions = { endpoint: first.url, retryOptions: { maxRetries: 2, retryDelayInMs: 20 } };
    const resources = new ResourceManagementClient(credential, first.subscriptionId, armOptions);
    const vaults = new KeyVaultManagementClient(credential, first.subscriptionId, armOptions);
    const storage = new StorageManagementClient(credential, first.subscriptionId, armOptions);
    const authorization = new AuthorizationManagementClient(credential, first.subscriptionId, armOptions);

    await resources.resourceGroups.createOrUpdate(rg, { location: 'westeurope' });
    const vaultParameters = {
      location: 'westeurope',
      properties: {
        tenantId: first.tenantId,
        sku: { family: 'A' as const, name: 'standard' as const },
        enableRbacAuthorization: true,
      },
    };
    const vault = await vaults.vaults.beginCreateOrUpdateAndWait(rg, vaultName, vaultParameters, poll);
    const vaultUri = vault.properties.vaultUri!;
    const officerAssignment = randomUUID();
    await authorization.roleAssignments.create(vault.id!, officerAssignment, {
      roleDefinitionId: `/subscriptions/${first.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${roles.secretsOfficer}`,
      principalId: first.broker.objectId,
      principalType: 'ServicePrincipal',
    });
    const account = await storage.storageAccounts.create(
      rg,
      accountName,
      {
        location: 'westeurope',
        sku: { name: 'Standard_LRS' },
        kind: 'StorageV2',
        allowSharedKeyAccess: false,
      },
      poll,
    );
    const blobEndpoint = account.primaryEndpoints!.blob!;
    await storage.blobContainers.create(rg, accountName, 'logs', {});
    await authorization.roleAssignments.create(account.id!, randomUUID(), {
      roleDefinitionId: `/subscriptions/${first.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${roles.blobDataContributor}`,
      principalId: first.broker.objectId,
      principalType: 'ServicePrincipal',
    });
    first.admin.advance(30_000);

    const secrets = new SecretClient(vaultUri, credential, {
      disableChallengeResourceVerification: true,
      retryOptions: { maxRetries: 1, retryDelayInMs: 10 },
    });
    await secrets.setSecret('gateway-token', 'first-value');
    const current = await secrets.setSecret('gateway-token', 'second-value');
    await secrets.setSecret('doomed', 'gone-soon');
    await (await secrets.beginDeleteSecret('doomed', { intervalInMs: 5 })).pollUntilDone();

    const blobs = new BlobServiceClient(blobEndpoint, credential, { retryOptions: { maxTries: 1 } });
    await blobs.getContainerClient('logs').getBlockBlobClient('app.log').upload('line one\n', 9);
    const keyStart = new Date(first.clock.now());
    const keyExpiry = new Date(keyStart.getTime() + 24 * 3600_000);
    const delegationKey = await blobs.getUserDelegationKey(keyStart, keyExpiry);
    const sas = generateBlobSASQueryParameters(
      {
        containerName: 'logs',
        permissions: ContainerSASPermissions.parse('rl'),
        startsOn: keyStart,
        expiresOn: keyExpiry,
        protocol: SASProtocol.Https,
      },
      delegationKey,
      accountName,
    ).toString();

    // An operation still in progress at the restart: settles after it, as it would have.
    first.admin.addFault({ kind: 'slowProvisioning', seconds: 600, surface: 'arm', path: slowVaultName });
    const slow = await vaults.vaults.beginCreateOrUpdate(rg, slowVaultName, vaultParameters, poll);
    expect(slow.getOperationState().status).toBe('running');

    const telegramCall = (method: string, params: Record<string, unknown>) =>
      fetch(`${first.url}/telegram/bot${botToken}/${method}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(params),
      }).then(async (response) => (await response.json()) as { ok: boolean; result: unknown });
    await telegramCall('setWebhook', { url: 'http://127.0.0.1:9/telegram', secret_token: webhookSecret });
    await telegramCall('sendMessage', { chat_id: 4242, text: 'hello before the restart' });
    const telegram = first.telegram as TelegramSurface;
    const firstDelivery = await telegram.sendUserMessage({ chatId: 4242, fromUserId: 4242, text: '/start' });

    const graphToken = (await credential.getToken('https://graph.microsoft.com/.default')).token;
    const graphCall = async (url: string, method: string, path: string, body?: unknown) => {
      const response = await fetch(`${url}/graph/v1.0/${path}`, {
        method,
        headers: { authorization: `Bearer ${graphToken}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    const app = (await graphCall(first.url, 'POST', 'applications', { displayName: 'claw-persist-app' }))
      .body;
    const password = (
      await graphCall(first.url, 'POST', `applications/${String(app['id'])}/addPassword`, {
        passwordCredential: { displayName: 'broker' },
      })
    ).body;
    const secretText = String(password['secretText']);
    await graphCall(first.url, 'POST', 'servicePrincipals', { appId: app['appId'] });

    first.files.write(accountName, 'openclaw-state', 'openclaw.json', '{ gateway: {} }');
    const stoppedAt = first.clock.now();
    const broker = { ...first.broker };
    await first.stop();
    running.splice(0);

    const file = JSON.parse(await readFile(statePath, 'utf8')) as Record<string, unknown>;
    expect(file).toMatchObject({ format: stateFileFormat, version: stateFileVersion });

    // ---- second life: nothing but the file carries over --------------------------------
    const second = await start(false);
    running.push(second);
    expect(second.persistence.restored).toBe(true);
    expect(messages.at(-1)).toContain(`restored the simulated world from ${statePath}`);
    expect(second.url).toBe(first.url);
    expect(second.caCertPem).toBe(first.caCertPem);
    expect(second.broker).toEqual(broker);
    expect(second.clock.now()).toBe(stoppedAt);

    // A fresh credential from the same client id and secret: no token cached from the first life.
    const again = new ClientSecretCredential(second.tenantId, broker.clientId, broker.clientSecret, {
      authorityHost: second.url,
      disableInstanceDiscovery: true,
    });
    const armAgain = { endpoint: second.url, retryOptions: { maxRetries: 2, retryDelayInMs: 20 } };
    expect(
      (await new ResourceManagementClient(again, second.subscriptionId, armAgain).resourceGroups.get(rg))
        .properties?.provisioningState,
    ).toBe('Succeeded');
    const vaultsAgain = new KeyVaultManagementClient(again, second.subscriptionId, armAgain);
    expect((await vaultsAgain.vaults.get(rg, vaultName)).properties.vaultUri).toBe(vaultUri);
    const assignments: string[] = [];
    for await (const assignment of new AuthorizationManagementClient(
      again,
      second.subscriptionId,
      armAgain,
    ).roleAssignments.listForScope(vault.id!)) {
      assignments.push(assignment.name!);
    }
    expect(assignments).toContain(officerAssignment);

    const secretsAgain = new SecretClient(vaultUri, again, {
      disableChallengeResourceVerification: true,
      retryOptions: { maxRetries: 1, retryDelayInMs: 10 },
    });
    expect(await secretsAgain.getSecret('gateway-token')).toMatchObject({
      value: 'second-value',
      properties: { version: current.properties.version },
    });
    const versions: string[] = [];
    for await (const version of secretsAgain.listPropertiesOfSecretVersions('gateway-token'))
      versions.push(version.version!);
    expect(versions).toHaveLength(2);
    const deleted: string[] = [];
    for await (const item of secretsAgain.listDeletedSecrets()) deleted.push(item.name);
    expect(deleted).toEqual(['doomed']);
    await secretsAgain.setSecret('gateway-token', 'third-value');

    // The blob, and a SAS signed before the restart with a delegation key issued before it.
    const sasContainer = new ContainerClient(`${blobEndpoint}logs?${sas}`, new AnonymousCredential(), {
      retryOptions: { maxTries: 1 },
    });
    expect((await sasContainer.getBlockBlobClient('app.log').downloadToBuffer()).toString()).toBe(
      'line one\n',
    );

    // The vault PUT that was still provisioning settles once its simulated time has passed.
    expect((await vaultsAgain.vaults.get(rg, slowVaultName)).properties.provisioningState).toBe(
      'RegisteringDns',
    );
    second.admin.advance(600_000);
    const settled = await vaultsAgain.vaults.get(rg, slowVaultName);
    expect(settled.properties.provisioningState).toBe('Succeeded');
    expect(settled.properties.vaultUri).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/$/);

    // Telegram: the webhook with its secret, the chat, the outbox, message ids and update ids.
    const info = (await (await fetch(`${second.url}/telegram/bot${botToken}/getWebhookInfo`)).json()) as {
      result: { url: string };
    };
    expect(info.result.url).toBe('http://127.0.0.1:9/telegram');
    const telegramAgain = second.telegram as TelegramSurface;
    expect(telegramAgain.outbox(4242).map((entry) => entry.text)).toEqual(['hello before the restart']);
    const sent = (await (
      await fetch(`${second.url}/telegram/bot${botToken}/sendMessage`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ chat_id: 4242, text: 'hello after the restart' }),
      })
    ).json()) as { ok: boolean; result: { message_id: number } };
    expect(sent).toMatchObject({ ok: true, result: { message_id: 3 } });
    const secondDelivery = await telegramAgain.sendUserMessage({
      chatId: 4242,
      fromUserId: 4242,
      text: '/x',
    });
    expect(secondDelivery.updateId).toBe(firstDelivery.updateId + 1);
    expect(webhookCalls.at(-1)?.headers['x-telegram-bot-api-secret-token']).toBe(webhookSecret);

    // Graph: the application (by id), its service principal, and its client secret's hash.
    const graphAgain = second.graph as GraphSurface;
    expect(
      (await graphCall(second.url, 'GET', `applications/${String(app['id'])}`, undefined)).body,
    ).toMatchObject({ displayName: 'claw-persist-app', appId: app['appId'] });
    expect(graphAgain.verifyClientSecret(String(app['appId']), secretText)).toBe(true);
    const servicePrincipals = (await graphCall(second.url, 'GET', 'servicePrincipals', undefined)).body;
    expect(JSON.stringify(servicePrincipals)).toContain(String(app['appId']));

    expect(second.files.read(accountName, 'openclaw-state', 'openclaw.json')).toBe('{ gateway: {} }');
  });

  it('keeps OpenClaw pending pairings through exportState/importState', () => {
    const clock = { now: () => 1_000_000 };
    const options = {
      clock,
      getApp: () => ({ image: 'ghcr.io/openclaw/openclaw:2026.1.1', env: {}, running: true }),
    };
    const before = createOpenClawSurface(options);
    const pending = before.requestPairing('ca-claw-a', { displayName: 'Laptop' });
    const after = createOpenClawSurface(options);
    after.importState!(JSON.parse(JSON.stringify(before.exportState!())));
    expect(after.pairings('ca-claw-a').pending).toEqual([pending]);
  });

  it('starts fresh when the file is missing, and saves changes shortly after a request without waiting for stop', async () => {
    const statePath = join(await tempDir(), 'state.json');
    const messages: string[] = [];
    const sim = await startSimulator({
      statePath,
      stateSaveIntervalMs: 20,
      onStateMessage: (message) => messages.push(message),
    });
    running.push(sim);
    expect(sim.persistence.restored).toBe(false);
    expect(messages).toEqual([expect.stringContaining(`no state file at ${statePath}`)]);
    trustSimulatorCertificate(sim.caCertPem);
    const response = await fetch(`${sim.url}/admin/clock/advance`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ seconds: 90 }),
    });
    expect(response.status).toBe(200);
    const expected = sim.clock.now();
    await expect
      .poll(
        async () => {
          if (!existsSync(statePath)) return undefined;
          return (JSON.parse(await readFile(statePath, 'utf8')) as { clock: { now: number } }).clock.now;
        },
        { timeout: 3000, interval: 20 },
      )
      .toBe(expected);
    // Only the state file: no temporary file is left behind.
    expect(await readdir(join(statePath, '..'))).toEqual(['state.json']);
  });

  it('keeps real-mode time ahead of the wall clock by what was advanced, and resetState starts a new world', async () => {
    const statePath = join(await tempDir(), 'state.json');
    const quiet = { statePath, clock: { mode: 'real' as const }, onStateMessage: () => undefined };
    const first = await startSimulator(quiet);
    first.admin.advance(3600_000);
    const secret = first.broker.clientSecret;
    await first.stop();

    const second = await startSimulator(quiet);
    const offset = second.clock.now() - Date.now();
    expect(offset).toBeGreaterThan(3600_000 - 5_000);
    expect(offset).toBeLessThan(3600_000 + 5_000);
    expect(second.broker.clientSecret).toBe(secret);
    await second.stop();

    const messages: string[] = [];
    const fresh = await startSimulator({
      ...quiet,
      resetState: true,
      onStateMessage: (message) => messages.push(message),
    });
    running.push(fresh);
    expect(fresh.persistence.restored).toBe(false);
    expect(fresh.broker.clientSecret).not.toBe(secret);
    expect(Math.abs(fresh.clock.now() - Date.now())).toBeLessThan(5_000);
    expect(messages).toEqual([`reset: starting a fresh simulated world; ${statePath} will be overwritten`]);
  });

  it('moves a corrupt file aside, says so naming the file, and starts a fresh world', async () => {
    const dir = await tempDir();
    const statePath = join(dir, 'state.json');
    await writeFile(statePath, '{ this is not json');
    const messages: string[] = [];
    const sim = await startSimulator({ statePath, onStateMessage: (message) => messages.push(message) });
    running.push(sim);
    expect(sim.persistence.restored).toBe(false);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toContain(`the state file ${statePath} is not valid JSON`);
    const aside = (await readdir(dir)).find((name) => name.startsWith('state.json.corrupt-'));
    expect(aside).toBeDefined();
    expect(messages[0]).toContain(join(dir, aside!));
    expect(await readFile(join(dir, aside!), 'utf8')).toBe('{ this is not json');
    await sim.stop();
    running.splice(0);
    expect(JSON.parse(await readFile(statePath, 'utf8'))).toMatchObject({ format: stateFileFormat });
  });

  it('moves aside a file of another format or version, and one whose content does not fit', async () => {
    const dir = await tempDir();
    const statePath = join(dir, 'state.json');
    const messages: string[] = [];
    await writeFile(statePath, JSON.stringify({ format: stateFileFormat, version: 999 }));
    const first = await startSimulator({ statePath, onStateMessage: (message) => messages.push(message) });
    await first.stop();
    expect(messages[0]).toContain('has version 999');

    // A well-formed envelope with a broken core: the restore fails, the world starts fresh.
    const saved = JSON.parse(await readFile(statePath, 'utf8')) as { core: { arm: unknown } };
    saved.core.arm = { resources: 'not a list' };
    await writeFile(statePath, JSON.stringify(saved));
    const second = await startSimulator({ statePath, onStateMessage: (message) => messages.push(message) });
    running.push(second);
    expect(second.persistence.restored).toBe(false);
    expect(messages.at(-1)).toMatch(/could not be restored .*moved it to .*corrupt-/);
    expect((await readdir(dir)).filter((name) => name.includes('.corrupt-'))).toHaveLength(2);
  });

  it('refuses to start, naming the port, when a saved port is taken', async () => {
    const statePath = join(await tempDir(), 'state.json');
    const first: FullSimulator = await startFullSimulator({ statePath, onStateMessage: () => undefined });
    const port = Number(new URL(first.url).port);
    await first.stop();
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
    try {
      await expect(startFullSimulator({ statePath, onStateMessage: () => undefined })).rejects.toThrow(
        new RegExp(`Port ${port} \\(the main listener\\) is in use; the state file ${statePath} needs it`),
      );
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
    const again = await startFullSimulator({ statePath, onStateMessage: () => undefined });
    running.push(again);
    expect(again.url).toBe(first.url);
    expect(again.persistence.restored).toBe(true);
  });
});
