import { ClientSecretCredential } from '@azure/identity';
import { KeyVaultManagementClient } from '@azure/arm-keyvault';
import { ResourceManagementClient } from '@azure/arm-resources';
import { SecretClient } from '@azure/keyvault-secrets';
import { TableServiceClient } from '@azure/data-tables';
import { BlobServiceClient, type BlobClient } from '@azure/storage-blob';
import { QueueServiceClient } from '@azure/storage-queue';
import { startAzurite, type RunningAzurite } from '../../sandbox/azurite.js';
import { startLocalHost, type LocalHost, type LocalHostOptions } from '../../sandbox/host/index.js';
import { createGraphSurface, type GraphSurface } from '../../sandbox/sim/graph.js';
import { createOpenClawSurface, type OpenClawSurface } from '../../sandbox/sim/openclaw.js';
import type { RequestLogEntry } from '../../sandbox/sim/requestLog.js';
import { startSimulator, type Simulator, type StartSimulatorOptions } from '../../sandbox/sim/simulator.js';
import { trustSimulatorCertificate } from '../../sandbox/sim/trustSimulatorCertificate.js';
import { testSettings } from '../support/settings.js';

export const BROKER_GROUP = 'rg-claw-broker';
const BROKER_VAULT = 'kv-claw-broker';
const REGISTRY = 'clawtestacr';
/** The image the gateway runs: the OpenClaw stand-in knows it by its upstream name. */
const IMAGE_REPOSITORY = 'ghcr.io/openclaw/openclaw';

export interface ProvisionWorldOptions {
  simulator?: StartSimulatorOptions;
  /** App settings on top of the world's (timing, for example). */
  settings?: Record<string, string>;
  host?: Partial<LocalHostOptions>;
}

export interface RequestView {
  requestId: string;
  status: string;
  step?: string;
  progress?: { done: number; total: number };
  summary?: string;
  reason?: string;
}

/**
 * The broker on the local Functions host (over Azurite) against the simulated Azure, Graph and
 * OpenClaw gateway, reached by configuration alone, as in the sandbox. Waits and retries are
 * scaled down by settings (1 s retry interval, 50 ms long-running-operation polls) and the
 * simulator's propagation delays are seconds, not minutes; nothing else differs.
 *
 * Bootstraps what exists beside the broker in a real deployment: its resource group, its own Key
 * Vault (where the API stages request secrets) and the image registry the gateways pull from.
 */
export class ProvisionWorld {
  private constructor(
    readonly azurite: RunningAzurite,
    readonly sim: Simulator,
    readonly graph: GraphSurface,
    readonly openclaw: OpenClawSurface,
    readonly settings: Record<string, string>,
    readonly brokerVaultUri: string,
    readonly brokerSecrets: SecretClient,
    private readonly hostOptions: LocalHostOptions,
    private current: LocalHost,
  ) {}

  get host(): LocalHost {
    return this.current;
  }

