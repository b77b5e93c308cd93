import { randomUUID } from 'node:crypto';
import type { AzureClients } from '../azure/azureClients.js';
import { isNotFound } from '../azure/azureErrors.js';
import { gatewayProbeUrl } from '../azure/gatewayProbe.js';
import { readSecret } from '../azure/keyVaultSecrets.js';
import type { BrokerConfig } from '../config.js';
import { SLUG_SECRET_NAMES, footprintNames } from '../domain/footprint.js';
import { isSupportedOpenClawVersion, openClawVersionSupport } from '../openclaw/versions.js';
import type { EnvironmentRecord } from '../storage/environmentRegistry.js';

/** A browser's pending pairing request, as the gateway's `device.pair.list` reports it. */
export interface PendingDevice {
  requestId: string;
  deviceId: string;
  displayName?: string | undefined;
  platform?: string | undefined;
  remoteIp?: string | undefined;
  isRepair?: boolean | undefined;
  ts?: number | undefined;
}

/** The gateway, or the way to it, said no; `message` is safe to show (it never holds the token). */
export class GatewayAdminError extends Error {
  override readonly name = 'GatewayAdminError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The device pairing admin methods of one environment's gateway. */
export interface DevicePairingPort {
  list(environment: EnvironmentRecord): Promise<PendingDevice[]>;
  approve(environment: EnvironmentRecord, pairingRequestId: string): Promise<void>;
  reject(environment: EnvironmentRecord, pairingRequestId: string): Promise<void>;
}

export interface GatewayDevicePairingDeps {
  config: Pick<BrokerConfig, 'nameSalt' | 'openclaw'>;
  azure: AzureClients;
  fetch?: typeof fetch;
}

const RPC_TIMEOUT_MS = 15_000;

/** The admin RPC route of the environment's OpenClaw version, or a GatewayAdminError saying why not. */
function adminRpcPathOf(environment: EnvironmentRecord): string {
  const version = environment.openclawVersion;
  if (!version || !isSupportedOpenClawVersion(version)) {
    throw new GatewayAdminError(
      'UnknownVersion',
      `environment ${environment.slug} runs OpenClaw ${version ?? '(unknown)'}, which this broker does not support`,
    );
  }
  const path = openClawVersionSupport(version).adminRpcPath;
  if (!path) {
    throw new GatewayAdminError('NoAdminRpc', `OpenClaw ${version} has no admin RPC plugin`);
  }
  return path;
}

/**
 * Device pairing through the gateway's admin RPC (the bundled `admin-http-rpc` plugin's route, `POST
 * <gateway>/api/v1/admin/rpc` in the supported versions, which provisioning enables; `device.pair.list`,
 * `device.pair.approve {requestId}`, `device.pair.reject {requestId}`), authorised with the
 * environment's gateway token. The token is read from the slug's own Key Vault (found through ARM
 * by its derived name) for each call, with the broker's identity, and goes only into the
 * Authorization header: never into a result, an error, a log or the audit trail.
 */
export class GatewayDevicePairing implements DevicePairingPort {
  private readonly fetch: typeof fetch;

  constructor(private readonly deps: GatewayDevicePairingDeps) {
    this.fetch = deps.fetch ?? globalThis.fetch;
  }

  async list(environment: EnvironmentRecord): Promise<PendingDevice[]> {
    const payload = (await this.call(environment, 'device.pair.list', {})) as { pending?: unknown };
    if (!Array.isArray(payload.pending))
      throw new GatewayAdminError('BadAnswer', 'the gateway answered without a pending list');
    return payload.pending.flatMap((item: unknown) => {
      if (!item || typeof item !== 'object') return [];
      const entry = item as Record<string, unknown>;
      if (typeof entry['requestId'] !== 'string' || typeof entry['deviceId'] !== 'string') return [];
      const text = (key: string) => {
        const value = entry[key];
        return typeof value === 'string' ? value.slice(0, 80) : undefined;
      };
      return [
        {
          requestId: entry['requestId'].slice(0, 80),
          deviceId: entry['deviceId'].slice(0, 128),
          displayName: text('displayName'),
          platform: text('platform'),
          remoteIp: text('remoteIp'),
          isRepair: entry['isRepair'] === true,
          ts: typeof entry['ts'] === 'number' ? entry['ts'] : undefined,
        },
      ];
    });
  }

  async approve(environment: EnvironmentRecord, pairingRequestId: string): Promise<void> {
    await this.call(environment, 'device.pair.approve', { requestId: pairingRequestId });
  }

  async reject(environment: EnvironmentRecord, pairingRequestId: string): Promise<void> {
    await this.call(environment, 'device.pair.reject', { requestId: pairingRequestId });
  }

  private async call(
    environment: EnvironmentRecord,
    method: string,
    params: Record<string, unknown>,
  ): Promise<unknown> {
    if (!environment.url) {
      throw new GatewayAdminError('NoGateway', `environment ${environment.slug} has no gateway URL yet`);
    }
    const names = footprintNames(environment.slug, {
      salt: this.deps.config.nameSalt,
      incarnation: environment.incarnation,
    });
    const rpcPath = adminRpcPathOf(environment);
    const token = await this.gatewayToken(names.resourceGroup, names.keyVault);
    const url = gatewayProbeUrl(
      this.deps.config.openclaw.gatewayUrlTemplate,
      { fqdn: new URL(environment.url).host, name: names.containerApp },
      rpcPath,
    );
    let response: Response;
    try {
      response = await this.fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ id: randomUUID(), method, params }),
        signal: AbortSignal.timeout(RPC_TIMEOUT_MS),
      });
    } catch (error) {
      throw new GatewayAdminError(
        'Unreachable',
        `the gateway could not be reached (${error instanceof Error ? error.name : 'Error'})`,
      );
    }
    let body: { ok?: unknown; payload?: unknown; error?: { code?: unknown; message?: unknown } };
    try {
      body = (await response.json()) as typeof body;
    } catch {
      throw new GatewayAdminError('BadAnswer', `the gateway answered HTTP ${response.status} without JSON`);
    }
    if (!response.ok || body.ok !== true) {
      const code = typeof body.error?.code === 'string' ? body.error.code : `HTTP${response.status}`;
      const message =
        typeof body.error?.message === 'string'
          ? body.error.message.slice(0, 200)
          : `HTTP ${response.status}`;
      throw new GatewayAdminError(code, `the gateway refused ${method}: ${message}`);
    }
    return body.payload ?? {};
  }

  private async gatewayToken(resourceGroup: string, vaultName: string): Promise<string> {
    let vaultUri: string | undefined;
    try {
      vaultUri = (await this.deps.azure.keyVaults.vaults.get(resourceGroup, vaultName)).properties.vaultUri;
    } catch (error) {
      if (isNotFound(error))
        throw new GatewayAdminError('NoVault', `the environment's Key Vault ${vaultName} does not exist`);
      throw error;
    }
    if (!vaultUri)
      throw new GatewayAdminError('NoVault', `the environment's Key Vault ${vaultName} has no URI`);
    const token = await readSecret(this.deps.azure.secrets(vaultUri), SLUG_SECRET_NAMES.gatewayToken);
    if (!token)
      throw new GatewayAdminError(
        'NoToken',
        `the environment's Key Vault has no ${SLUG_SECRET_NAMES.gatewayToken}`,
      );
    return token;
  }
}
