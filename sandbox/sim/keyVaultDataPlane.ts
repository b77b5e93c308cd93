import { randomUUID } from 'node:crypto';
import type { ArmState, StoredResource } from './arm/armState.js';
import type { FaultRegistry } from './faults.js';
import { keyVaultAudience, type IdentityDirectory, type Principal } from './identity.js';
import { KeyVaultStore, type SecretRecord, type SecretVersion, type VaultData } from './keyVaultStore.js';
import { SimHttpError, type SimRequest, type SimResponse, type SimSurface } from './surface.js';
import { ArmThrottle } from './throttle.js';

export const keyVaultDataApiVersions = ['7.0', '7.1', '7.2', '7.3', '7.4', '7.5', '7.6', '2025-07-01'];
const secretNamePattern = /^[0-9a-zA-Z-]{1,127}$/;

export interface KeyVaultDataPlaneOptions {
  state: ArmState;
  identity: IdentityDirectory;
  faults: FaultRegistry;
  baseUrl: () => string;
}

function kvError(
  status: number,
  code: string,
  message: string,
  innerCode?: string,
  headers: Record<string, string> = {},
): SimHttpError {
  return new SimHttpError(
    status,
    { error: { code, message, ...(innerCode ? { innererror: { code: innerCode } } : {}) } },
    headers,
  );
}

const seconds = (ms: number) => Math.floor(ms / 1000);

/**
 * The Key Vault secrets data plane, one vault per listener (the server rewrites a vault port's
 * requests to /keyvault/{vault}/...). Challenge-based auth as the real service; access only through
 * Azure RBAC role assignments older than the data-plane propagation delay.
 */
