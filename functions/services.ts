import type { TokenCredential } from '@azure/core-auth';
import { GatewayDevicePairing, type DevicePairingPort } from '../shared/approvals/devicePairing.js';
import { RefusalCoalescer } from '../shared/approvals/refusalCoalescer.js';
import { UNAUTHENTICATED_AUDIT_WINDOW_MS } from '../shared/approvals/webhook.js';
import { AzureClients } from '../shared/azure/azureClients.js';
import { brokerCredential, brokerPrincipalId } from '../shared/azure/credential.js';
import { EntraClient } from '../shared/azure/entra.js';
import { probeGateway } from '../shared/azure/gatewayProbe.js';
import { getConfig, type BrokerConfig } from '../shared/config.js';
import { Functions } from '../shared/functionNames.js';
import { messageOf } from '../shared/errors.js';
import { createLogger, type LogFields } from '../shared/logger.js';
import { telegramAdminChat } from '../shared/maintenance/adminChat.js';
import type { MaintenanceDependencies } from '../shared/maintenance/target.js';
import { createProvisionSteps, type ProvisionSteps } from '../shared/provisioning/provisionSteps.js';
import { createRotationSteps, type RotationSteps } from '../shared/rotation/rotationSteps.js';
import { createSasSteps, type SasSteps } from '../shared/sas/sasSteps.js';
import { ApprovalStore } from '../shared/storage/approvalStore.js';
import { AuditTrail } from '../shared/storage/auditTrail.js';
import { BrokerStorage } from '../shared/storage/brokerStorage.js';
import { EnvironmentRegistry } from '../shared/storage/environmentRegistry.js';
import { NonceStore } from '../shared/storage/nonceStore.js';
import { RejectedMessageStore } from '../shared/storage/rejectedMessageStore.js';
import { RequestStore } from '../shared/storage/requestStore.js';
import { SeenUpdateStore } from '../shared/storage/seenUpdateStore.js';
import { SweepControl } from '../shared/sweeps/sweepControl.js';
import { SecretCache, keyVaultSecretReader } from '../shared/telegram/secretCache.js';
import { TelegramClient } from '../shared/telegram/telegramClient.js';
import { createTeardownSteps, type TeardownSteps } from '../shared/teardown/teardownSteps.js';
import { NpmRegistryClient } from '../shared/registries/npmRegistry.js';
import { OciRegistryClient } from '../shared/registries/ociRegistry.js';
import { TableImageDigestStore } from '../shared/storage/imageDigestStore.js';
import { imageDigestFor } from '../shared/upgrades/imageDigest.js';
import { createUpgradeSteps, type UpgradeSteps } from '../shared/upgrades/upgradeSteps.js';
import { stateShareSnapshots } from '../shared/upgrades/stateSnapshots.js';
import { UpgradeWaveStore } from '../shared/storage/upgradeWaveStore.js';
import { StorageNames } from '../shared/storage/brokerStorage.js';
import { createWaveSteps, type WaveSteps } from '../shared/upgrades/waveSteps.js';

/**
 * The app's long-lived services: the one composition root. Everything a trigger or an activity
 * uses is built here, once per process, from the validated configuration, and on first use (a
 * host that only runs the intake never builds a Graph client). Triggers and activities take what
 * they need from `services()`; nothing else constructs clients, stores or step factories.
 */
