import { ContainerAppsAPIClient } from '@azure/arm-appcontainers';
import { AuthorizationManagementClient } from '@azure/arm-authorization';
import { KeyVaultManagementClient } from '@azure/arm-keyvault';
import { ManagedServiceIdentityClient } from '@azure/arm-msi';
import { OperationalInsightsManagementClient } from '@azure/arm-operationalinsights';
import { ResourceManagementClient } from '@azure/arm-resources';
import { StorageManagementClient } from '@azure/arm-storage';
import type { TokenCredential } from '@azure/core-auth';
import type { PipelinePolicy } from '@azure/core-rest-pipeline';
import { SecretClient } from '@azure/keyvault-secrets';
import type { BrokerConfig } from '../config.js';
import { armPacerFor, type ArmPriority } from './armPacing.js';
import { brokerCredential } from './credential.js';

/**
 * The Azure SDK clients the broker uses, built from configuration alone: every endpoint (ARM,
 * authority host, Graph, Key Vault) comes from settings, so the same code talks to Azure, a
 * sovereign cloud or the simulator. Clients are created on first use and reused.
 *
 * Application Insights components go through `resources` (ARM's generic resource API), because the
 * typed @azure/arm-appinsights client cannot express workspace-based components (monitoring.ts).
 *
 * Throttling: the pipelines' default retry policy honours `Retry-After` on 429 and 503 (ARM's
 * per-principal token buckets) and backs off exponentially on other 5xx and dropped connections,
 * up to `config.azure.maxRetries` times per request. Before that, requests are paced to ARM's own
 * limits, first come, first served, by one pacer per principal in the process, corrected by what
 * ARM reports is left (armPacing.ts; AZURE_ARM_PACING); clients built for the `background`
 * (maintenance) leave a reserve to the foreground. What outlasts that reaches the caller as an
 * error that `isTransient` recognises, and the orchestration retries the whole step later.
 */
export class AzureClients {
  readonly credential: TokenCredential;
  readonly subscriptionId: string;
  /** Options for long-running operations (`begin...AndWait`, storage `create`). */
  readonly poll: { updateIntervalInMs: number };
  readonly #config: BrokerConfig;
  readonly #cache = new Map<string, unknown>();
  /** Takes from the process's pacer for this principal: ARM's buckets are per principal (armPacing.ts). */
  readonly #pacing: PipelinePolicy | undefined;

  constructor(
    config: BrokerConfig,
    credential: TokenCredential = brokerCredential(config),
    options: { priority?: ArmPriority } = {},
  ) {
    this.#config = config;
    this.credential = credential;
    this.subscriptionId = config.azure.subscriptionId;
    this.poll = { updateIntervalInMs: config.azure.lroPollIntervalMs };
    this.#pacing = config.azure.armPacing
      ? armPacerFor(principalKey(config)).policy(options.priority ?? 'foreground')
      : undefined;
  }

  get config(): BrokerConfig {
    return this.#config;
  }

  get resources(): ResourceManagementClient {
    return this.#arm(
      'resources',
      (o) => new ResourceManagementClient(this.credential, this.subscriptionId, o),
    );
  }

  get identities(): ManagedServiceIdentityClient {
    return this.#arm('msi', (o) => new ManagedServiceIdentityClient(this.credential, this.subscriptionId, o));
  }

  get keyVaults(): KeyVaultManagementClient {
    return this.#arm('kv', (o) => new KeyVaultManagementClient(this.credential, this.subscriptionId, o));
  }

  get storage(): StorageManagementClient {
    return this.#arm('storage', (o) => new StorageManagementClient(this.credential, this.subscriptionId, o));
  }

  get logAnalytics(): OperationalInsightsManagementClient {
    return this.#arm(
      'logs',
      (o) => new OperationalInsightsManagementClient(this.credential, this.subscriptionId, o),
    );
  }

  get containerApps(): ContainerAppsAPIClient {
    return this.#arm('apps', (o) => new ContainerAppsAPIClient(this.credential, this.subscriptionId, o));
  }

  get authorization(): AuthorizationManagementClient {
    return this.#arm(
      'authorization',
      (o) => new AuthorizationManagementClient(this.credential, this.subscriptionId, o),
    );
  }

  /** A data-plane client for one vault (`https://<vault>.vault.azure.net/`). */
  secrets(vaultUri: string): SecretClient {
    const key = `secrets:${vaultUri.toLowerCase()}`;
    let client = this.#cache.get(key) as SecretClient | undefined;
    if (!client) {
      client = new SecretClient(vaultUri, this.credential, {
        disableChallengeResourceVerification: !this.#config.azure.keyVaultVerifyChallengeResource,
        retryOptions: { maxRetries: this.#config.azure.maxRetries },
      });
      this.#cache.set(key, client);
    }
    return client;
  }

  #arm<T>(key: string, create: (options: ArmClientOptions) => T): T {
    let client = this.#cache.get(key) as T | undefined;
    if (!client) {
      const endpoint = this.#config.azure.resourceManagerEndpoint.replace(/\/+$/, '');
      client = create({
        endpoint,
        $host: endpoint,
        credentialScopes: [`${endpoint}/.default`],
        credentials: { scopes: [`${endpoint}/.default`] },
        retryOptions: { maxRetries: this.#config.azure.maxRetries },
        additionalPolicies: this.#pacing ? [{ policy: this.#pacing, position: 'perRetry' }] : [],
      });
      this.#cache.set(key, client);
    }
    return client;
  }
}

/** ARM's buckets are per subscription and principal (and per ARM instance, for a sovereign cloud). */
function principalKey(config: BrokerConfig): string {
  const { resourceManagerEndpoint, subscriptionId, tenantId, credential } = config.azure;
  return [resourceManagerEndpoint, subscriptionId, tenantId, credential.kind, credential.clientId ?? ''].join(
    '|',
  );
}

interface ArmClientOptions {
  endpoint: string;
  /** The older clients (arm-operationalinsights) take the endpoint as `$host`. */
  $host: string;
  credentialScopes: string[];
  /** The newer, TypeSpec-generated clients (arm-storage 20) take the scopes here. */
  credentials: { scopes: string[] };
  retryOptions: { maxRetries: number };
  additionalPolicies: { policy: PipelinePolicy; position: 'perRetry' }[];
}
