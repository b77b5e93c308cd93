import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ClientSecretCredential } from '@azure/identity';
import { KeyVaultManagementClient } from '@azure/arm-keyvault';
import { ResourceManagementClient } from '@azure/arm-resources';
import { SecretClient } from '@azure/keyvault-secrets';
import { startAzurite, type RunningAzurite } from './azurite.js';
import { startFullSimulator, trustSimulatorCertificate, type FullSimulator } from './sim/index.js';
import type { GraphSurface } from './sim/graph.js';
import type { TelegramSurface } from './sim/telegram.js';
import { startLocalHost, type LocalHost } from './host/index.js';
import type { HostClock } from './host/clock.js';

/** The fake people and chat of the sandbox's admin Telegram chat. */
export const SANDBOX_TELEGRAM = {
  adminChatId: -1001,
  approvers: [
    { id: 1001, first_name: 'Ada', username: 'ada_admin' },
    { id: 1002, first_name: 'Brian', username: 'brian_admin' },
  ],
  outsider: { id: 2001, first_name: 'Eve', username: 'eve' },
} as const;

const BROKER_GROUP = 'rg-claw-broker';
const BROKER_VAULT = 'kv-claw-broker';
const REGISTRY = 'clawsandboxacr';
export const SANDBOX_FUNCTION_KEY = 'sandbox-function-key';
export const SANDBOX_OPENCLAW_VERSION = '2026.10.20';

export interface SandboxWorldOptions {
  /** Folder for persisted state (Azurite, simulator); omitted means in memory. */
  dataDir?: string;
  /** With dataDir: ignore the saved state and start from nothing. */
  reset?: boolean;
  /** The broker's HTTP port; 7071 as in Azure Functions Core Tools, 0 for a free one. */
  hostPort?: number;
  /** The simulator's port; 0 for a free one. */
  simPort?: number;
  /** The app module to load; the broker's functions/index.js by default. */
  app?: () => Promise<unknown>;
  /** The local host's clock; real time by default. */
  clock?: HostClock;
  /** Simulator options passed through (throttle, latencies, propagation delays). */
  simulator?: Parameters<typeof startFullSimulator>[0];
  /** Extra or replaced app settings. */
  settings?: Record<string, string>;
}

export interface SandboxWorld {
  azurite: RunningAzurite;
  sim: FullSimulator;
  host: LocalHost;
  /** The app settings the broker runs with (no secret values: the secrets are Key Vault references). */
  settings: Record<string, string>;
  telegram: TelegramSurface;
  graph: GraphSurface;
  stop(): Promise<void>;
}

/**
 * The broker's whole world on this machine: Azurite for its storage, the simulated Azure (ARM, Key
 * Vault, Entra, Graph), Telegram and OpenClaw, and the local Functions host running the broker with
 * settings that point at them. The broker reaches the simulator through configuration alone:
 * endpoints, the authority host and a client-secret credential of the simulated tenant.
 *
 * Bootstraps what an operator deploys once beside the broker (infra/main.bicep): the broker's
 * resource group and Key Vault holding the Telegram bot token and webhook secret. Idempotent, so a
 * restart over persisted state reuses them.
 */