export function createKeyVaultDataPlane(options: KeyVaultDataPlaneOptions): SimSurface {
  const { state, identity, faults } = options;
  const store = state.keyVault;
  const throttle = new ArmThrottle({
    buckets: {
      write: { burst: 300, perSecond: 30 },
      read: { burst: 4000, perSecond: 400 },
      delete: { burst: 300, perSecond: 30 },
    },
  });

  const challenge = () => ({
    'WWW-Authenticate': `Bearer authorization="${options.baseUrl()}/${identity.tenantId}", resource="${keyVaultAudience}"`,
  });

  function authorize(req: SimRequest, vault: StoredResource, action: string, write: boolean): Principal {
    if (req.headers.authorization === undefined) {
      throw kvError(
        401,
        'Unauthorized',
        'AKV10000: Request is missing a Bearer or PoP token.',
        undefined,
        challenge(),
      );
    }
    const result = identity.authenticate(req.headers);
    if (!result)
      throw kvError(401, 'Unauthorized', 'AKV10032: Invalid issuer or token.', undefined, challenge());
    if (result.claims.aud.replace(/\/+$/, '') !== keyVaultAudience) {
      throw kvError(
        401,
        'Unauthorized',
        `AKV10022: Invalid audience. Expected ${keyVaultAudience}, found: ${result.claims.aud}.`,
        undefined,
        challenge(),
      );
    }
    const principal = result.principal;
    const properties = vault.body['properties'] as Record<string, unknown>;
    const caller = `appid=${principal.appId ?? ''};oid=${principal.objectId};iss=${result.claims.iss}`;
    if (properties['enableRbacAuthorization'] !== true) {
      throw kvError(
        403,
        'Forbidden',
        `The user, group or application '${caller}' does not have secrets ${action} permission on key vault '${vault.name};location=${String(vault.body['location'])}'. Access policies are not simulated; use Azure RBAC.`,
        'ForbiddenByPolicy',
      );
    }
    const forced = faults.match(['keyVaultForbidden'], {
      surface: 'keyvault',
      method: req.method,
      path: req.url.pathname,
    });
    const roles = state.rolesAt(principal.objectId, vault.id, state.options.dataPlanePropagationMs);
    const allowed = roles.some((role) => (write ? role.secrets.write : role.secrets.read));
    if (forced || !allowed) {
      throw kvError(
        403,
        'Forbidden',
        `Caller is not authorized to perform action on resource.\r\nIf role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\nCaller: ${caller}\r\nAction: 'Microsoft.KeyVault/vaults/secrets/${action}'\r\nResource: '${vault.id.toLowerCase()}/secrets'\r\nAssignment: (not found)\r\nDenyAssignmentId: null\r\nDecisionReason: null \r\nVault: ${vault.name};location=${String(vault.body['location'])}\r\n`,
        'ForbiddenByRbac',
      );
    }
    return principal;
  }

  function purgeExpired(vault: VaultData): void {
    const now = state.clock.now();
    for (const [key, record] of vault.secrets) {
      if (record.deleted && record.deleted.scheduledPurgeDate <= now) vault.secrets.delete(key);
    }
  }

  function attributes(vault: VaultData, version: SecretVersion): Record<string, unknown> {
    return {
      enabled: version.enabled,
      ...(version.notBefore !== undefined ? { nbf: seconds(version.notBefore) } : {}),
      ...(version.expires !== undefined ? { exp: seconds(version.expires) } : {}),
      created: seconds(version.created),
      updated: seconds(version.updated),
      recoveryLevel: 'Recoverable+Purgeable',
      recoverableDays: vault.softDeleteRetentionDays,
    };
  }

  function bundle(
    vault: VaultData,
    record: SecretRecord,
    version: SecretVersion,
    withValue: boolean,
  ): Record<string, unknown> {
    return {
      ...(withValue ? { value: version.value } : {}),
      id: `${vault.vaultUri}secrets/${record.name}/${version.version}`,
      ...(version.contentType !== undefined ? { contentType: version.contentType } : {}),
      attributes: attributes(vault, version),
      ...(version.tags !== undefined ? { tags: version.tags } : {}),
    };
  }

  function deletedBundle(vault: VaultData, record: SecretRecord): Record<string, unknown> {
    const latest = record.versions.at(-1)!;
    return {
      ...bundle(vault, record, latest, false),
      recoveryId: `${vault.vaultUri}deletedsecrets/${record.name}`,
      deletedDate: seconds(record.deleted!.deletedDate),
      scheduledPurgeDate: seconds(record.deleted!.scheduledPurgeDate),
    };
  }

  function notFound(name: string, version?: string): SimHttpError {
    const what = version ? `${name}/${version}` : name;
    return kvError(
      404,
      'SecretNotFound',
      `A secret with (name/id) ${what} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182`,
    );
  }

  function liveRecord(vault: VaultData, name: string): SecretRecord {
    const record = vault.secrets.get(name.toLowerCase());
    if (!record || record.deleted) throw notFound(name);
    return record;
  }

  function readAttributes(body: Record<string, unknown>, version: SecretVersion): void {
    const attrs = body['attributes'];
    if (typeof attrs === 'object' && attrs !== null) {
      const record = attrs as Record<string, unknown>;
      if (typeof record['enabled'] === 'boolean') version.enabled = record['enabled'];
      if (typeof record['exp'] === 'number') version.expires = record['exp'] * 1000;
      if (typeof record['nbf'] === 'number') version.notBefore = record['nbf'] * 1000;
    }
    if (typeof body['contentType'] === 'string') version.contentType = body['contentType'];
    if (typeof body['tags'] === 'object' && body['tags'] !== null)
      version.tags = body['tags'] as Record<string, string>;
  }

  async function route(
    req: SimRequest,
    vaultResource: StoredResource,
    vault: VaultData,
    rest: string[],
  ): Promise<SimResponse> {
    const [collection, name, third, fourth] = rest;
    const method = req.method;
    const now = state.clock.now();
    if (collection === 'secrets') {
      if (name === undefined || name === '') {
        if (method !== 'GET') throw kvError(405, 'BadParameter', 'Method not allowed.');
        authorize(req, vaultResource, 'readMetadata/action', false);
        const value = [...vault.secrets.values()]
          .filter((record) => !record.deleted)
          .map((record) => {
            const latest = record.versions.at(-1)!;
            const item = bundle(vault, record, latest, false);
            return { ...item, id: `${vault.vaultUri}secrets/${record.name}` };
          });
        return { status: 200, body: { value, nextLink: null } };
      }
      if (!secretNamePattern.test(name)) {
        throw kvError(400, 'BadParameter', `The request URI contains an invalid name: ${name}`);
      }
      if (third === 'versions' && fourth === undefined && method === 'GET') {
        authorize(req, vaultResource, 'readMetadata/action', false);
        const record = liveRecord(vault, name);
        return {
          status: 200,
          body: {
            value: record.versions.map((version) => bundle(vault, record, version, false)),
            nextLink: null,
          },
        };
      }
      if (third === 'backup' || third === 'restore')
        throw kvError(400, 'BadParameter', 'Backup and restore are not simulated.');
      switch (method) {
        case 'PUT': {
          if (third !== undefined) throw kvError(405, 'BadParameter', 'Method not allowed.');
          authorize(req, vaultResource, 'setSecret/action', true);
          const decision = throttle.take(vault.name.toLowerCase(), 'write');
          if (!decision.allowed) {
            throw kvError(
              429,
              'Throttled',
              'Request was not processed because too many requests were received. Reason: VaultRequestTypeLimitReached',
              undefined,
              { 'Retry-After': String(decision.retryAfterSeconds) },
            );
          }
          const body = req.json<Record<string, unknown>>();
          if (typeof body?.['value'] !== 'string')
            throw kvError(400, 'BadParameter', 'Property value is required.');
          const existing = vault.secrets.get(name.toLowerCase());
          if (existing?.deleted) {
            throw kvError(
              409,
              'Conflict',
              `Secret ${name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can only be recovered or purged.`,
              'ObjectIsDeletedButRecoverable',
            );
          }
          const record: SecretRecord = existing ?? { name, versions: [] };
          const version: SecretVersion = {
            version: KeyVaultStore.newVersionId(),
            value: body['value'],
            enabled: true,
            created: now,
            updated: now,
          };
          readAttributes(body, version);
          record.versions.push(version);
          vault.secrets.set(name.toLowerCase(), record);
          return { status: 200, body: bundle(vault, record, version, true) };
        }
        case 'GET': {
          authorize(req, vaultResource, 'getSecret/action', false);
          const record = liveRecord(vault, name);
          const version = third
            ? record.versions.find((candidate) => candidate.version === third)
            : record.versions.at(-1);
          if (!version) throw notFound(name, third);
          if (!version.enabled)
            throw kvError(
              403,
              'Forbidden',
              'Operation get is not allowed on a disabled secret.',
              'SecretDisabled',
            );
          return { status: 200, body: bundle(vault, record, version, true) };
        }
        case 'PATCH': {
          authorize(req, vaultResource, 'setSecret/action', true);
          const record = liveRecord(vault, name);
          const version = third
            ? record.versions.find((candidate) => candidate.version === third)
            : record.versions.at(-1);
          if (!version) throw notFound(name, third);
          readAttributes(req.json<Record<string, unknown>>() ?? {}, version);
          version.updated = now;
          return { status: 200, body: bundle(vault, record, version, false) };
        }
        case 'DELETE': {
          if (third !== undefined) throw kvError(405, 'BadParameter', 'Method not allowed.');
          authorize(req, vaultResource, 'delete', true);
          const record = liveRecord(vault, name);
          record.deleted = {
            deletedDate: now,
            scheduledPurgeDate: now + vault.softDeleteRetentionDays * 24 * 3600 * 1000,
          };
          return { status: 200, body: deletedBundle(vault, record) };
        }
        default:
          throw kvError(405, 'BadParameter', 'Method not allowed.');
      }
    }
    if (collection === 'deletedsecrets') {
      if (name === undefined || name === '') {
        authorize(req, vaultResource, 'readMetadata/action', false);
        const value = [...vault.secrets.values()]
          .filter((record) => record.deleted)
          .map((record) => ({
            ...deletedBundle(vault, record),
            id: `${vault.vaultUri}secrets/${record.name}`,
          }));
        return { status: 200, body: { value, nextLink: null } };
      }
      const record = vault.secrets.get(name.toLowerCase());
      const deletedNotFound = () => kvError(404, 'SecretNotFound', `Deleted Secret not found: ${name}`);
      if (third === 'recover' && method === 'POST') {
        authorize(req, vaultResource, 'recover/action', true);
        if (!record?.deleted) throw deletedNotFound();
        delete record.deleted;
        return { status: 200, body: bundle(vault, record, record.versions.at(-1)!, false) };
      }
      if (third !== undefined) throw kvError(405, 'BadParameter', 'Method not allowed.');
      if (method === 'GET') {
        authorize(req, vaultResource, 'readMetadata/action', false);
        if (!record?.deleted) throw deletedNotFound();
        return { status: 200, body: deletedBundle(vault, record) };
      }
      if (method === 'DELETE') {
        authorize(req, vaultResource, 'purge/action', true);
        if (!record?.deleted) throw deletedNotFound();
        if (
          vaultResource.body['properties'] &&
          (vaultResource.body['properties'] as Record<string, unknown>)['enablePurgeProtection'] === true
        ) {
          throw kvError(
            403,
            'Forbidden',
            "Operation 'purge' is not enabled for this vault (purge protection is on).",
          );
        }
        vault.secrets.delete(name.toLowerCase());
        return { status: 204 };
      }
    }
    throw kvError(
      400,
      'BadParameter',
      `The request URI '${req.url.pathname}' is not supported by the simulator.`,
    );
  }

  return {
    name: 'keyvault',
    prefix: '/keyvault/',
    async handle(req) {
      const segments = req.url.pathname
        .split('/')
        .filter(Boolean)
        .map((segment) => decodeURIComponent(segment));
      const vaultName = segments[1];
      const rest = segments.slice(2);
      if (req.url.pathname.endsWith('/') && rest.length > 0) rest.push('');
      const common = {
        'x-ms-request-id': randomUUID(),
        'x-ms-keyvault-service-version': '1.9.2100.1',
        'x-ms-keyvault-region': 'westeurope',
      };
      try {
        state.tick();
        const apiVersion = req.url.searchParams.get('api-version');
        if (!apiVersion || !keyVaultDataApiVersions.includes(apiVersion)) {
          throw kvError(
            400,
            'BadParameter',
            `The specified version (${apiVersion ?? ''}) is not recognized. Consider using the latest supported version (2025-07-01).`,
          );
        }
        const vaultResource = vaultName
          ? state
              .find('Microsoft.KeyVault/vaults')
              .find((vault) => vault.name.toLowerCase() === vaultName.toLowerCase())
          : undefined;
        const vault = vaultName ? store.getVault(vaultName) : undefined;
        if (!vaultResource || !vault) {
          throw kvError(
            404,
            'VaultNotFound',
            `The vault '${vaultName ?? ''}' does not exist or is deleted (the real service answers a DNS failure).`,
          );
        }
        purgeExpired(vault);
        const response = await route(req, vaultResource, vault, rest);
        return { ...response, headers: { ...common, ...response.headers } };
      } catch (error) {
        if (error instanceof SimHttpError)
          return { status: error.status, headers: { ...common, ...error.headers }, body: error.body };
        throw error;
      }
    },
    snapshot: () => store.snapshot(),
  };
}
