import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { ClientSecretCredential } from '@azure/identity';
import { KeyVaultManagementClient } from '@azure/arm-keyvault';
import { ResourceManagementClient } from '@azure/arm-resources';
import { SecretClient } from '@azure/keyvault-secrets';
import { startAzurite, type AzuriteOptions, type RunningAzurite } from './azurite.js';
import { createRealGatewayPool, type RealGatewayPool } from './openclaw-real/gatewayPool.js';
import {
  appStateShare,
  startFullSimulator,
  trustSimulatorCertificate,
  type FullSimulator,
  type FullSimulatorOptions,
} from './sim/index.js';
import type { GraphSurface } from './sim/graph.js';
import type { OpenClawBackend, OpenClawSurface } from './sim/openclaw.js';
import type { TelegramSurface } from './sim/telegram.js';
import { startLocalHost, type LocalHost, type LocalHostOptions } from './host/index.js';
import { LATEST_SUPPORTED_OPENCLAW_VERSION } from '../shared/openclaw/versions.js';

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
const STAGING_VAULT = 'kv-claw-staging';
const REGISTRY = 'clawsandboxacr';
export const SANDBOX_FUNCTION_KEY = 'sandbox-function-key';
/**
 * The sandbox runs without Easy Auth, so its function key is one named operator
 * (OPERATOR_FUNCTION_KEY_IDENTITY), allowed to approve (OPERATOR_APPROVER_IDS): requests it asks
 * for are its own, so it cannot approve those; the admin chat does.
 */
export const SANDBOX_OPERATOR = 'sandbox-operator';
export const SANDBOX_OPENCLAW_VERSION = LATEST_SUPPORTED_OPENCLAW_VERSION;

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
  /**
   * More of the local host's options: its clock (real time by default), host.json, its durable
   * storage (Azurite by default).
   */
  host?: Pick<LocalHostOptions, 'clock' | 'hostJson' | 'storage' | 'easyAuth'>;
  /** Simulator options passed through (throttle, latencies, propagation delays). */
  simulator?: FullSimulatorOptions;
  /** Extra or replaced app settings. */
  settings?: Record<string, string>;
  /** The image registry seeded beside the broker (an ACR mirror of ghcr.io/openclaw/openclaw). */
  registryName?: string;
  /**
   * The Telegram stand-in with the sandbox's admin chat and people (SANDBOX_TELEGRAM), its bot token
   * and a webhook secret in the broker's vault, and the bot's webhook pointed at the broker (unless
   * registerWebhook is false). The token is made once per data folder unless given. false: no
   * Telegram at all (the broker's Telegram settings then reference secrets that do not exist).
   */
  telegram?: false | { botToken?: string; registerWebhook?: boolean };
  /**
   * Real OpenClaw gateways instead of the stand-in (sandbox/openclaw-real/gatewayPool.ts); their
   * state shares live under `dataDir` (or a temporary directory without one).
   */
  realOpenClaw?: { maxRunning?: number };
  /** Fixed Azurite ports (default: free ones), e.g. its usual 10000-10002 for other tools. */
  azurite?: Pick<AzuriteOptions, 'blobPort' | 'queuePort' | 'tablePort'>;
}

/** What startSandboxWorld brought up, for a SandboxWorld or a subclass (tests add their helpers). */
export interface SandboxWorldParts {
  azurite: RunningAzurite;
  sim: FullSimulator;
  settings: Record<string, string>;
  brokerVaultUri: string;
  stagingVaultUri: string;
  hostOptions: LocalHostOptions;
  host: LocalHost;
  realOpenClaw?: RealGatewayPool;
}

/**
 * The broker's whole world on this machine: Azurite for its storage, the simulated Azure (ARM, Key
 * Vault, Entra, Graph), Telegram and OpenClaw, and the local Functions host running the broker with
 * settings that point at them. See startSandboxWorld.
 */