export interface Services {
  config: BrokerConfig;
  storage: BrokerStorage;
  requests: RequestStore;
  rejected: RejectedMessageStore;
  registry: EnvironmentRegistry;
  approvals: ApprovalStore;
  nonces: NonceStore;
  seenUpdates: SeenUpdateStore;
  audit: AuditTrail;
  /** The broker's own identity. */
  credential: TokenCredential;
  /** The Azure SDK clients for work an operator or a request is waiting on. */
  azure: AzureClients;
  /** The same for maintenance the sweeps start by the fleet: it leaves a share of ARM's buckets to the foreground. */
  backgroundAzure: AzureClients;
  entra: EntraClient;
  /** The broker's Telegram secrets (bot token, webhook secret), cached for a minute. */
  secrets: SecretCache;
  telegram: TelegramClient;
  pairing: DevicePairingPort;
  /** Refusals of chat members who may not act, coalesced per kind and minute (see ChatServiceDeps). */
  outsiderRefusals: RefusalCoalescer;
  /** Refusals of webhook calls without the secret token, coalesced the same way. */
  webhookRefusals: RefusalCoalescer;
  /** The sweeps' stored switch, read by the timer sweeps and set through the sweep endpoints. */
  sweepControl: SweepControl;
  provisionSteps: ProvisionSteps;
  teardownSteps: TeardownSteps;
  rotationSteps: RotationSteps;
  sasSteps: SasSteps;
  upgradeSteps: UpgradeSteps;
  // Upgrade waves (issue 14, item 3).
  /** The fleet waves' records and slug rows (table `upgradewaves`). */
  upgradeWaves: UpgradeWaveStore;
  /** npm's publish times (the release-age clock), from NPM_REGISTRY_URL. */
  npm: NpmRegistryClient;
  waveSteps: WaveSteps;
}

/** Within this window only the first refusal of each kind of outsider is audited in full. */
export const OUTSIDER_AUDIT_WINDOW_MS = 60_000;

let instance: Services | undefined;

export function services(): Services {
  instance ??= compose(getConfig());
  return instance;
}

/**
 * Runs the app's triggers and activities on `given` instead of services built from `process.env`:
 * tests build theirs with `compose(loadConfig(settings))` (and may replace any member) and import
 * the handlers statically.
 */
export function useServices(given: Services): void {
  instance = given;
}

