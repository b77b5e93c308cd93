import { readFileSync } from 'node:fs';
import { ContainerAppsAPIClient } from '@azure/arm-appcontainers';
import { StorageManagementClient } from '@azure/arm-storage';
import { TableClient } from '@azure/data-tables';
import type { ClientSecretCredential } from '@azure/identity';
import { SecretClient } from '@azure/keyvault-secrets';
import { QueueClient } from '@azure/storage-queue';
import { ManualClock } from '../../sandbox/host/index.js';
import type { StoredResource } from '../../sandbox/sim/arm/armState.js';
import type { Simulator, SimulatorContext } from '../../sandbox/sim/simulator.js';
import type { SimSurface } from '../../sandbox/sim/surface.js';
import type { TelegramSurface } from '../../sandbox/sim/telegram.js';
import { SANDBOX_TELEGRAM } from '../../sandbox/world.js';
import { footprintNames } from '../../shared/domain/footprint.js';
import type { EnvironmentRecord } from '../../shared/storage/environmentRegistry.js';
import { ProvisionWorld, type RequestView } from '../scenario/provisionWorld.js';

export const ADMIN_CHAT_ID = SANDBOX_TELEGRAM.adminChatId;
const DAY = 86_400_000;

/**
 * A host clock the simulator follows: before every callback fires (a durable timer, a timer
 * trigger, a retry delay) and before the hosts settle, the simulator's manual clock is moved to the
 * host's time. So Key Vault reference refresh, revision restarts, role propagation and SAS expiry
 * happen in the same simulated time as the broker's timers and sweeps.
 */
export class FollowedClock extends ManualClock {
  #follower: ((now: number) => void) | undefined;
  #detached = false;

  /**
   * While detached, advancing does not wait for the hosts to be idle: for tests that hold
   * activities on purpose (they would never be idle) and move time while they are held.
   */
  set detached(value: boolean) {
    this.#detached = value;
  }

  override attachSettler(settle: () => Promise<void>): () => void {
    return super.attachSettler(() => (this.#detached ? Promise.resolve() : settle()));
  }

  constructor(start: number) {
    super(start);
    this.attachSettler(() => {
      this.#sync();
      return Promise.resolve();
    });
  }

  follow(follower: (now: number) => void): void {
    this.#follower = follower;
    this.#sync();
  }

  override schedule(at: number, callback: () => void): () => void {
    return super.schedule(at, () => {
      this.#sync();
      callback();
    });
  }

  #sync(): void {
    this.#follower?.(this.now());
  }
}

/** One storage key regeneration, as the spy saw the world when ARM received it. */
export interface RegenerationSeen {
  at: number;
  account: string;
  keyName: string;
  /** The environments' file share registrations that held the key about to be regenerated. */
  usedByShareRegistration: boolean;
  /** Whether the slug vault's latest storage key held it. */
  usedByStoredSecret: boolean;
}

export interface MaintenanceWorldOptions {
  settings?: Record<string, string>;
  /** Keep the durable task hub in memory (faster; no host restart then). Default: Azurite. */
  durableInMemory?: boolean;
}

/**
 * The provisioning scenario world (Azurite, the local host running the broker, the simulated ARM,
 * Key Vault, Graph and OpenClaw gateway) with simulated time: the host runs on a ManualClock the
 * simulator follows, the Telegram stand-in receives the admin chat, and a spy watches every storage
 * key regeneration to tell whether the key was in use at that moment.
 */
export class MaintenanceWorld {
  readonly regenerations: RegenerationSeen[] = [];

  private constructor(
    readonly world: ProvisionWorld,
    readonly clock: FollowedClock,
    readonly telegram: TelegramSurface,
    readonly regenerationsRef: RegenerationSeen[],
  ) {
    this.regenerations = regenerationsRef;
  }

