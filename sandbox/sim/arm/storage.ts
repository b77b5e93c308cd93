import type { BodySchema } from './bodySchema.js';
import { blobContainerSchema, fileShareSchema, storageAccountSchema } from './specSchemas.js';
import { randomBytes } from 'node:crypto';
import type { SimResponse } from '../surface.js';
import { armError } from './armErrors.js';
import type { StoredResource } from './armState.js';
import { isRecord, recordOf, stringOf, type ArmContext, type ProviderModule } from './resourceType.js';

export const storageApiVersions = [
  '2025-08-01',
  '2025-06-01',
  '2025-01-01',
  '2024-01-01',
  '2023-05-01',
  '2023-01-01',
  '2022-09-01',
  '2021-09-01',
];
const accountType = 'Microsoft.Storage/storageAccounts';
const accountNamePattern = /^[a-z0-9]{3,24}$/;

interface AccountKey {
  keyName: 'key1' | 'key2';
  value: string;
  creationTime: number;
}

const newKey = () => randomBytes(64).toString('base64');

function keysOf(resource: StoredResource): AccountKey[] {
  return resource.hidden['keys'] as AccountKey[];
}

function keyList(resource: StoredResource): SimResponse {
  return {
    status: 200,
    body: {
      keys: keysOf(resource).map((key) => ({
        keyName: key.keyName,
        value: key.value,
        permissions: 'FULL',
        creationTime: new Date(key.creationTime).toISOString(),
      })),
    },
  };
}

function accountNamed(ctx: ArmContext, name: string): StoredResource | undefined {
  return ctx.state.find(accountType).find((account) => account.name === name);
}

/** The current access key values of a storage account resource (key1, key2). */
export function storageAccountKeyValues(account: StoredResource): string[] {
  return keysOf(account).map((key) => key.value);
}

/** The current access keys of a storage account, for other surfaces (Files mounts, tests). */
export function storageAccountKeys(ctx: ArmContext, accountName: string): string[] {
  const account = accountNamed(ctx, accountName);
  return account ? keysOf(account).map((key) => key.value) : [];
}

const childSpec = (
  type: string,
  schema: BodySchema | undefined,
  defaults: (name: string, now: string) => Record<string, unknown>,
) => ({
  type,
  ...(schema ? { schema } : {}),
  apiVersions: storageApiVersions,
  tracked: false,
  putMode: 'sync' as const,
  deleteMode: 'sync' as const,
  build({ body, name, ctx }: { body: Record<string, unknown>; name: string; ctx: ArmContext }) {
    return { properties: { ...defaults(name, ctx.state.clock.isoNow()), ...recordOf(body['properties']) } };
  },
});

/**
 * Microsoft.Storage: a new account answers 202 + Location (no body) and the client polls the
 * operation; updates and deletes are synchronous. Keys are listed and regenerated through actions;
 * the blob and file endpoints point at the simulator's blob and Files listeners. Blob and file services exist as
 * "default" children from creation, so shares and containers can be put under them.
 */
