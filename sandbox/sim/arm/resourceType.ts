import type { BlobStore } from '../blobDataPlane.js';
import type { FaultRegistry } from '../faults.js';
import type { FileShareStore } from '../fileShareStore.js';
import type { Principal } from '../identity.js';
import type { SimRequest, SimResponse } from '../surface.js';
import type { ArmState, StoredResource } from './armState.js';
import type { BodySchema } from './bodySchema.js';

/** Addresses the simulator hands out, known only once its listeners are up. */
export interface SimEndpoints {
  /** Base URL of the main listener, no trailing slash. */
  baseUrl: string;
  /** Base URL (trailing slash) of the listener serving one vault's data plane; opens it if needed. */
  vaultUri(vaultName: string): Promise<string>;
  /** Blob endpoint (trailing slash) for a storage account. */
  blobEndpoint(accountName: string): string;
  /** Azure Files endpoint (trailing slash) for a storage account. */
  fileEndpoint(accountName: string): string;
}

export interface ArmContext {
  state: ArmState;
  faults: FaultRegistry;
  endpoints: SimEndpoints;
  blobs: BlobStore;
  files: FileShareStore;
}

export interface PutInput {
  ctx: ArmContext;
  req: SimRequest;
  apiVersion: string;
  id: string;
  name: string;
  resourceGroup: string;
  type: string;
  /** The request body (for PATCH: the stored input with the patch merged in). */
  body: Record<string, unknown>;
  existing: StoredResource | undefined;
  /** The nearest stored ancestor for child resources. */
  parent: StoredResource | undefined;
  principal: Principal;
}

/** What a provider computes from a PUT body. */
export interface BuiltResource {
  properties: Record<string, unknown>;
  /** Top-level fields besides id/name/type/location/tags/properties: sku, kind, identity, etc. */
  extra?: Record<string, unknown>;
  /** Provider-private data kept with the resource (never returned). */
  hidden?: Record<string, unknown>;
  /** Makes the asynchronous operation end Failed (e.g. an unresolvable Key Vault reference). */
  failure?: { code: string; message: string };
}

export interface ActionInput {
  ctx: ArmContext;
  req: SimRequest;
  apiVersion: string;
  resource: StoredResource;
  principal: Principal;
}

export interface SubrouteInput extends ActionInput {
  /** Path segments after the resource's own id. */
  segments: string[];
}

/**
 * How one ARM resource type behaves. The generic router handles ids, api-versions, auth, LRO
 * mechanics and errors; the spec supplies validation, server-computed properties and side effects.
 */
export interface ResourceTypeSpec {
  /** Canonical type, e.g. "Microsoft.KeyVault/vaults". */
  type: string;
  apiVersions: readonly string[];
  /**
   * What the official spec requires of a PUT body (a PATCH is checked merged into the stored one),
   * at the api-version the broker's SDK sends: a body that breaks it is 400 InvalidRequestContent,
   * read-only properties are dropped. See bodySchema.ts and each type's source.
   */
  schema?: BodySchema;
  /** Tracked resources need a location and carry tags; child (proxy) resources do not. */
  tracked: boolean;
  /**
   * How a PUT answers: `sync` 200/201 final; `body` 200/201 with a running provisioningState that
   * the client polls on the resource; `asyncOperation` 200/201 plus Azure-AsyncOperation; `location`
   * 202 plus Location and no body.
   */
  putMode: 'sync' | 'body' | 'asyncOperation' | 'location';
  /** Status of a synchronous create: 201 unless the provider answers 200 (Container Apps children). */
  createdStatus?: 200 | 201;
  /** Answer a PUT on an existing resource synchronously (Storage does). */
  syncWhenExisting?: boolean;
  /** How a PATCH answers; `sync` when omitted. */
  patchMode?: 'sync' | 'asyncOperation';
  /** `sync` 200; `location` 202 + Location; `asyncOperation` 202 + Location + Azure-AsyncOperation. */
  deleteMode: 'sync' | 'location' | 'asyncOperation';
  /** provisioningState while an asynchronous PUT runs ("Accepted" when omitted). */
  runningState?: string;
  build(input: PutInput): Promise<BuiltResource> | BuiltResource;
  /** After a PUT or PATCH reached its final successful state. */
  onProvisioned?(resource: StoredResource, ctx: ArmContext, previous: StoredResource | undefined): void;
  /** After an asynchronous PUT or PATCH ended Failed. */
  onFailed?(resource: StoredResource, ctx: ArmContext): void;
  /** Before a delete is accepted; throw an ArmError to refuse it. */
  beforeDelete?(resource: StoredResource, ctx: ArmContext): void;
  /** After the resource left the store (own delete or its resource group's). */
  onDeleted?(resource: StoredResource, ctx: ArmContext, query: URLSearchParams): void;
  /** POST actions by lower-case name, e.g. "listkeys". */
  actions?: Record<string, (input: ActionInput) => Promise<SimResponse> | SimResponse>;
  /** Other paths below the resource (e.g. read-only revisions); undefined means not handled. */
  route?(input: SubrouteInput): Promise<SimResponse | undefined>;
}

/** A resource provider namespace: its types and subscription-level routes. */
export interface ProviderModule {
  namespace: string;
  types: ResourceTypeSpec[];
  /** Subscription-level paths under /subscriptions/{s}/providers/{namespace}/..., after auth. */
  subscriptionRoute?(input: {
    ctx: ArmContext;
    req: SimRequest;
    apiVersion: string;
    segments: string[];
    principal: Principal;
  }): Promise<SimResponse | undefined>;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function recordOf(value: unknown): Record<string, unknown> {
  return isRecord(value) ? value : {};
}

/** Deep merge for PATCH: objects merge, arrays and scalars replace, null removes. */
export function mergePatch(
  target: Record<string, unknown>,
  patch: Record<string, unknown>,
): Record<string, unknown> {
  const result: Record<string, unknown> = { ...target };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else if (isRecord(value) && isRecord(result[key])) result[key] = mergePatch(result[key], value);
    else result[key] = value;
  }
  return result;
}

/** A string field of a record, or the fallback. */
export function stringOf(record: Record<string, unknown> | undefined, key: string, fallback = ''): string {
  const value = record?.[key];
  return typeof value === 'string' ? value : fallback;
}