  static async start(options: MaintenanceWorldOptions = {}): Promise<MaintenanceWorld> {
    const start = Math.floor(Date.now() / 1000) * 1000;
    const clock = new FollowedClock(start);
    const hostJson = JSON.parse(readFileSync('host.json', 'utf8')) as {
      extensions: { durableTask: Record<string, unknown>; queues: Record<string, unknown> };
    };
    hostJson.extensions.queues['maxPollingInterval'] = '00:00:00.100';
    hostJson.extensions.durableTask['maxConcurrentActivityFunctions'] = 32;
    const regenerations: RegenerationSeen[] = [];
    const world = await ProvisionWorld.start({
      simulator: {
        clock: { mode: 'manual', startAt: start },
        provisioningSeconds: 0,
        dataPlanePropagationSeconds: 2,
        surfaces: [(context) => regenerationSpy(context, regenerations)],
      },
      // The broker only sends to the admin chat here; no update comes in, so no webhook.
      telegram: { registerWebhook: false },
      host: { clock, hostJson, ...(options.durableInMemory ? { storage: 'memory' as const } : {}) },
      settings: {
        ROTATION_VERIFY_INTERVAL: '5s',
        ROTATION_VERIFY_TIMEOUT: '5m',
        PROVISION_PROPAGATION_TIMEOUT: '10m',
        PROVISION_READY_TIMEOUT: '10m',
        SAS_SWEEP_SCHEDULE: '0 0 */6 * * *',
        // ProvisionWorld pauses the sweeps for provisioning-only tests; maintenance runs on them.
        SWEEPS_PAUSED: 'false',
        ...options.settings,
      },
    });
    const maintenance = new MaintenanceWorld(world, clock, world.telegram, regenerations);
    clock.follow((now) => {
      const behind = now - world.sim.clock.now();
      if (behind > 0) world.sim.admin.advance(behind);
    });
    return maintenance;
  }

  get sim(): Simulator {
    return this.world.sim;
  }

  /** Moves simulated time forward; everything due in between runs in order (timers, sweeps, requests). */
  async advance(ms: number): Promise<void> {
    await this.clock.advance(ms);
  }

  async advanceDays(days: number): Promise<void> {
    await this.advance(days * DAY);
  }

  /** Advances in steps until the request has an outcome. */
  async settle(requestId: string, stepMs = 1_000, maxSteps = 2_000): Promise<RequestView> {
    for (let step = 0; step < maxSteps; step++) {
      const view = await this.world.request(requestId);
      if (['succeeded', 'failed', 'rejected'].includes(view.status)) return view;
      await this.advance(stepMs);
    }
    throw new Error(
      `request ${requestId} did not finish: ${JSON.stringify(await this.world.request(requestId))}`,
    );
  }

  /** Provisions several slugs at once and waits for all of them in simulated time. */
  async provisionAll(slugs: string[]): Promise<void> {
    for (const slug of slugs) {
      const ref = await this.world.stageSecret(`prov-${slug}`, `7000000042:AAH0maint${slug.padEnd(30, 'x')}`);
      await this.world.requestProvision(slug, `prov-${slug}`, { telegramBotToken: { secretRef: ref } });
    }
    for (const slug of slugs) {
      const view = await this.settle(`prov-${slug}`);
      if (view.status !== 'succeeded') throw new Error(`provisioning ${slug}: ${JSON.stringify(view)}`);
    }
    await this.advance(Math.max(60_000, Date.now() - this.clock.now() + 60_000));
  }

  /** Provisions a slug (Telegram channel, a staged bot token) and waits in simulated time. */
  async provision(slug: string, params: Record<string, unknown> = {}): Promise<RequestView> {
    const ref = await this.world.stageSecret(`prov-${slug}`, `7000000042:AAH0maint${slug.padEnd(30, 'x')}`);
    await this.world.requestProvision(slug, `prov-${slug}`, {
      telegramBotToken: { secretRef: ref },
      ...params,
    });
    const view = await this.settle(`prov-${slug}`);
    // Provisioning stamps secret ages with the wall clock; move simulated time past it.
    await this.advance(Math.max(60_000, Date.now() - this.clock.now() + 60_000));
    return view;
  }

  /**
   * Puts a lifecycle request straight on the intake queue, as a tool that enqueues directly does,
   * with the host's time as requestedAt.
   */
  async enqueue(
    op: 'rotate-secrets' | 'renew-sas' | 'upgrade',
    slug: string,
    requestId: string,
    params: Record<string, unknown> = {},
    requestedAt = new Date(this.clock.now()).toISOString(),
  ): Promise<void> {
    const queue = new QueueClient(this.world.azurite.connectionString, 'lifecycle-requests');
    await queue.createIfNotExists();
    await queue.sendMessage(
      JSON.stringify({
        schemaVersion: 1,
        requestId,
        op,
        slug,
        params,
        requestedBy: { kind: 'operator', id: 'scenario' },
        requestedAt,
      }),
    );
  }

  /** Every request the broker has recorded (id, op, slug, status, acceptance time), from its table. */
  async requestRecords(): Promise<
    { requestId: string; op: string; slug: string; status: string; acceptedAt: string }[]
  > {
    const table = TableClient.fromConnectionString(this.world.azurite.connectionString, 'requests', {
      allowInsecureConnection: true,
    });
    const records: { requestId: string; op: string; slug: string; status: string; acceptedAt: string }[] = [];
    for await (const entity of table.listEntities<{
      op: string;
      slug: string;
      status: string;
      acceptedAt: string;
    }>()) {
      records.push({
        requestId: entity.partitionKey!,
        op: entity.op,
        slug: entity.slug,
        status: entity.status,
        acceptedAt: entity.acceptedAt,
      });
    }
    return records;
  }