export const storageProvider: ProviderModule = {
  namespace: 'Microsoft.Storage',
  types: [
    {
      type: accountType,
      schema: storageAccountSchema,
      apiVersions: storageApiVersions,
      tracked: true,
      putMode: 'location',
      syncWhenExisting: true,
      runningState: 'Creating',
      patchMode: 'sync',
      deleteMode: 'sync',
      build({ ctx, body, name, id, existing }) {
        if (!accountNamePattern.test(name)) {
          throw armError(
            400,
            'AccountNameInvalid',
            `${name} is not a valid storage account name. Storage account name must be between 3 and 24 characters in length and use numbers and lower-case letters only.`,
          );
        }
        const other = accountNamed(ctx, name);
        if (other && other.id.toLowerCase() !== id.toLowerCase()) {
          throw armError(
            409,
            'StorageAccountAlreadyTaken',
            `The storage account named ${name} is already taken.`,
          );
        }
        const sku = recordOf(body['sku']);
        if (typeof sku['name'] !== 'string') {
          throw armError(
            400,
            'InvalidRequestContent',
            "The request content is invalid: required property 'sku.name' is missing.",
          );
        }
        if (typeof body['kind'] !== 'string') {
          throw armError(
            400,
            'InvalidRequestContent',
            "The request content is invalid: required property 'kind' is missing.",
          );
        }
        const properties = recordOf(body['properties']);
        const now = ctx.state.clock.now();
        const keys: AccountKey[] = (existing?.hidden['keys'] as AccountKey[] | undefined) ?? [
          { keyName: 'key1', value: newKey(), creationTime: now },
          { keyName: 'key2', value: newKey(), creationTime: now },
        ];
        const previous = recordOf(existing?.body['properties']);
        const blob = ctx.endpoints.blobEndpoint(name);
        const file = ctx.endpoints.fileEndpoint(name);
        const base = ctx.endpoints.baseUrl;
        return {
          extra: {
            sku: {
              name: sku['name'],
              tier: String(sku['name']).startsWith('Premium') ? 'Premium' : 'Standard',
            },
            kind: body['kind'],
          },
          properties: {
            accessTier: stringOf(properties, 'accessTier', 'Hot'),
            allowBlobPublicAccess: properties['allowBlobPublicAccess'] === true,
            allowSharedKeyAccess: properties['allowSharedKeyAccess'] !== false,
            minimumTlsVersion: stringOf(properties, 'minimumTlsVersion', 'TLS1_2'),
            supportsHttpsTrafficOnly: properties['supportsHttpsTrafficOnly'] !== false,
            publicNetworkAccess: stringOf(properties, 'publicNetworkAccess', 'Enabled'),
            ...(isRecord(properties['networkAcls']) ? { networkAcls: properties['networkAcls'] } : {}),
            ...(isRecord(properties['encryption']) ? { encryption: properties['encryption'] } : {}),
            keyCreationTime: Object.fromEntries(
              keys.map((key) => [key.keyName, new Date(key.creationTime).toISOString()]),
            ),
            creationTime: stringOf(previous, 'creationTime', new Date(now).toISOString()),
            primaryEndpoints: {
              blob,
              dfs: `${base}/dfs/${name}/`,
              file,
              queue: `${base}/queue/${name}/`,
              table: `${base}/table/${name}/`,
              web: `${base}/web/${name}/`,
            },
            primaryLocation: String(body['location']).toLowerCase(),
            statusOfPrimary: 'available',
          },
          hidden: { keys },
        };
      },
      onProvisioned(resource, ctx) {
        ctx.blobs.ensureAccount(resource.name);
        for (const service of ['blobServices', 'fileServices'] as const) {
          const id = `${resource.id}/${service}/default`;
          if (ctx.state.get(id)) continue;
          ctx.state.put({
            id,
            type: `${accountType}/${service}`,
            name: 'default',
            subscriptionId: resource.subscriptionId,
            resourceGroup: resource.resourceGroup,
            body: {
              id,
              name: 'default',
              type: `${accountType}/${service}`,
              properties: { provisioningState: 'Succeeded' },
            },
            hidden: {},
            createdAt: resource.createdAt,
            updatedAt: resource.updatedAt,
          });
        }
      },
      onDeleted(resource, ctx) {
        ctx.blobs.dropAccount(resource.name);
        ctx.files.drop(resource.name);
      },
      actions: {
        listkeys: ({ resource }) => keyList(resource),
        regeneratekey: ({ req, resource, ctx }) => {
          const keyName = stringOf(recordOf(req.json()), 'keyName').toLowerCase();
          const key = keysOf(resource).find((candidate) => candidate.keyName === keyName);
          if (!key)
            throw armError(
              400,
              'InvalidValuesForRequestParameters',
              `Values for request parameters are invalid: keyName '${keyName}'.`,
            );
          key.value = newKey();
          key.creationTime = ctx.state.clock.now();
          const properties = resource.body['properties'] as Record<string, unknown>;
          properties['keyCreationTime'] = Object.fromEntries(
            keysOf(resource).map((k) => [k.keyName, new Date(k.creationTime).toISOString()]),
          );
          return keyList(resource);
        },
      },
    },
    childSpec(`${accountType}/blobServices`, undefined, () => ({
      cors: { corsRules: [] },
      deleteRetentionPolicy: { enabled: false },
    })),
    childSpec(`${accountType}/fileServices`, undefined, () => ({
      cors: { corsRules: [] },
      shareDeleteRetentionPolicy: { enabled: true, days: 7 },
    })),
    {
      ...childSpec(`${accountType}/fileServices/shares`, fileShareSchema, (_name, now) => ({
        shareQuota: 5120,
        enabledProtocols: 'SMB',
        accessTier: 'TransactionOptimized',
        lastModifiedTime: now,
        leaseStatus: 'unlocked',
        leaseState: 'available',
      })),
      onDeleted(resource, ctx) {
        const account = resource.id.split('/')[8];
        if (account) ctx.files.drop(account, resource.name);
      },
    },
    {
      ...childSpec(`${accountType}/blobServices/containers`, blobContainerSchema, (_name, now) => ({
        publicAccess: 'None',
        lastModifiedTime: now,
        leaseStatus: 'Unlocked',
        leaseState: 'Available',
        hasImmutabilityPolicy: false,
        hasLegalHold: false,
        deleted: false,
      })),
      onProvisioned(resource, ctx) {
        const account = resource.id.split('/')[8];
        if (account) ctx.blobs.createContainer(account, resource.name, ctx.state.clock.now());
      },
      onDeleted(resource, ctx) {
        const account = resource.id.split('/')[8];
        if (account) ctx.blobs.deleteContainer(account, resource.name);
      },
    },
  ],
  async subscriptionRoute({ ctx, req, segments }) {
    if (
      segments.length === 1 &&
      segments[0]?.toLowerCase() === 'checknameavailability' &&
      req.method === 'POST'
    ) {
      const name = stringOf(recordOf(req.json()), 'name');
      if (!accountNamePattern.test(name)) {
        return {
          status: 200,
          body: {
            nameAvailable: false,
            reason: 'AccountNameInvalid',
            message: `${name} is not a valid storage account name.`,
          },
        };
      }
      if (accountNamed(ctx, name)) {
        return {
          status: 200,
          body: {
            nameAvailable: false,
            reason: 'AlreadyExists',
            message: `The storage account named ${name} is already taken.`,
          },
        };
      }
      return { status: 200, body: { nameAvailable: true } };
    }
    return undefined;
  },
};