  static async start(options: ProvisionWorldOptions = {}): Promise<ProvisionWorld> {
    const azurite = await startAzurite();
    const sim = await startSimulator({
      clock: { mode: 'real' },
      dataPlanePropagationSeconds: 2,
      provisioningSeconds: 0.2,
      ...options.simulator,
    });
    trustSimulatorCertificate(sim.caCertPem);
    const graph = createGraphSurface({
      clock: sim.clock,
      tenantId: sim.tenantId,
      verifyToken: (authorization) => {
        const result = sim.identity.authenticate({ authorization });
        return result && result.claims.aud.replace(/\/+$/, '') === `${sim.url}/graph`
          ? { id: result.principal.objectId }
          : undefined;
      },
    });
    sim.mount(graph);
    const openclaw = createOpenClawSurface({
      clock: sim.clock,
      getApp: (appName) => {
        const runtime = sim.containerApp(appName);
        if (!runtime) return undefined;
        const secrets = (sim.arm.get(runtime.id)?.hidden['secrets'] ?? []) as {
          name: string;
          value?: string;
        }[];
        const configJson = secrets.find((secret) => secret.name === 'openclaw-config')?.value;
        return {
          image: runtime.image,
          env: runtime.env,
          running: runtime.running,
          ...(configJson !== undefined ? { configJson } : {}),
        };
      },
    });
    sim.mount(openclaw);

    const credential = new ClientSecretCredential(
      sim.tenantId,
      sim.broker.clientId,
      sim.broker.clientSecret,
      {
        authorityHost: sim.url,
        disableInstanceDiscovery: true,
      },
    );
    const arm = { endpoint: sim.url, credentialScopes: [`${sim.url}/.default`] };
    await new ResourceManagementClient(credential, sim.subscriptionId, arm).resourceGroups.createOrUpdate(
      BROKER_GROUP,
      { location: 'westeurope', tags: { 'managed-by': 'operator' } },
    );
    const vault = await new KeyVaultManagementClient(
      credential,
      sim.subscriptionId,
      arm,
    ).vaults.beginCreateOrUpdateAndWait(
      BROKER_GROUP,
      BROKER_VAULT,
      {
        location: 'westeurope',
        properties: {
          tenantId: sim.tenantId,
          sku: { family: 'A', name: 'standard' },
          enableRbacAuthorization: true,
        },
      },
      { updateIntervalInMs: 20 },
    );
    sim.grantRole(sim.broker.objectId, 'Key Vault Secrets Officer', vault.id!, {
      createdAt: sim.clock.now() - 3_600_000,
    });
    const registryId = seedRegistry(sim);
    const brokerVaultUri = vault.properties.vaultUri!;
    const brokerSecrets = new SecretClient(brokerVaultUri, credential, {
      disableChallengeResourceVerification: true,
    });
    const adminGroup = graph.groups('shire-admins')[0]!;

    const settings = testSettings({
      AzureWebJobsStorage: azurite.connectionString,
      DURABLE_TASK_HUB: 'clawprovision',
      AZURE_SUBSCRIPTION_ID: sim.subscriptionId,
      AZURE_TENANT_ID: sim.tenantId,
      AZURE_CREDENTIAL: 'client-secret',
      AZURE_CLIENT_ID: sim.broker.clientId,
      AZURE_CLIENT_SECRET: sim.broker.clientSecret,
      AZURE_AUTHORITY_HOST: sim.url,
      AZURE_RESOURCE_MANAGER_ENDPOINT: sim.url,
      MICROSOFT_GRAPH_ENDPOINT: `${sim.url}/graph`,
      KEY_VAULT_VERIFY_CHALLENGE_RESOURCE: 'false',
      BROKER_KEY_VAULT_URI: brokerVaultUri,
      TELEGRAM_BOT_TOKEN_REF: `${brokerVaultUri}secrets/telegram-bot-token`,
      TELEGRAM_WEBHOOK_SECRET_REF: `${brokerVaultUri}secrets/telegram-webhook-secret`,
      IMAGE_REGISTRY_ID: registryId,
      IMAGE_REPOSITORY,
      ENTRA_ADMIN_GROUP_ID: adminGroup.id,
      OPENCLAW_DEFAULT_VERSION: '2026.9.6',
      OPENCLAW_GATEWAY_URL_TEMPLATE: `${sim.url}/openclaw/{app}`,
      NAME_SALT: 'scenario',
      // Provisioning alone: no rotation or SAS sweep may enqueue work for the slugs mid-test.
      SWEEPS_PAUSED: 'true',
      AZURE_LRO_POLL_INTERVAL_MS: '50',
      PROVISION_RETRY_INTERVAL: '1s',
      PROVISION_READY_POLL_INTERVAL: '1s',
      PROVISION_PROPAGATION_TIMEOUT: '2m',
      PROVISION_READY_TIMEOUT: '1m',
      ...options.settings,
    }) as Record<string, string>;
    const hostOptions: LocalHostOptions = {
      app: () => import('../../functions/index.js'),
      settings,
      storage: { connectionString: azurite.connectionString },
      port: 0,
      ...options.host,
    };
    const host = await startLocalHost(hostOptions);
    return new ProvisionWorld(
      azurite,
      sim,
      graph,
      openclaw,
      settings,
      brokerVaultUri,
      brokerSecrets,
      hostOptions,
      host,
    );
  }