export class SandboxWorld {
  readonly azurite: RunningAzurite;
  readonly sim: FullSimulator;
  /** The app settings the broker runs with (no secret values: the secrets are Key Vault references). */
  readonly settings: Record<string, string>;
  /** The broker's own Key Vault (with a trailing slash): its Telegram secrets. Purge protection on. */
  readonly brokerVaultUri: string;
  readonly brokerSecrets: SecretClient;
  /** The staging vault (with a trailing slash), where the API stages request secrets. No purge protection. */
  readonly stagingVaultUri: string;
  readonly stagingSecrets: SecretClient;
  /** The real gateways, when the world runs them (`realOpenClaw`). */
  readonly realOpenClaw: RealGatewayPool | undefined;
  readonly #hostOptions: LocalHostOptions;
  #host: LocalHost;

  constructor(parts: SandboxWorldParts) {
    this.realOpenClaw = parts.realOpenClaw;
    this.azurite = parts.azurite;
    this.sim = parts.sim;
    this.settings = parts.settings;
    this.brokerVaultUri = parts.brokerVaultUri;
    this.brokerSecrets = brokerVaultClient(parts.sim, parts.brokerVaultUri);
    this.stagingVaultUri = parts.stagingVaultUri;
    this.stagingSecrets = brokerVaultClient(parts.sim, parts.stagingVaultUri);
    this.#hostOptions = parts.hostOptions;
    this.#host = parts.host;
  }

  /** The running local host (a new one after restartHost). */
  get host(): LocalHost {
    return this.#host;
  }

  get telegram(): TelegramSurface {
    if (!this.sim.telegram) throw new Error('this sandbox world runs without the Telegram stand-in');
    return this.sim.telegram as TelegramSurface;
  }

  get graph(): GraphSurface {
    return this.sim.graph as GraphSurface;
  }

  get openclaw(): OpenClawSurface {
    return this.sim.openclaw;
  }

  /** A new client-secret credential of the broker's service principal in the simulated tenant. */
  credential(): ClientSecretCredential {
    return brokerCredential(this.sim);
  }

  /** Stops the host (in-flight work is lost, as in a crash) and starts a new one on the same storage. */
  async restartHost(): Promise<void> {
    await this.#host.stop();
    this.#host = await startLocalHost(this.#hostOptions);
  }

  async stop(): Promise<void> {
    await this.#host.stop();
    await this.realOpenClaw?.stop();
    await this.sim.stop();
    await this.azurite.stop();
  }
}

/**
 * Starts the broker's whole world (see SandboxWorld). The broker reaches the simulator through
 * configuration alone: endpoints, the authority host and a client-secret credential of the
 * simulated tenant.
 *
 * Bootstraps what an operator deploys once beside the broker (infra/main.bicep): the broker's
 * resource group, its Key Vault holding the Telegram bot token and webhook secret, and the image
 * registry the gateways pull from. Idempotent, so a restart over persisted state reuses them.
 * With `World`, the world is built as that subclass of SandboxWorld.
 */