  async environment(slug: string): Promise<EnvironmentRecord> {
    return (await this.world.environment(slug)) as unknown as EnvironmentRecord;
  }

  names(slug: string, incarnation = 1) {
    return footprintNames(slug, { salt: 'scenario', incarnation });
  }

  credential(): ClientSecretCredential {
    return this.world.credential();
  }

  arm() {
    const options = { endpoint: this.sim.url, credentialScopes: [`${this.sim.url}/.default`] };
    return {
      storage: new StorageManagementClient(this.credential(), this.sim.subscriptionId, {
        endpoint: this.sim.url,
        credentials: { scopes: [`${this.sim.url}/.default`] },
      }),
      apps: new ContainerAppsAPIClient(this.credential(), this.sim.subscriptionId, options),
    };
  }

  vault(slug: string): SecretClient {
    const name = this.names(slug).keyVault;
    const vault = [...this.sim.arm.resources.values()].find(
      (resource) => resource.type === 'Microsoft.KeyVault/vaults' && resource.name === name,
    );
    const uri = (vault?.body['properties'] as { vaultUri: string }).vaultUri;
    return new SecretClient(uri, this.credential(), { disableChallengeResourceVerification: true });
  }

  /** Every version of a secret in the slug's vault, oldest first, straight from the simulator. */
  secretVersions(
    slug: string,
    name: string,
  ): { version: string; value: string; enabled: boolean; created: number; expires?: number | undefined }[] {
    const record = this.sim.keyVault.getVault(this.names(slug).keyVault)?.secrets.get(name.toLowerCase());
    return (record?.versions ?? []).map((version) => ({
      version: version.version,
      value: version.value,
      enabled: version.enabled,
      created: version.created,
      expires: version.expires,
    }));
  }

  /** What the slug's gateway answers to its admin RPC (`device.pair.list`) with this bearer token. */
  async gatewayRpcStatus(slug: string, token: string): Promise<number> {
    const response = await fetch(
      `${this.sim.url}/openclaw/${this.names(slug).containerApp}/api/v1/admin/rpc`,
      {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ id: '1', method: 'device.pair.list', params: {} }),
      },
    );
    await response.arrayBuffer();
    return response.status;
  }

  /** Admin chat messages the broker's bot sent. */
  adminMessages(): { text: string; at: number }[] {
    return this.telegram
      .outbox(ADMIN_CHAT_ID)
      .filter((entry) => entry.kind === 'sent')
      .map((entry) => ({ text: entry.text, at: entry.date * 1000 }));
  }

  async stop(): Promise<void> {
    await this.world.stop();
  }
}

/**
 * Watches ARM for storage key regenerations (answering nothing, so ARM itself handles them) and
 * records, at that instant, whether any consumer still held the key: a managed environment's file
 * share registration, or the slug vault's latest `storage-account-key`.
 */
function regenerationSpy(context: SimulatorContext, seen: RegenerationSeen[]): SimSurface {
  return {
    name: 'arm',
    prefix: '/',
    claims: (url) => /\/regeneratekey$/i.test(url.pathname),
    handle(req) {
      const match = /\/storageAccounts\/([^/]+)\/regenerateKey$/i.exec(req.url.pathname);
      if (match && req.method === 'POST') {
        const accountName = match[1]!;
        const requested = req.json<{ keyName?: unknown }>().keyName;
        const keyName = typeof requested === 'string' ? requested.toLowerCase() : '';
        const account = context.arm
          .find('Microsoft.Storage/storageAccounts')
          .find((a) => a.name === accountName);
        const keys = (account?.hidden['keys'] ?? []) as { keyName: string; value: string }[];
        const value = keys.find((key) => key.keyName === keyName)?.value;
        const registrations = context.arm
          .find('Microsoft.App/managedEnvironments/storages')
          .filter((storage: StoredResource) => {
            const azureFile = (storage.body['properties'] as { azureFile?: { accountName?: string } })
              .azureFile;
            return azureFile?.accountName === accountName;
          });
        const stored = context.arm
          .find('Microsoft.KeyVault/vaults')
          .filter((vault) => vault.resourceGroup === account?.resourceGroup)
          .map((vault) => context.arm.keyVault.latest(vault.name, 'storage-account-key')?.value);
        seen.push({
          at: context.clock.now(),
          account: accountName,
          keyName,
          usedByShareRegistration: registrations.some((storage) => storage.hidden['accountKey'] === value),
          usedByStoredSecret: value !== undefined && stored.includes(value),
        });
      }
      return Promise.resolve(undefined);
    },
    snapshot: () => ({ regenerations: seen.length }),
  };
}