export async function startSandboxWorld(options: SandboxWorldOptions = {}): Promise<SandboxWorld> {
  const botToken = sandboxBotToken(options.dataDir);
  const azurite = await startAzurite(options.dataDir ? { location: join(options.dataDir, 'azurite') } : {});
  let sim: FullSimulator | undefined;
  try {
    sim = await startFullSimulator({
      port: options.simPort ?? 0,
      clock: { mode: 'real' },
      ...(options.dataDir
        ? { statePath: join(options.dataDir, 'simulator.json'), resetState: options.reset ?? false }
        : {}),
      telegram: {
        botToken,
        users: [...SANDBOX_TELEGRAM.approvers, SANDBOX_TELEGRAM.outsider],
        chats: [{ id: SANDBOX_TELEGRAM.adminChatId, type: 'group', title: 'claw admins' }],
      },
      ...options.simulator,
    });
    trustSimulatorCertificate(sim.caCertPem);
    const telegram = sim.telegram as TelegramSurface;
    const graph = sim.graph as GraphSurface;
    const brokerVaultUri = await bootstrapBrokerVault(sim, botToken);
    const adminGroup = graph.groups('shire-admins')[0];
    if (!adminGroup) throw new Error('the simulated tenant has no shire-admins group');

    const settings: Record<string, string> = {
      FUNCTIONS_WORKER_RUNTIME: 'node',
      AzureWebJobsStorage: azurite.connectionString,
      DURABLE_TASK_HUB: 'clawsandbox',
      AZURE_SUBSCRIPTION_ID: sim.subscriptionId,
      AZURE_TENANT_ID: sim.tenantId,
      AZURE_LOCATION: 'westeurope',
      AZURE_CREDENTIAL: 'client-secret',
      AZURE_CLIENT_ID: sim.broker.clientId,
      AZURE_CLIENT_SECRET: sim.broker.clientSecret,
      AZURE_AUTHORITY_HOST: sim.url,
      AZURE_RESOURCE_MANAGER_ENDPOINT: sim.url,
      MICROSOFT_GRAPH_ENDPOINT: `${sim.url}/graph`,
      KEY_VAULT_VERIFY_CHALLENGE_RESOURCE: 'false',
      TELEGRAM_API_BASE: `${sim.url}/telegram`,
      BROKER_KEY_VAULT_URI: brokerVaultUri,
      IMAGE_REGISTRY_ID: seedRegistry(sim),
      IMAGE_REPOSITORY: `${REGISTRY}.azurecr.io/openclaw/openclaw`,
      ENTRA_ADMIN_GROUP_ID: adminGroup.id,
      TELEGRAM_APPROVER_IDS: SANDBOX_TELEGRAM.approvers.map((user) => user.id).join(','),
      TELEGRAM_ADMIN_CHAT_ID: String(SANDBOX_TELEGRAM.adminChatId),
      TELEGRAM_BOT_TOKEN_REF: `${brokerVaultUri}secrets/telegram-bot-token`,
      TELEGRAM_WEBHOOK_SECRET_REF: `${brokerVaultUri}secrets/telegram-webhook-secret`,
      OPENCLAW_DEFAULT_VERSION: SANDBOX_OPENCLAW_VERSION,
      OPENCLAW_GATEWAY_URL_TEMPLATE: `${sim.url}/openclaw/{app}`,
      NAME_SALT: 'sandbox',
      // The sweeps' timer bindings read these (%SETTING%): daily rotation sweep, hourly SAS sweep.
      ROTATION_SWEEP_SCHEDULE: '0 0 3 * * *',
      SAS_SWEEP_SCHEDULE: '0 0 * * * *',
      ...options.settings,
    };

    const host = await startLocalHost({
      app: options.app ?? (() => import('../functions/index.js')),
      settings,
      storage: { connectionString: azurite.connectionString },
      port: options.hostPort ?? 7071,
      functionKey: SANDBOX_FUNCTION_KEY,
      ...(options.clock ? { clock: options.clock } : {}),
    });
    if (!options.app) await registerTelegramWebhook(host.baseUrl);
    const running = sim;
    return {
      azurite,
      sim: running,
      host,
      settings,
      telegram,
      graph,
      stop: async () => {
        await host.stop();
        await running.stop();
        await azurite.stop();
      },
    };
  } catch (error) {
    await sim?.stop();
    await azurite.stop();
    throw error;
  }
}

/**
 * Creates (or finds) the broker's own Key Vault in the simulated subscription, as the broker's
 * deployment would, and stores the Telegram bot token and a webhook secret in it. Returns its URI.
 */