export function startSandboxWorld(options?: SandboxWorldOptions): Promise<SandboxWorld>;
export function startSandboxWorld<W extends SandboxWorld>(
  options: SandboxWorldOptions,
  World: new (parts: SandboxWorldParts) => W,
): Promise<W>;
export async function startSandboxWorld(
  options: SandboxWorldOptions = {},
  World: new (parts: SandboxWorldParts) => SandboxWorld = SandboxWorld,
): Promise<SandboxWorld> {
  const telegram = options.telegram === false ? undefined : (options.telegram ?? {});
  const botToken = telegram ? (telegram.botToken ?? sandboxBotToken(options.dataDir)) : undefined;
  // The real gateways run on the simulator's Azure Files shares: the share's files are laid out in
  // the gateway's state dir when it starts and written back when it stops, so a snapshot or a
  // restore through the Files API (an upgrade) acts on the state a real gateway wrote.
  let simForVolumes: FullSimulator | undefined;
  const stopping = new Set<string>();
  const realOpenClaw = options.realOpenClaw
    ? createRealGatewayPool({
        dataDir: options.dataDir ?? mkdtempSync(join(tmpdir(), 'claw-real-openclaw-')),
        stateVolume: {
          materialize: (app, dir) => simForVolumes && shareToDirectory(simForVolumes, app, dir),
          capture: (app, dir) => simForVolumes && directoryToShare(simForVolumes, app, dir),
        },
        ...options.realOpenClaw,
      })
    : undefined;
  const azurite = await startAzurite({
    ...(options.dataDir ? { location: join(options.dataDir, 'azurite') } : {}),
    ...options.azurite,
  });
  let sim: FullSimulator | undefined;
  try {
    sim = await startFullSimulator({
      port: options.simPort ?? 0,
      clock: { mode: 'real' },
      ...(options.dataDir
        ? { statePath: join(options.dataDir, 'simulator.json'), resetState: options.reset ?? false }
        : {}),
      ...(botToken
        ? {
            telegram: {
              botToken,
              users: [...SANDBOX_TELEGRAM.approvers, SANDBOX_TELEGRAM.outsider],
              chats: [{ id: SANDBOX_TELEGRAM.adminChatId, type: 'group', title: 'claw admins' }],
            },
          }
        : {}),
      ...options.simulator,
      // Entra replicates as in a real tenant: a fresh app, principal or group is not found for a
      // second (sandbox/sim/graph.ts, replicationDelayMs). A test may set its own.
      graph: { replicationDelayMs: 1000, ...options.simulator?.graph },
      ...(realOpenClaw
        ? { openclaw: { ...options.simulator?.openclaw, backend: stoppable(realOpenClaw, stopping) } }
        : {}),
    });
    if (realOpenClaw) {
      sim.mount(realOpenClaw.adminSurface());
      simForVolumes = sim;
      // A deactivated revision's container stops (SIGTERM): the real gateway stops with it and its
      // state goes back to the share before anything snapshots it.
      const pool = realOpenClaw;
      // While it drains, nothing starts it again; a revision that starts lets requests through.
      sim.arm.onContainerAppEvent((event) => {
        const app = event.appId.split('/').pop()!.toLowerCase();
        if (event.kind === 'revisionDeactivated') {
          stopping.add(app);
          void pool.stopApp(app);
        } else if (event.kind === 'revisionCreated' || event.kind === 'revisionActivated') {
          stopping.delete(app);
        }
      });
    }
    trustSimulatorCertificate(sim.caCertPem);
    const { brokerVaultUri, stagingVaultUri } = await bootstrapBrokerVaults(sim, botToken);
    const adminGroup = (sim.graph as GraphSurface).groups('shire-admins')[0];
    if (!adminGroup) throw new Error('the simulated tenant has no shire-admins group');
    const registry = options.registryName ?? REGISTRY;

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
      ...(telegram ? { TELEGRAM_API_BASE: `${sim.url}/telegram` } : {}),
      BROKER_KEY_VAULT_URI: brokerVaultUri,
      STAGING_KEY_VAULT_URI: stagingVaultUri,
      IMAGE_REGISTRY_ID: seedRegistry(sim, registry),
      IMAGE_REPOSITORY: `${registry}.azurecr.io/openclaw/openclaw`,
      ENTRA_ADMIN_GROUP_ID: adminGroup.id,
      TELEGRAM_APPROVER_IDS: SANDBOX_TELEGRAM.approvers.map((user) => user.id).join(','),
      TELEGRAM_ADMIN_CHAT_ID: String(SANDBOX_TELEGRAM.adminChatId),
      TELEGRAM_BOT_TOKEN_REF: `${brokerVaultUri}secrets/telegram-bot-token`,
      TELEGRAM_WEBHOOK_SECRET_REF: `${brokerVaultUri}secrets/telegram-webhook-secret`,
      OPENCLAW_DEFAULT_VERSION: SANDBOX_OPENCLAW_VERSION,
      OPENCLAW_GATEWAY_URL_TEMPLATE: `${sim.url}/openclaw/{app}`,
      // Upgrades read publish times and image digests from the simulator's registry stand-ins.
      NPM_REGISTRY_URL: `${sim.url}/npm`,
      IMAGE_REGISTRY_URL: `${sim.url}/oci`,
      NAME_SALT: 'sandbox',
      OPERATOR_FUNCTION_KEY_IDENTITY: SANDBOX_OPERATOR,
      OPERATOR_APPROVER_IDS: SANDBOX_OPERATOR,
      // Waits for propagation poll at a sixth of it (1-30 s), so --propagation sets how long a
      // provision takes; at the broker's 30 s default a 5 s propagation would still cost 30 s a wait.
      PROVISION_RETRY_INTERVAL: `${sandboxRetrySeconds(options.simulator?.dataPlanePropagationSeconds)}s`,
      // The sweeps' timer bindings read these (%SETTING%): daily rotation sweep, hourly SAS sweep.
      ROTATION_SWEEP_SCHEDULE: '0 0 3 * * *',
      SAS_SWEEP_SCHEDULE: '0 0 * * * *',
      // The upgrade timer's binding (it starts waves only with UPGRADE_AUTO_WAVES=true).
      UPGRADE_WAVE_SCHEDULE: '0 0 6 * * *',
      ...options.settings,
    };

    const hostOptions: LocalHostOptions = {
      app: options.app ?? (() => import('../functions/index.js')),
      settings,
      storage: { connectionString: azurite.connectionString },
      port: options.hostPort ?? 7071,
      functionKey: SANDBOX_FUNCTION_KEY,
      // The broker must never yield a sent task inside a new Task.any / Task.all: Azure would run
      // it again (durable-js#574). Refuse it here so a regression fails in the sandbox and tests.
      durable: { rejectRepeatedTasks: true },
      ...options.host,
    };
    const host = await startLocalHost(hostOptions);
    try {
      if (telegram && telegram.registerWebhook !== false) {
        // Behind (emulated) Easy Auth the setup call signs in as the first principal it knows.
        const token = Object.keys(hostOptions.easyAuth?.principals ?? {})[0];
        await registerTelegramWebhook(host.baseUrl, token);
      }
    } catch (error) {
      await host.stop();
      throw error;
    }
    return new World({
      azurite,
      sim,
      settings,
      brokerVaultUri,
      stagingVaultUri,
      hostOptions,
      host,
      ...(realOpenClaw ? { realOpenClaw } : {}),
    });
  } catch (error) {
    await realOpenClaw?.stop();
    await sim?.stop();
    await azurite.stop();
    throw error;
  }
}