  /** Stops the host (in-flight work is lost, as in a crash) and starts a new one on the same storage. */
  async restartHost(): Promise<void> {
    await this.current.stop();
    this.current = await startLocalHost(this.hostOptions);
  }

  async api(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const response = await fetch(`${this.current.baseUrl}${path}`, {
      method,
      headers: { 'x-functions-key': this.current.functionKey, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  }

  /** Submits a provision request through the HTTP API, as the CLI does. */
  async requestProvision(
    slug: string,
    requestId: string,
    params: Record<string, unknown> = {},
  ): Promise<void> {
    const answer = await this.api('POST', '/api/requests', { op: 'provision', slug, requestId, params });
    if (answer.status !== 202)
      throw new Error(`submitting ${requestId} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  }

  async request(requestId: string): Promise<RequestView> {
    return (await this.api('GET', `/api/requests/${requestId}`)).body as unknown as RequestView;
  }

  /** Polls the request until `done` says so; the bound is a safety net, not an assertion. */
  async until(
    requestId: string,
    done: (view: RequestView) => boolean,
    what = 'the wanted state',
    timeoutMs = 150_000,
  ): Promise<RequestView> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let view: RequestView | undefined;
      try {
        view = await this.request(requestId);
      } catch {
        view = undefined; // the host is restarting
      }
      if (view && done(view)) return view;
      if (Date.now() > deadline)
        throw new Error(`request ${requestId} is ${JSON.stringify(view)}; wanted ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  untilFinished(requestId: string, timeoutMs?: number): Promise<RequestView> {
    return this.until(
      requestId,
      (view) => ['succeeded', 'failed', 'rejected'].includes(view.status),
      'an outcome',
      timeoutMs,
    );
  }

  /** Provisions and waits for the outcome. */
  async provision(
    slug: string,
    requestId: string,
    params: Record<string, unknown> = {},
  ): Promise<RequestView> {
    await this.requestProvision(slug, requestId, params);
    return this.untilFinished(requestId);
  }

  async environment(slug: string): Promise<Record<string, unknown>> {
    return (await this.api('GET', `/api/environments/${slug}`)).body;
  }

  /** The simulator's request log from `afterSeq` on. */
  requests(afterSeq = 0): RequestLogEntry[] {
    return this.sim.admin.requests(afterSeq);
  }

  lastSeq(): number {
    return this.sim.admin.requests().at(-1)?.seq ?? 0;
  }

  /** Stages a secret in the broker's vault, as the HTTP API does for request secrets; returns its reference. */
  async stageSecret(name: string, value: string): Promise<string> {
    await this.brokerSecrets.setSecret(name, value);
    return `${this.brokerVaultUri.replace(/\/+$/, '')}/secrets/${name}`;
  }

  /**
   * Every secret value the simulator holds: Key Vault secret versions (live and deleted, every
   * vault), storage account keys, Log Analytics shared keys, the keys registered on Container Apps
   * environments, and the broker's own client secret.
   */
  secretValues(): string[] {
    const values = new Set<string>([this.sim.broker.clientSecret]);
    for (const [, vault] of this.sim.keyVault.exportState()) {
      for (const [, secret] of vault.secrets)
        for (const version of secret.versions) values.add(version.value);
    }
    for (const resource of this.sim.arm.resources.values()) {
      const hidden = resource.hidden;
      for (const key of (hidden['keys'] ?? []) as { value: string }[]) values.add(key.value);
      const shared = hidden['sharedKeys'] as Record<string, string> | undefined;
      if (shared) for (const value of Object.values(shared)) values.add(value);
      if (typeof hidden['accountKey'] === 'string') values.add(hidden['accountKey']);
    }
    return [...values].filter((value) => value.length >= 16);
  }

  /**
   * Every place the broker could have leaked a secret to: all of its storage in Azurite (task hub
   * blobs with orchestration histories, inputs, outputs and custom status; the registry and request
   * tables; queues), the live instances' histories and timelines, the host's logs and the
   * simulator's request log. One string per place.
   */
  async observableText(): Promise<{ where: string; text: string }[]> {
    const places: { where: string; text: string }[] = [];
    const connection = this.azurite.connectionString;
    const blobs = BlobServiceClient.fromConnectionString(connection);
    for await (const container of blobs.listContainers()) {
      const client = blobs.getContainerClient(container.name);
      for await (const blob of client.listBlobsFlat()) {
        const text = await readChangingBlob(client.getBlobClient(blob.name));
        if (text !== undefined) places.push({ where: `blob ${container.name}/${blob.name}`, text });
      }
    }
    const tables = TableServiceClient.fromConnectionString(connection, { allowInsecureConnection: true });
    for await (const table of tables.listTables()) {
      const { TableClient } = await import('@azure/data-tables');
      const client = TableClient.fromConnectionString(connection, table.name!, {
        allowInsecureConnection: true,
      });
      for await (const entity of client.listEntities()) {
        places.push({ where: `table ${table.name}`, text: JSON.stringify(entity) });
      }
    }
    const queues = QueueServiceClient.fromConnectionString(connection);
    for await (const queue of queues.listQueues()) {
      const peeked = await queues.getQueueClient(queue.name).peekMessages({ numberOfMessages: 32 });
      places.push({ where: `queue ${queue.name}`, text: JSON.stringify(peeked.peekedMessageItems) });
    }
    places.push({ where: 'host logs', text: JSON.stringify(this.current.logs) });
    places.push({ where: 'simulator request log', text: JSON.stringify(this.requests()) });
    return places;
  }

  /** Live instances' histories, timelines and status, by instance id. */
  instanceText(instanceIds: string[]): { where: string; text: string }[] {
    return instanceIds.map((id) => ({
      where: `instance ${id}`,
      text: JSON.stringify({
        history: this.current.history(id),
        timeline: this.current.timeline(id),
        status: this.current.getStatus(id),
      }),
    }));
  }

  async stop(): Promise<void> {
    await this.current.stop();
    await this.sim.stop();
    await this.azurite.stop();
  }
}

/**
 * A blob's text, read again when the running host rewrote it mid-download; undefined when the host
 * deleted it (a completed work item) between listing and reading.
 */
async function readChangingBlob(blob: BlobClient): Promise<string | undefined> {
  for (let attempt = 1; ; attempt++) {
    try {
      return (await blob.downloadToBuffer()).toString('utf8');
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) return undefined;
      if (attempt >= 5) throw error;
    }
  }
}

/**
 * The container registry the gateways pull from, created directly in the simulator's state (it
 * has no registry provider; the broker only assigns AcrPull on it). Returns its ARM id.
 */
function seedRegistry(sim: Simulator): string {
  const id = `/subscriptions/${sim.subscriptionId}/resourceGroups/${BROKER_GROUP}/providers/Microsoft.ContainerRegistry/registries/${REGISTRY}`;
  const now = sim.clock.now();
  sim.arm.put({
    id,
    type: 'Microsoft.ContainerRegistry/registries',
    name: REGISTRY,
    subscriptionId: sim.subscriptionId,
    resourceGroup: BROKER_GROUP,
    body: {
      id,
      name: REGISTRY,
      type: 'Microsoft.ContainerRegistry/registries',
      location: 'westeurope',
      properties: { loginServer: `${REGISTRY}.azurecr.io`, provisioningState: 'Succeeded' },
    },
    hidden: {},
    createdAt: now,
    updatedAt: now,
  });
  return id;
}
