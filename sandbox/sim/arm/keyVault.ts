import { vaultSchema } from './specSchemas.js';
import type { SimResponse } from '../surface.js';
import { armError } from './armErrors.js';
import type { SoftDeletedVault, StoredResource } from './armState.js';
import { isRecord, recordOf, type ArmContext, type ProviderModule } from './resourceType.js';

export const keyVaultApiVersions = [
  '2026-02-01',
  '2025-05-01',
  '2024-12-01-preview',
  '2024-11-01',
  '2024-04-01-preview',
  '2023-07-01',
  '2023-02-01',
  '2022-07-01',
  '2021-10-01',
  '2019-09-01',
];
const vaultType = 'Microsoft.KeyVault/vaults';
const vaultNamePattern = /^[a-zA-Z](?!.*--)[a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$/;

function activeVaultNamed(ctx: ArmContext, name: string): StoredResource | undefined {
  return ctx.state.find(vaultType).find((vault) => vault.name.toLowerCase() === name.toLowerCase());
}

function deletedVaultResource(ctx: ArmContext, vault: SoftDeletedVault): Record<string, unknown> {
  return {
    id: `/subscriptions/${ctx.state.subscriptionId}/providers/Microsoft.KeyVault/locations/${vault.location}/deletedVaults/${vault.name}`,
    name: vault.name,
    type: 'Microsoft.KeyVault/deletedVaults',
    properties: {
      vaultId: vault.vaultId,
      location: vault.location,
      deletionDate: new Date(vault.deletionDate).toISOString(),
      scheduledPurgeDate: new Date(vault.scheduledPurgeDate).toISOString(),
      tags: vault.tags,
      purgeProtectionEnabled: vault.purgeProtectionEnabled,
    },
  };
}

/**
 * Microsoft.KeyVault vaults: PUT answers 200/201 with provisioningState "RegisteringDns" and the
 * client polls the resource; DELETE is synchronous and soft-deletes (the name stays reserved until
 * purged or the retention ends); purge is a 202 + Location operation.
 */
export const keyVaultProvider: ProviderModule = {
  namespace: 'Microsoft.KeyVault',
  types: [
    {
      type: vaultType,
      schema: vaultSchema,
      apiVersions: keyVaultApiVersions,
      tracked: true,
      putMode: 'body',
      runningState: 'RegisteringDns',
      deleteMode: 'sync',
      async build({ ctx, body, name, id, existing, apiVersion }) {
        if (!vaultNamePattern.test(name)) {
          throw armError(
            400,
            'VaultNameNotValid',
            `The vault name '${name}' is invalid. A vault's name must be between 3-24 alphanumeric characters. The name must begin with a letter, end with a letter or digit, and not contain consecutive hyphens.`,
          );
        }
        const properties = recordOf(body['properties']);
        if (typeof properties['tenantId'] !== 'string')
          throw armError(400, 'BadRequest', 'The parameter properties.tenantId is missing or invalid.');
        if (!isRecord(properties['sku']) || typeof properties['sku']['name'] !== 'string') {
          throw armError(400, 'BadRequest', 'The parameter properties.sku.name is missing or invalid.');
        }
        const other = activeVaultNamed(ctx, name);
        if (other && other.id.toLowerCase() !== id.toLowerCase()) {
          throw armError(
            409,
            'VaultAlreadyExists',
            `The vault name '${name}' is already in use. Vault names are globally unique so it is possible that the name is already taken. If you are sure that the vault name was not taken then it is possible that a vault with the same name was recently deleted but not purged after being placed in a recoverable state. If the vault is in a recoverable state then the vault will need to be purged before reusing the name.`,
          );
        }
        const deleted = ctx.state.deletedVaults.get(name.toLowerCase());
        const createMode = properties['createMode'];
        if (deleted && createMode !== 'recover') {
          throw armError(
            409,
            'ConflictError',
            `Exist soft deleted vault with the same name. The vault name '${name}' is reserved until the soft-deleted vault is purged or recovered (scheduled purge ${new Date(deleted.scheduledPurgeDate).toISOString()}).`,
          );
        }
        if (!deleted && createMode === 'recover') {
          throw armError(404, 'NotFound', `No soft-deleted vault named '${name}' was found to recover.`);
        }
        // Recovery keeps the vault's secrets: the store outlives the soft delete.
        if (deleted) ctx.state.deletedVaults.delete(name.toLowerCase());
        const previous = recordOf(existing?.body['properties']);
        const retention =
          typeof properties['softDeleteRetentionInDays'] === 'number'
            ? properties['softDeleteRetentionInDays']
            : ((previous['softDeleteRetentionInDays'] as number | undefined) ?? 90);
        if (retention < 7 || retention > 90)
          throw armError(400, 'BadRequest', 'softDeleteRetentionInDays must be between 7 and 90.');
        if (properties['enableSoftDelete'] === false) {
          throw armError(
            400,
            'BadRequest',
            'The property "enableSoftDelete" cannot be set to false. Soft delete is always on.',
          );
        }
        if (previous['enablePurgeProtection'] === true && properties['enablePurgeProtection'] === false) {
          throw armError(
            400,
            'BadRequest',
            'The property "enablePurgeProtection" cannot be set to false once enabled.',
          );
        }
        const rbacDefault = apiVersion >= '2026-02-01';
        const vaultUri = await ctx.endpoints.vaultUri(name);
        ctx.state.keyVault.ensureVault(name, vaultUri, retention);
        const result: Record<string, unknown> = {
          tenantId: properties['tenantId'],
          sku: { family: 'A', ...properties['sku'] },
          accessPolicies: Array.isArray(properties['accessPolicies']) ? properties['accessPolicies'] : [],
          enabledForDeployment: properties['enabledForDeployment'] === true,
          enabledForDiskEncryption: properties['enabledForDiskEncryption'] === true,
          enabledForTemplateDeployment: properties['enabledForTemplateDeployment'] === true,
          enableSoftDelete: true,
          softDeleteRetentionInDays: retention,
          enableRbacAuthorization:
            typeof properties['enableRbacAuthorization'] === 'boolean'
              ? properties['enableRbacAuthorization']
              : rbacDefault,
          vaultUri,
          publicNetworkAccess:
            typeof properties['publicNetworkAccess'] === 'string'
              ? properties['publicNetworkAccess']
              : 'Enabled',
        };
        if (properties['enablePurgeProtection'] === true || previous['enablePurgeProtection'] === true)
          result['enablePurgeProtection'] = true;
        if (isRecord(properties['networkAcls'])) result['networkAcls'] = properties['networkAcls'];
        return { properties: result };
      },
      onDeleted(resource, ctx) {
        const properties = recordOf(resource.body['properties']);
        const now = ctx.state.clock.now();
        const retentionDays =
          typeof properties['softDeleteRetentionInDays'] === 'number'
            ? properties['softDeleteRetentionInDays']
            : 90;
        ctx.state.deletedVaults.set(resource.name.toLowerCase(), {
          name: resource.name,
          location: String(resource.body['location']),
          vaultId: resource.id,
          deletionDate: now,
          scheduledPurgeDate: now + retentionDays * 24 * 3600 * 1000,
          purgeProtectionEnabled: properties['enablePurgeProtection'] === true,
          tags: recordOf(resource.body['tags']) as Record<string, string>,
          resource,
        });
      },
    },
  ],
  async subscriptionRoute({ ctx, req, segments }): Promise<SimResponse | undefined> {
    const [first, second, third, fourth, fifth] = segments.map((segment) => segment.toLowerCase());
    const state = ctx.state;
    if (first === 'checknameavailability' && segments.length === 1 && req.method === 'POST') {
      const body = recordOf(req.json());
      const name = typeof body['name'] === 'string' ? body['name'] : '';
      if (!vaultNamePattern.test(name)) {
        return {
          status: 200,
          body: {
            nameAvailable: false,
            reason: 'AccountNameInvalid',
            message: `The vault name '${name}' is invalid.`,
          },
        };
      }
      if (activeVaultNamed(ctx, name) || state.deletedVaults.has(name.toLowerCase())) {
        return {
          status: 200,
          body: {
            nameAvailable: false,
            reason: 'AlreadyExists',
            message: `The vault name '${name}' is already in use.`,
          },
        };
      }
      return { status: 200, body: { nameAvailable: true } };
    }
    if (first === 'deletedvaults' && segments.length === 1 && req.method === 'GET') {
      return {
        status: 200,
        body: { value: [...state.deletedVaults.values()].map((vault) => deletedVaultResource(ctx, vault)) },
      };
    }
    if (first === 'locations' && third === 'deletedvaults' && fourth !== undefined) {
      const deleted = state.deletedVaults.get(fourth);
      const location = second ?? '';
      const notFound = () =>
        armError(
          404,
          'ResourceNotFound',
          `The Resource 'Microsoft.KeyVault/deletedVaults/${segments[3] ?? ''}' under location '${location}' was not found.`,
        );
      if (segments.length === 4 && req.method === 'GET') {
        if (!deleted || deleted.location.toLowerCase() !== location) throw notFound();
        return { status: 200, body: deletedVaultResource(ctx, deleted) };
      }
      if (segments.length === 5 && fifth === 'purge' && req.method === 'POST') {
        if (!deleted || deleted.location.toLowerCase() !== location) throw notFound();
        if (deleted.purgeProtectionEnabled) {
          throw armError(
            409,
            'Conflict',
            `The vault '${deleted.name}' has purge protection enabled and cannot be purged before ${new Date(deleted.scheduledPurgeDate).toISOString()}.`,
          );
        }
        const operation = state.startOperation({
          namespace: 'Microsoft.KeyVault',
          location,
          resourceId: deletedVaultResource(ctx, deleted)['id'] as string,
          kind: 'action',
          resume: { kind: 'purgeVault', vaultName: deleted.name },
        });
        const url = `${ctx.endpoints.baseUrl}/subscriptions/${state.subscriptionId}/providers/Microsoft.KeyVault/locations/${location}/operationResults/${operation.id}?api-version=${req.url.searchParams.get('api-version') ?? ''}`;
        return { status: 202, headers: { Location: url } };
      }
    }
    return undefined;
  },
};