/** The provisioning retry interval for a simulated data-plane propagation (default 30 s). */
export function sandboxRetrySeconds(propagationSeconds = 30): number {
  return Math.min(30, Math.max(1, Math.round(propagationSeconds / 6)));
}

function brokerCredential(sim: FullSimulator): ClientSecretCredential {
  return new ClientSecretCredential(sim.tenantId, sim.broker.clientId, sim.broker.clientSecret, {
    authorityHost: sim.url,
    disableInstanceDiscovery: true,
  });
}

function brokerVaultClient(sim: FullSimulator, vaultUri: string): SecretClient {
  return new SecretClient(vaultUri, brokerCredential(sim), { disableChallengeResourceVerification: true });
}

/**
 * Creates (or finds) the broker's two Key Vaults in the simulated subscription, as the broker's
 * deployment (infra/modules/broker.bicep) does: its own vault, with purge protection, holding the
 * Telegram bot token (when there is one) and a webhook secret; and the staging vault, without purge
 * protection and with the shortest soft-delete retention, where the API stages request secrets
 * until provisioning moves and purges them. Returns their URIs.
 */
async function bootstrapBrokerVaults(
  sim: FullSimulator,
  botToken: string | undefined,
): Promise<{ brokerVaultUri: string; stagingVaultUri: string }> {
  const credential = brokerCredential(sim);
  const arm = { endpoint: sim.url, credentialScopes: [`${sim.url}/.default`] };
  const groups = new ResourceManagementClient(credential, sim.subscriptionId, arm);
  await groups.resourceGroups.createOrUpdate(BROKER_GROUP, {
    location: 'westeurope',
    tags: { 'managed-by': 'operator' },
  });
  const vaults = new KeyVaultManagementClient(credential, sim.subscriptionId, arm);
  const create = async (name: string, protection: { purgeProtection: boolean; retentionDays: number }) => {
    const vault = await vaults.vaults.beginCreateOrUpdateAndWait(
      BROKER_GROUP,
      name,
      {
        location: 'westeurope',
        properties: {
          tenantId: sim.tenantId,
          sku: { family: 'A', name: 'standard' },
          enableRbacAuthorization: true,
          enableSoftDelete: true,
          softDeleteRetentionInDays: protection.retentionDays,
          ...(protection.purgeProtection ? { enablePurgeProtection: true } : {}),
        },
      },
      // The simulator answers no Retry-After; its provisioning takes provisioningSeconds at most.
      { updateIntervalInMs: 20 },
    );
    const vaultUri = vault.properties.vaultUri;
    if (!vaultUri || !vault.id) throw new Error(`the simulated vault ${name} has no URI`);
    // The deployment grants this at deploy time; granted in the past so it has already propagated.
    sim.grantRole(sim.broker.objectId, 'Key Vault Secrets Officer', vault.id, {
      createdAt: sim.clock.now() - 3_600_000,
    });
    return vaultUri.endsWith('/') ? vaultUri : `${vaultUri}/`;
  };
  const brokerVaultUri = await create(BROKER_VAULT, { purgeProtection: true, retentionDays: 90 });
  const stagingVaultUri = await create(STAGING_VAULT, { purgeProtection: false, retentionDays: 7 });
  if (botToken) {
    const secrets = brokerVaultClient(sim, brokerVaultUri);
    await setSecretOnce(secrets, 'telegram-bot-token', botToken);
    await setSecretOnce(secrets, 'telegram-webhook-secret', randomBytes(32).toString('base64url'));
  }
  return { brokerVaultUri, stagingVaultUri };
}