async function bootstrapBrokerVault(sim: FullSimulator, botToken: string): Promise<string> {
  const credential = new ClientSecretCredential(sim.tenantId, sim.broker.clientId, sim.broker.clientSecret, {
    authorityHost: sim.url,
    disableInstanceDiscovery: true,
  });
  const arm = { endpoint: sim.url, credentialScopes: [`${sim.url}/.default`] };
  const groups = new ResourceManagementClient(credential, sim.subscriptionId, arm);
  await groups.resourceGroups.createOrUpdate(BROKER_GROUP, {
    location: 'westeurope',
    tags: { 'managed-by': 'operator' },
  });
  const vaults = new KeyVaultManagementClient(credential, sim.subscriptionId, arm);
  const vault = await vaults.vaults.beginCreateOrUpdateAndWait(BROKER_GROUP, BROKER_VAULT, {
    location: 'westeurope',
    properties: {
      tenantId: sim.tenantId,
      sku: { family: 'A', name: 'standard' },
      enableRbacAuthorization: true,
      enableSoftDelete: true,
    },
  });
  const vaultUri = vault.properties.vaultUri;
  if (!vaultUri || !vault.id) throw new Error('the simulated broker vault has no URI');
  // The deployment grants this at deploy time; granted in the past so it has already propagated.
  sim.grantRole(sim.broker.objectId, 'Key Vault Secrets Officer', vault.id, {
    createdAt: sim.clock.now() - 3_600_000,
  });
  const secrets = new SecretClient(vaultUri, credential, { disableChallengeResourceVerification: true });
  await setSecretOnce(secrets, 'telegram-bot-token', botToken);
  await setSecretOnce(secrets, 'telegram-webhook-secret', randomBytes(32).toString('base64url'));
  return vaultUri.endsWith('/') ? vaultUri : `${vaultUri}/`;
}

/**
 * The container registry the gateways pull from (an ACR mirror of ghcr.io/openclaw/openclaw), put
 * straight into the simulator's state: the simulator has no registry provider, and the broker
 * only assigns AcrPull on it. Returns its ARM id.
 */
function seedRegistry(sim: FullSimulator): string {
  const id = `/subscriptions/${sim.subscriptionId}/resourceGroups/${BROKER_GROUP}/providers/Microsoft.ContainerRegistry/registries/${REGISTRY}`;
  if (sim.arm.get(id)) return id;
  const now = sim.clock.now();
  const body = {
    id,
    name: REGISTRY,
    type: 'Microsoft.ContainerRegistry/registries',
    location: 'westeurope',
    properties: { loginServer: `${REGISTRY}.azurecr.io`, provisioningState: 'Succeeded' },
  };
  sim.arm.put({
    id,
    type: body.type,
    name: REGISTRY,
    subscriptionId: sim.subscriptionId,
    resourceGroup: BROKER_GROUP,
    body,
    hidden: {},
    createdAt: now,
    updatedAt: now,
  });
  return id;
}

/**
 * Points the simulated bot's webhook at the broker, as an operator does once after deploying
 * (`claw-broker telegram-setup`).
 */
async function registerTelegramWebhook(baseUrl: string): Promise<void> {
  const response = await fetch(`${baseUrl}/api/telegram/setup`, {
    method: 'POST',
    headers: { 'x-functions-key': SANDBOX_FUNCTION_KEY },
  });
  if (!response.ok)
    throw new Error(`registering the Telegram webhook answered ${response.status}: ${await response.text()}`);
}

/** Sets a secret unless it exists, so a restarted sandbox keeps the values the broker already uses. */
async function setSecretOnce(secrets: SecretClient, name: string, value: string): Promise<void> {
  try {
    await secrets.getSecret(name);
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode !== 404) throw error;
    await secrets.setSecret(name, value);
  }
}

/**
 * The simulated bot's token: made once per data folder and kept there, so a restarted sandbox's
 * Telegram stand-in and the broker's vault agree. Fake, but still never printed.
 */
function sandboxBotToken(dataDir: string | undefined): string {
  const fresh = () => `7000000001:${randomBytes(24).toString('base64url')}`;
  if (!dataDir) return fresh();
  const file = join(dataDir, 'telegram-bot-token');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dataDir, { recursive: true });
  const token = fresh();
  writeFileSync(file, token, { mode: 0o600 });
  return token;
}