/** Builds the services over `config`, each member on first use. */
export function compose(config: BrokerConfig): Services {
  const storage = new BrokerStorage(config);
  const built = new Map<keyof Services, unknown>();
  const lazy = <K extends keyof Services>(key: K, build: () => Services[K]) => ({
    get(): Services[K] {
      if (!built.has(key)) built.set(key, build());
      return built.get(key) as Services[K];
    },
    enumerable: true,
  });
  const s = { config, storage } as Services;
  const maintenance = (): MaintenanceDependencies => ({
    config,
    registry: s.registry,
    azure: s.backgroundAzure,
    entra: s.entra,
    chat: telegramAdminChat(s.telegram, config.telegram.adminChatId),
    probe: probeGateway,
  });
  Object.defineProperties(s, {
    requests: lazy('requests', () => new RequestStore(storage)),
    rejected: lazy('rejected', () => new RejectedMessageStore(storage)),
    registry: lazy('registry', () => new EnvironmentRegistry(storage)),
    approvals: lazy('approvals', () => new ApprovalStore(storage)),
    nonces: lazy('nonces', () => new NonceStore(storage)),
    seenUpdates: lazy('seenUpdates', () => new SeenUpdateStore(storage)),
    audit: lazy('audit', () => new AuditTrail(storage)),
    credential: lazy('credential', () => brokerCredential(config)),
    azure: lazy('azure', () => new AzureClients(config, s.credential)),
    backgroundAzure: lazy(
      'backgroundAzure',
      () => new AzureClients(config, s.credential, { priority: 'background' }),
    ),
    entra: lazy('entra', () => new EntraClient(s.credential, config.azure.graphEndpoint)),
    secrets: lazy(
      'secrets',
      () => new SecretCache(keyVaultSecretReader((vaultUri) => s.azure.secrets(vaultUri))),
    ),
    telegram: lazy(
      'telegram',
      () =>
        new TelegramClient({
          apiBase: config.telegram.apiBase,
          token: () => s.secrets.get(config.telegram.botTokenRef),
        }),
    ),
    pairing: lazy('pairing', () => new GatewayDevicePairing({ config, azure: s.azure })),
    outsiderRefusals: lazy('outsiderRefusals', () =>
      auditedRefusals(() => s.audit, 'chat', OUTSIDER_AUDIT_WINDOW_MS, { component: 'chat' }),
    ),
    webhookRefusals: lazy('webhookRefusals', () =>
      auditedRefusals(() => s.audit, 'webhook', UNAUTHENTICATED_AUDIT_WINDOW_MS, {
        function: Functions.telegramWebhook,
      }),
    ),
    sweepControl: lazy('sweepControl', () => new SweepControl(storage)),
    provisionSteps: lazy('provisionSteps', () =>
      createProvisionSteps({
        config,
        registry: s.registry,
        azure: s.azure,
        entra: s.entra,
        brokerPrincipalId: () => brokerPrincipalId(config, s.credential),
        probe: probeGateway,
      }),
    ),
    teardownSteps: lazy('teardownSteps', () =>
      createTeardownSteps({
        config,
        azure: s.azure,
        entra: s.entra,
        registry: s.registry,
        storage,
        brokerPrincipalId: () => brokerPrincipalId(config, s.credential),
      }),
    ),
    rotationSteps: lazy('rotationSteps', () => createRotationSteps(maintenance())),
    upgradeSteps: lazy('upgradeSteps', () => {
      const oci = new OciRegistryClient({ registryUrl: config.upgrades.imageRegistryUrl });
      const digests = new TableImageDigestStore(storage);
      const repository = config.image.repository.split('/').slice(1).join('/');
      return createUpgradeSteps({
        config,
        azure: s.azure,
        registry: s.registry,
        chat: telegramAdminChat(s.telegram, config.telegram.adminChatId),
        probe: probeGateway,
        publishTimes: () => s.npm.publishTimes('openclaw'),
        digestOf: (version, now) =>
          imageDigestFor(version, {
            registry: oci,
            store: digests,
            image: { registryUrl: config.upgrades.imageRegistryUrl, repository },
            now,
            // Every plan asks the registry again: a tag that moved since its digest was frozen is refused.
            recheck: true,
          }),
        snapshots: stateShareSnapshots(s.azure),
        log: createLogger(console, { component: 'upgrade' }),
      });
    }),
    sasSteps: lazy('sasSteps', () =>
      createSasSteps({ ...maintenance(), brokerPrincipalId: () => brokerPrincipalId(config, s.credential) }),
    ),
    // Upgrade waves (issue 14, item 3).
    upgradeWaves: lazy('upgradeWaves', () => new UpgradeWaveStore(storage)),
    npm: lazy('npm', () => new NpmRegistryClient({ registryUrl: config.upgrades.npmRegistryUrl })),
    waveSteps: lazy('waveSteps', () =>
      createWaveSteps({
        config,
        registry: s.registry,
        requests: s.requests,
        waves: s.upgradeWaves,
        queue: () => storage.queue(StorageNames.lifecycleQueue),
        publishTimes: (name) => s.npm.publishTimes(name),
        chat: {
          send: async (text) => {
            const sent = await s.telegram.sendMessage({ chatId: config.telegram.adminChatId, text });
            return { chatId: config.telegram.adminChatId, messageId: sent.messageId };
          },
          edit: (chat, text) =>
            s.telegram.editMessageText({ chatId: chat.chatId, messageId: chat.messageId, text }),
        },
        log: createLogger(console, { component: 'upgrade-waves' }),
      }),
    ),
  });
  return s;
}

/**
 * Refusals of Telegram callers who may not act, audited as one line per kind and window instead of
 * one each (a flood cannot flood the audit trail). A window closes after the invocation that opened
 * it has ended, so a failure to audit goes to the process log, not the invocation's.
 */
function auditedRefusals(
  audit: () => AuditTrail,
  action: 'chat' | 'webhook',
  windowMs: number,
  logFields: LogFields,
): RefusalCoalescer {
  return new RefusalCoalescer(
    async ({ key, count, from, to }) => {
      await audit().add({
        channel: 'telegram',
        actor: 'unknown',
        action,
        outcome: 'refused',
        reason: `${key}: ${count} more from ${from.toISOString()} to ${to.toISOString()} (counted, not audited one by one)`,
      });
    },
    {
      windowMs,
      onError: (error) =>
        createLogger(console, logFields).error(`auditing coalesced ${action} refusals failed`, {
          error: messageOf(error),
        }),
    },
  );
}

/** The sweeps' stored switch (services().sweepControl). */
export function sweepControl(): SweepControl {
  return services().sweepControl;
}