/**
 * The container registry the gateways pull from (an ACR mirror of ghcr.io/openclaw/openclaw), put
 * straight into the simulator's state: the simulator has no registry provider, and the broker
 * only assigns AcrPull on it. Returns its ARM id.
 */
function seedRegistry(sim: FullSimulator, name: string): string {
  const id = `/subscriptions/${sim.subscriptionId}/resourceGroups/${BROKER_GROUP}/providers/Microsoft.ContainerRegistry/registries/${name}`;
  if (sim.arm.get(id)) return id;
  const now = sim.clock.now();
  const body = {
    id,
    name,
    type: 'Microsoft.ContainerRegistry/registries',
    location: 'westeurope',
    properties: { loginServer: `${name}.azurecr.io`, provisioningState: 'Succeeded' },
  };
  sim.arm.put({
    id,
    type: body.type,
    name,
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
async function registerTelegramWebhook(baseUrl: string, bearerToken: string | undefined): Promise<void> {
  const response = await fetch(`${baseUrl}/api/telegram/setup`, {
    method: 'POST',
    headers: {
      'x-functions-key': SANDBOX_FUNCTION_KEY,
      ...(bearerToken ? { authorization: `Bearer ${bearerToken}` } : {}),
    },
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

/** A share's files into a gateway's (empty) state dir, as the mount shows them. */
function shareToDirectory(sim: FullSimulator, app: string, dir: string): void {
  const share = appStateShare(sim.arm, app);
  if (!share) return;
  for (const file of sim.files.filePaths(share.account, share.share)) {
    const content = sim.files.readBytes(share.account, share.share, file);
    if (content === undefined) continue;
    const target = join(dir, ...file.split('/'));
    mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
    writeFileSync(target, content, { mode: 0o600 });
  }
}

/** A stopped gateway's state dir back onto its share, replacing what the share held. */
function directoryToShare(sim: FullSimulator, app: string, dir: string): void {
  const share = appStateShare(sim.arm, app);
  if (!share || !existsSync(dir)) return;
  const files = new Map<string, Buffer>();
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = join(entry.parentPath, entry.name);
    files.set(relative(dir, full).split(sep).join('/'), readFileSync(full));
  }
  for (const file of sim.files.filePaths(share.account, share.share))
    if (!files.has(file)) sim.files.remove(share.account, share.share, file);
  for (const [file, content] of files) sim.files.write(share.account, share.share, file, content);
}

/** The pool as the simulator's gateway backend, answering 503 for an app whose revision is stopping. */
function stoppable(pool: RealGatewayPool, stopping: ReadonlySet<string>): OpenClawBackend {
  return {
    forward: (app, state, req, route, getApp) =>
      stopping.has(app.toLowerCase())
        ? Promise.resolve({ status: 503, body: { ready: false, failing: ['revision-stopping'] } })
        : pool.forward(app, state, req, route, getApp),
  };
}
