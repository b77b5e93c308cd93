import { randomUUID } from 'node:crypto';
import type { IdentityDirectory, Principal } from '../identity.js';
import { SimHttpError, type SimRequest, type SimResponse, type SimSurface } from '../surface.js';
import { armError, resourceGroupNotFound, resourceNotFound } from './armErrors.js';
import type { ArmOperation, OperationResume, StoredResource } from './armState.js';
import { handleAuthorization } from './authorization.js';
import { parseResourcePath, resourceGroupId, sameId, type ResourcePath } from './resourcePath.js';
import { checkBody } from './bodySchema.js';
import {
  isRecord,
  mergePatch,
  type ArmContext,
  type ProviderModule,
  type PutInput,
  type ResourceTypeSpec,
  stringOf,
} from './resourceType.js';

/** api-versions Microsoft.Resources accepts here (the installed SDK sends 2025-04-01). */
export const resourceManagerApiVersions = [
  '2025-04-01',
  '2025-03-01',
  '2024-11-01',
  '2024-07-01',
  '2024-03-01',
  '2023-07-01',
  '2022-09-01',
  '2021-04-01',
  '2021-01-01',
  '2020-06-01',
  '2019-10-01',
] as const;
const genericListApiVersions = [...resourceManagerApiVersions, '2015-11-01'];
const resourceGroupType = 'Microsoft.Resources/resourceGroups';
const armAudiences = ['https://management.azure.com', 'https://management.core.windows.net'];

/** The subset of ARM audiences and route detection shared with the server. */
export function isArmPath(url: URL): boolean {
  return /^\/(subscriptions|providers)(\/|$)/i.test(url.pathname);
}

export interface ArmSurfaceOptions {
  ctx: ArmContext;
  identity: IdentityDirectory;
  providers: ProviderModule[];
}

/**
 * Azure Resource Manager at the simulator's root: resource groups, generic resource CRUD with
 * provider-specific behaviour, LRO polling URLs, role assignments and definitions.
 */
export function createArmSurface(options: ArmSurfaceOptions): SimSurface {
  const router = new ArmRouter(options);
  return {
    name: 'arm',
    prefix: '/',
    claims: isArmPath,
    async handle(req) {
      if (!isArmPath(req.url)) return undefined;
      const requestId = randomUUID();
      const correlation =
        headerValue(req, 'x-ms-correlation-request-id') ?? headerValue(req, 'x-ms-client-request-id');
      const common = {
        'x-ms-request-id': requestId,
        'x-ms-correlation-request-id': correlation ?? requestId,
        'x-ms-routing-request-id': `SIMULATOR:${requestId}`,
      };
      try {
        options.ctx.state.tick();
        const response = await router.route(req);
        return { ...response, headers: { ...common, ...response.headers } };
      } catch (error) {
        if (error instanceof SimHttpError) {
          return { status: error.status, headers: { ...common, ...error.headers }, body: error.body };
        }
        throw error;
      }
    },
    snapshot: () => options.ctx.state.snapshot(),
  };
}

function headerValue(req: SimRequest, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

class ArmRouter {
  private readonly specs = new Map<string, { spec: ResourceTypeSpec; provider: ProviderModule }>();
  private readonly providers = new Map<string, ProviderModule>();

  constructor(private readonly options: ArmSurfaceOptions) {
    for (const provider of options.providers) {
      this.providers.set(provider.namespace.toLowerCase(), provider);
      for (const spec of provider.types) this.specs.set(spec.type.toLowerCase(), { spec, provider });
    }
    options.ctx.state.setOperationSettler((resourceId, resume) => this.settlerFor(resourceId, resume));
  }

  /**
   * What an operation does when it settles, from its JSON description: the same for an operation
   * started now and for one restored from the state file. The resource is looked up at settle time.
   */
  private settlerFor(resourceId: string, resume: OperationResume): Pick<ArmOperation, 'settle' | 'result'> {
    const state = this.ctx.state;
    const propertiesOf = (resource: StoredResource) => resource.body['properties'] as Record<string, unknown>;
    switch (resume.kind) {
      case 'groupDelete':
        return {
          settle: (succeeded) => {
            const group = state.get(resourceId);
            if (!group) return;
            if (!succeeded) {
              propertiesOf(group)['provisioningState'] = 'Succeeded';
              return;
            }
            for (const resource of state.find(undefined, group.id)) {
              if (resource.id !== group.id && state.get(resource.id))
                this.removeResource(resource, new URLSearchParams());
            }
            state.removeAssignmentsUnder(group.id);
            state.remove(group.id);
          },
        };
      case 'delete':
        return {
          settle: (succeeded) => {
            const existing = state.get(resourceId);
            if (!existing) return;
            if (succeeded) this.removeResource(existing, new URLSearchParams(resume.query));
            else propertiesOf(existing)['provisioningState'] = resume.previousState;
          },
        };
      case 'put': {
        const spec = this.specs.get(resume.type.toLowerCase())?.spec;
        return {
          settle: (succeeded) => {
            const current = state.get(resourceId);
            if (!current) return;
            propertiesOf(current)['provisioningState'] = succeeded ? 'Succeeded' : 'Failed';
            if (succeeded) spec?.onProvisioned?.(current, this.ctx, resume.previous);
            else spec?.onFailed?.(current, this.ctx);
          },
          result: () => ({ status: 200, body: state.get(resourceId)?.body }),
        };
      }
      case 'purgeVault':
        return { settle: () => undefined };
    }
  }

  private get ctx(): ArmContext {
    return this.options.ctx;
  }

  async route(req: SimRequest): Promise<SimResponse> {
    const principal = this.authenticate(req);
    const apiVersion = req.url.searchParams.get('api-version');
    if (!apiVersion) {
      throw armError(
        400,
        'MissingApiVersionParameter',
        'The api-version query parameter (?api-version=) is required for all requests.',
      );
    }
    const pathname = req.url.pathname;
    if (/\/providers\/microsoft\.authorization\//i.test(pathname)) {
      return handleAuthorization({
        ctx: this.ctx,
        req,
        apiVersion,
        principal,
        authorize: this.authorize.bind(this),
      });
    }
    const operation = this.matchOperationUrl(pathname);
    if (operation !== undefined) return this.pollOperation(operation, pathname);

    const path = parseResourcePath(pathname);
    if (!path)
      throw armError(404, 'InvalidResourceType', `The resource path '${pathname}' is not supported.`);
    if (!sameId(path.subscriptionId, this.ctx.state.subscriptionId)) {
      throw armError(
        404,
        'SubscriptionNotFound',
        `The subscription '${path.subscriptionId}' could not be found.`,
      );
    }
    if (path.namespace === undefined) return this.routeWithoutProvider(req, path, apiVersion, principal);
    if (path.resourceGroup === undefined)
      return this.routeSubscriptionProvider(req, path, apiVersion, principal);
    return this.routeResource(req, path, apiVersion, principal);
  }

  // ---- authentication and authorisation -------------------------------------------------

  private authenticate(req: SimRequest): Principal {
    const header = req.headers.authorization;
    if (header === undefined) {
      throw armError(
        401,
        'AuthenticationFailed',
        "Authentication failed. The 'Authorization' header is missing.",
        {
          'WWW-Authenticate': `Bearer authorization_uri="${this.ctx.endpoints.baseUrl}/${this.ctx.state.options.tenantId}", error="invalid_token", error_description="The authentication failed because of missing 'Authorization' header."`,
        },
      );
    }
    const result = this.options.identity.authenticate(req.headers);
    if (!result) {
      throw armError(401, 'InvalidAuthenticationToken', 'The access token is invalid.');
    }
    const audience = result.claims.aud.replace(/\/+$/, '');
    if (audience !== this.ctx.endpoints.baseUrl && !armAudiences.includes(audience)) {
      throw armError(
        401,
        'InvalidAuthenticationTokenAudience',
        `The access token has been obtained for wrong audience or resource '${result.claims.aud}'. It should exactly match with one of the allowed audiences '${armAudiences.join("','")}'.`,
      );
    }
    return result.principal;
  }

  /** Throws AuthorizationFailed unless the principal holds a role granting `right` at `scope`. */
  authorize(
    principal: Principal,
    right: 'read' | 'write' | 'assignRoles',
    scope: string,
    action: string,
  ): void {
    const roles = this.ctx.state.rolesAt(principal.objectId, scope);
    if (roles.some((role) => role.control[right])) return;
    throw armError(
      403,
      'AuthorizationFailed',
      `The client '${principal.appId ?? principal.objectId}' with object id '${principal.objectId}' does not have authorization to perform action '${action}' over scope '${scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.`,
    );
  }

  private rightFor(method: string): 'read' | 'write' {
    return method === 'GET' || method === 'HEAD' ? 'read' : 'write';
  }

  private checkApiVersion(
    apiVersion: string,
    supported: readonly string[],
    type: string,
    location?: string,
  ): void {
    if (supported.includes(apiVersion)) return;
    if (type === resourceGroupType || type === 'resources' || type === 'subscriptions') {
      throw armError(
        400,
        'InvalidApiVersionParameter',
        `The api-version '${apiVersion}' is invalid. The supported versions are '${supported.join(',')}'.`,
      );
    }
    const [namespace, ...rest] = type.split('/');
    throw armError(
      400,
      'NoRegisteredProviderFound',
      `No registered resource provider found for location '${location ?? 'westeurope'}' and API version '${apiVersion}' for type '${rest.join('/')}'. The supported api-versions are '${supported.join(', ')}'. The supported locations are 'westeurope, northeurope, swedencentral, eastus'.`,
      {},
      namespace ? [{ code: 'NamespaceHint', message: namespace }] : undefined,
    );
  }

  // ---- long-running operation URLs --------------------------------------------------------

  private matchOperationUrl(pathname: string): ArmOperation | undefined {
    const match =
      /^\/subscriptions\/[^/]+\/(?:providers\/[^/]+\/locations\/[^/]+\/)?(?:operationstatuses|operationresults)\/([^/]+)$/i.exec(
        pathname,
      );
    if (!match?.[1]) return undefined;
    const operation = this.ctx.state.operations.get(match[1]);
    if (!operation) throw armError(404, 'OperationNotFound', `The operation '${match[1]}' was not found.`);
    return operation;
  }

  private pollOperation(operation: ArmOperation, pathname: string): SimResponse {
    const iso = (ms: number) => new Date(ms).toISOString();
    if (/\/operationstatuses\//i.test(pathname)) {
      return {
        status: 200,
        body: {
          id: pathname,
          name: operation.id,
          status: operation.status,
          startTime: iso(operation.startedAt),
          ...(operation.endedAt !== undefined ? { endTime: iso(operation.endedAt) } : {}),
          ...(operation.status === 'Failed' && operation.failure ? { error: operation.failure } : {}),
        },
      };
    }
    if (operation.status === 'InProgress') {
      return { status: 202, headers: { Location: this.operationUrl(operation, 'operationResults') } };
    }
    if (operation.status === 'Failed') {
      const failure = operation.failure ?? { code: 'InternalServerError', message: 'The operation failed.' };
      return { status: 400, body: { error: failure } };
    }
    const result = operation.result?.() ?? { status: 200 };
    return result.body === undefined
      ? { status: result.status }
      : { status: result.status, body: result.body };
  }

  operationUrl(
    operation: ArmOperation,
    kind: 'operationStatuses' | 'operationResults',
    apiVersion?: string,
  ): string {
    const base = this.ctx.endpoints.baseUrl;
    const sub = this.ctx.state.subscriptionId;
    const query = `?api-version=${apiVersion ?? '2025-04-01'}`;
    if (operation.namespace === 'Microsoft.Resources')
      return `${base}/subscriptions/${sub}/operationresults/${operation.id}${query}`;
    return `${base}/subscriptions/${sub}/providers/${operation.namespace}/locations/${operation.location}/${kind}/${operation.id}${query}`;
  }

  /** Applies lroFailed / slowProvisioning faults to an operation about to start. */
  private plannedOutcome(req: SimRequest): {
    failure?: { code: string; message: string };
    durationMs?: number;
  } {
    const target = { surface: 'arm', method: req.method, path: req.url.pathname };
    const failed = this.ctx.faults.match(['lroFailed'], target);
    const slow = this.ctx.faults.match(['slowProvisioning'], target);
    return {
      ...(failed
        ? {
            failure: {
              code: failed.code ?? 'InternalServerError',
              message: failed.message ?? 'The long-running operation failed (injected fault).',
            },
          }
        : {}),
      ...(slow ? { durationMs: slow.seconds * 1000 } : {}),
    };
  }

  // ---- subscription, resource groups, generic lists ---------------------------------------

  private async routeWithoutProvider(
    req: SimRequest,
    path: ResourcePath,
    apiVersion: string,
    principal: Principal,
  ): Promise<SimResponse> {
    const subscriptionScope = `/subscriptions/${this.ctx.state.subscriptionId}`;
    const trailing = path.trailing?.toLowerCase();
    if (path.resourceGroup === undefined) {
      if (trailing === undefined && req.method === 'GET') {
        this.checkApiVersion(apiVersion, genericListApiVersions, 'subscriptions');
        this.authorize(principal, 'read', subscriptionScope, 'Microsoft.Resources/subscriptions/read');
        return {
          status: 200,
          body: {
            id: subscriptionScope,
            subscriptionId: this.ctx.state.subscriptionId,
            tenantId: this.ctx.state.options.tenantId,
            displayName: this.ctx.state.options.subscriptionName,
            state: 'Enabled',
            subscriptionPolicies: {
              locationPlacementId: 'Public_2014-09-01',
              quotaId: 'PayAsYouGo_2014-09-01',
              spendingLimit: 'Off',
            },
          },
        };
      }
      if (trailing === 'resourcegroups' && req.method === 'GET') {
        this.checkApiVersion(apiVersion, resourceManagerApiVersions, resourceGroupType);
        this.authorize(
          principal,
          'read',
          subscriptionScope,
          'Microsoft.Resources/subscriptions/resourceGroups/read',
        );
        return {
          status: 200,
          body: { value: this.ctx.state.find(resourceGroupType).map((group) => group.body) },
        };
      }
      if (trailing === 'resources' && req.method === 'GET') {
        this.checkApiVersion(apiVersion, genericListApiVersions, 'resources');
        this.authorize(
          principal,
          'read',
          subscriptionScope,
          'Microsoft.Resources/subscriptions/resources/read',
        );
        return {
          status: 200,
          body: { value: this.genericList(subscriptionScope, req.url.searchParams.get('$filter')) },
        };
      }
      throw armError(
        405,
        'MethodNotAllowed',
        `The method '${req.method}' is not supported on '${req.url.pathname}'.`,
      );
    }
    const groupId = resourceGroupId(this.ctx.state.subscriptionId, path.resourceGroup);
    if (trailing === 'resources' && req.method === 'GET') {
      this.checkApiVersion(apiVersion, genericListApiVersions, 'resources');
      this.authorize(
        principal,
        'read',
        groupId,
        'Microsoft.Resources/subscriptions/resourceGroups/resources/read',
      );
      if (!this.ctx.state.resourceGroupExists(path.resourceGroup))
        throw resourceGroupNotFound(path.resourceGroup);
      return { status: 200, body: { value: this.genericList(groupId, req.url.searchParams.get('$filter')) } };
    }
    if (trailing !== undefined) {
      throw armError(404, 'InvalidResourceType', `The resource path '${req.url.pathname}' is not supported.`);
    }
    this.checkApiVersion(apiVersion, resourceManagerApiVersions, resourceGroupType);
    return this.resourceGroup(req, path.resourceGroup, groupId, apiVersion, principal);
  }

  private genericList(scope: string, filter: string | null): Record<string, unknown>[] {
    const typeFilter = filter ? /resourceType\s+eq\s+'([^']+)'/i.exec(filter)?.[1] : undefined;
    return this.ctx.state
      .find(typeFilter, scope)
      .filter((resource) => resource.type !== resourceGroupType && resource.type.split('/').length === 2)
      .map((resource) => {
        const { id, name, type, location, tags, kind, sku, identity } = resource.body;
        return { id, name, type, location, tags, kind, sku, identity };
      });
  }

  private async resourceGroup(
    req: SimRequest,
    name: string,
    id: string,
    apiVersion: string,
    principal: Principal,
  ): Promise<SimResponse> {
    const state = this.ctx.state;
    const existing = state.get(id);
    const action = `Microsoft.Resources/subscriptions/resourceGroups/${req.method === 'GET' || req.method === 'HEAD' ? 'read' : req.method === 'DELETE' ? 'delete' : 'write'}`;
    this.authorize(principal, this.rightFor(req.method), id, action);
    switch (req.method) {
      case 'HEAD':
        return { status: existing ? 204 : 404 };
      case 'GET':
        if (!existing) throw resourceGroupNotFound(name);
        return { status: 200, body: existing.body };
      case 'PUT':
      case 'PATCH': {
        if (req.method === 'PATCH' && !existing) throw resourceGroupNotFound(name);
        if (!/^[-\w._()]{1,90}$/.test(name) || name.endsWith('.')) {
          throw armError(
            400,
            'InvalidResourceGroup',
            `The provided resource group name '${name}' has these invalid characters or is too long.`,
          );
        }
        const body = req.json<Record<string, unknown>>();
        if (!isRecord(body))
          throw armError(
            400,
            'InvalidRequestContent',
            'The request content was invalid and could not be deserialized.',
          );
        if (
          isRecord(existing?.body['properties']) &&
          existing.body['properties']['provisioningState'] === 'Deleting'
        ) {
          throw armError(
            409,
            'ResourceGroupBeingDeleted',
            `The resource group '${name}' is in deprovisioning state and cannot perform this operation.`,
          );
        }
        const location =
          typeof body['location'] === 'string'
            ? body['location']
            : (existing?.body['location'] as string | undefined);
        if (!location)
          throw armError(400, 'LocationRequired', 'The location property is required for this definition.');
        if (
          existing &&
          typeof body['location'] === 'string' &&
          body['location'].toLowerCase() !== String(existing.body['location']).toLowerCase()
        ) {
          throw armError(
            409,
            'InvalidResourceGroupLocation',
            `Invalid resource group location '${body['location']}'. The Resource group already exists in location '${String(existing.body['location'])}'.`,
          );
        }
        const tags = isRecord(body['tags'])
          ? body['tags']
          : req.method === 'PATCH'
            ? (existing?.body['tags'] ?? {})
            : {};
        const now = state.clock.now();
        const stored: StoredResource = {
          id: existing?.id ?? id,
          type: resourceGroupType,
          name: existing?.name ?? name,
          subscriptionId: state.subscriptionId,
          resourceGroup: existing?.name ?? name,
          body: {
            id: existing?.id ?? id,
            name: existing?.name ?? name,
            type: resourceGroupType,
            location: stringOf(existing?.body, 'location', location).toLowerCase(),
            ...(typeof body['managedBy'] === 'string' ? { managedBy: body['managedBy'] } : {}),
            tags,
            properties: { provisioningState: 'Succeeded' },
          },
          hidden: {},
          createdAt: existing?.createdAt ?? now,
          updatedAt: now,
        };
        state.put(stored);
        return { status: existing || req.method === 'PATCH' ? 200 : 201, body: stored.body };
      }
      case 'DELETE': {
        if (!existing) throw resourceGroupNotFound(name);
        const properties = existing.body['properties'] as Record<string, unknown>;
        properties['provisioningState'] = 'Deleting';
        const planned = this.plannedOutcome(req);
        const operation = state.startOperation({
          namespace: 'Microsoft.Resources',
          location: String(existing.body['location']),
          resourceId: existing.id,
          kind: 'delete',
          ...planned,
          resume: { kind: 'groupDelete' },
        });
        return {
          status: 202,
          headers: { Location: this.operationUrl(operation, 'operationResults', apiVersion) },
        };
      }
      default:
        throw armError(
          405,
          'MethodNotAllowed',
          `The method '${req.method}' is not supported for resource groups.`,
        );
    }
  }

  // ---- provider routes --------------------------------------------------------------------

  private async routeSubscriptionProvider(
    req: SimRequest,
    path: ResourcePath,
    apiVersion: string,
    principal: Principal,
  ): Promise<SimResponse> {
    const namespace = path.namespace!;
    const provider = this.providers.get(namespace.toLowerCase());
    if (!provider) {
      throw armError(
        404,
        'MissingSubscriptionRegistration',
        `The subscription is not registered to use namespace '${namespace}'.`,
      );
    }
    const scope = `/subscriptions/${this.ctx.state.subscriptionId}`;
    // GET /subscriptions/{s}/providers/{ns}/{type}: list the type across the subscription.
    if (path.types.length === 0 && path.trailing !== undefined && req.method === 'GET') {
      const entry = this.specs.get(`${namespace}/${path.trailing}`.toLowerCase());
      if (entry) {
        this.checkApiVersion(apiVersion, entry.spec.apiVersions, entry.spec.type);
        this.authorize(principal, 'read', scope, `${entry.spec.type}/read`);
        return {
          status: 200,
          body: { value: this.ctx.state.find(entry.spec.type, scope).map((r) => r.body) },
        };
      }
    }
    const segments = [
      ...path.types.flatMap((type, index) => [type, path.names[index]!]),
      ...(path.trailing ? [path.trailing] : []),
    ];
    this.authorize(
      principal,
      this.rightFor(req.method),
      scope,
      `${namespace}/${segments.join('/')}/${req.method === 'GET' ? 'read' : 'action'}`,
    );
    const response = await provider.subscriptionRoute?.({
      ctx: this.ctx,
      req,
      apiVersion,
      segments,
      principal,
    });
    if (response) return response;
    throw armError(
      404,
      'InvalidResourceType',
      `The resource type '${segments[0] ?? ''}' could not be found in the namespace '${namespace}' for api version '${apiVersion}'.`,
    );
  }

  private async routeResource(
    req: SimRequest,
    path: ResourcePath,
    apiVersion: string,
    principal: Principal,
  ): Promise<SimResponse> {
    const state = this.ctx.state;
    const group = path.resourceGroup!;
    const namespace = path.namespace!;
    const groupId = resourceGroupId(state.subscriptionId, group);

    // GET .../resourceGroups/{rg}/providers/{ns}/{type}: list the type in the group.
    if (path.types.length === 0) {
      const entry = path.trailing ? this.specs.get(`${namespace}/${path.trailing}`.toLowerCase()) : undefined;
      if (!entry || req.method !== 'GET') {
        throw armError(
          404,
          'InvalidResourceType',
          `The resource type '${path.trailing ?? ''}' could not be found in the namespace '${namespace}'.`,
        );
      }
      this.checkApiVersion(apiVersion, entry.spec.apiVersions, entry.spec.type);
      this.authorize(principal, 'read', groupId, `${entry.spec.type}/read`);
      if (!state.resourceGroupExists(group)) throw resourceGroupNotFound(group);
      return { status: 200, body: { value: state.find(entry.spec.type, groupId).map((r) => r.body) } };
    }

    // Find the longest type chain with a spec: the rest is a collection, action or sub-route.
    for (let depth = path.types.length; depth >= 1; depth--) {
      const typeName = `${namespace}/${path.types.slice(0, depth).join('/')}`;
      const entry = this.specs.get(typeName.toLowerCase());
      if (!entry) continue;
      const id = this.canonicalId(entry.spec, path, depth);
      const rest = [
        ...path.types.slice(depth).flatMap((type, index) => [type, path.names[depth + index]!]),
        ...(path.trailing ? [path.trailing] : []),
      ];
      if (!state.resourceGroupExists(group)) {
        this.authorize(
          principal,
          this.rightFor(req.method),
          groupId,
          `${entry.spec.type}/${req.method === 'GET' ? 'read' : 'write'}`,
        );
        throw resourceGroupNotFound(group);
      }
      if (rest.length === 0) return this.crud(req, entry.spec, id, path, depth, apiVersion, principal);
      const resource = state.get(id);
      if (rest.length === 1) {
        const child = this.specs.get(`${typeName}/${rest[0]!}`.toLowerCase());
        if (child && req.method === 'GET') {
          this.checkApiVersion(apiVersion, child.spec.apiVersions, child.spec.type);
          this.authorize(principal, 'read', id, `${child.spec.type}/read`);
          if (!resource) throw resourceNotFound(entry.spec.type, path.names[depth - 1]!, group);
          return {
            status: 200,
            body: { value: state.find(child.spec.type, id).map((r) => r.body) },
          };
        }
        const action = entry.spec.actions?.[rest[0]!.toLowerCase()];
        if (action && req.method === 'POST') {
          this.checkApiVersion(apiVersion, entry.spec.apiVersions, entry.spec.type);
          this.authorize(principal, 'write', id, `${entry.spec.type}/${rest[0]!}/action`);
          if (!resource) throw resourceNotFound(entry.spec.type, path.names[depth - 1]!, group);
          return action({ ctx: this.ctx, req, apiVersion, resource, principal });
        }
      }
      if (entry.spec.route) {
        this.checkApiVersion(apiVersion, entry.spec.apiVersions, entry.spec.type);
        this.authorize(principal, this.rightFor(req.method), id, `${entry.spec.type}/${rest.join('/')}`);
        if (!resource) throw resourceNotFound(entry.spec.type, path.names[depth - 1]!, group);
        const response = await entry.spec.route({
          ctx: this.ctx,
          req,
          apiVersion,
          resource,
          principal,
          segments: rest,
        });
        if (response) return response;
      }
      break;
    }
    throw armError(
      404,
      'InvalidResourceType',
      `The resource type '${path.types.join('/')}' could not be found in the namespace '${namespace}' for api version '${apiVersion}'.`,
    );
  }

  /** The id with the spec's canonical type casing and the names as sent. */
  private canonicalId(spec: ResourceTypeSpec, path: ResourcePath, depth: number): string {
    const [namespace, ...types] = spec.type.split('/');
    const pairs = types.map((type, index) => `${type}/${path.names[index]!}`).slice(0, depth);
    return `${resourceGroupId(this.ctx.state.subscriptionId, path.resourceGroup!)}/providers/${namespace!}/${pairs.join('/')}`;
  }

  private async crud(
    req: SimRequest,
    spec: ResourceTypeSpec,
    id: string,
    path: ResourcePath,
    depth: number,
    apiVersion: string,
    principal: Principal,
  ): Promise<SimResponse> {
    const state = this.ctx.state;
    const name = path.names[depth - 1]!;
    const group = path.resourceGroup!;
    const verb = req.method === 'GET' ? 'read' : req.method === 'DELETE' ? 'delete' : 'write';
    this.authorize(principal, this.rightFor(req.method), id, `${spec.type}/${verb}`);
    const existing = state.get(id);
    const bodyLocation = () => {
      try {
        const body = req.json<Record<string, unknown>>();
        return isRecord(body) && typeof body['location'] === 'string' ? body['location'] : undefined;
      } catch {
        return undefined;
      }
    };
    this.checkApiVersion(
      apiVersion,
      spec.apiVersions,
      spec.type,
      req.body.length > 0 ? bodyLocation() : undefined,
    );
    // Child resources need their parent (the nearest stored ancestor).
    let parent: StoredResource | undefined;
    if (depth > 1) {
      for (let parentDepth = depth - 1; parentDepth >= 1; parentDepth--) {
        const parentType = `${path.namespace!}/${path.types.slice(0, parentDepth).join('/')}`.toLowerCase();
        if (!this.specs.has(parentType)) continue;
        const parentSpec = this.specs.get(parentType)!.spec;
        parent = state.get(this.canonicalId(parentSpec, path, parentDepth));
        if (!parent) {
          throw armError(
            404,
            'ParentResourceNotFound',
            `Can not perform requested operation on nested resource. Parent resource '${path.names[parentDepth - 1]!}' not found.`,
          );
        }
        break;
      }
    }
    switch (req.method) {
      case 'GET':
        if (!existing) throw resourceNotFound(spec.type, name, group);
        return { status: 200, body: existing.body };
      case 'HEAD':
        return { status: existing ? 204 : 404 };
      case 'PUT':
      case 'PATCH': {
        let body = req.json<Record<string, unknown>>();
        if (!isRecord(body))
          throw armError(
            400,
            'InvalidRequestContent',
            'The request content was invalid and could not be deserialized.',
          );
        if (req.method === 'PATCH') {
          if (!existing) throw resourceNotFound(spec.type, name, group);
          body = mergePatch(isRecord(existing.hidden['input']) ? existing.hidden['input'] : {}, body);
        }
        if (spec.tracked && typeof body['location'] !== 'string') {
          throw armError(400, 'LocationRequired', 'The location property is required for this definition.');
        }
        if (
          existing &&
          spec.tracked &&
          String(existing.body['location']).toLowerCase() !== String(body['location']).toLowerCase()
        ) {
          throw armError(
            400,
            'LocationNotAvailableForResourceType',
            `The resource '${name}' already exists in location '${String(existing.body['location'])}'; a resource cannot be moved by changing its location.`,
          );
        }
        // After ARM's own checks (LocationRequired first, as ARM answers it), the provider's spec.
        if (spec.schema) body = checkBody(spec.schema, body);
        const input: PutInput = {
          ctx: this.ctx,
          req,
          apiVersion,
          id: existing?.id ?? id,
          name: existing?.name ?? name,
          resourceGroup: group,
          type: spec.type,
          body,
          existing,
          parent,
          principal,
        };
        return this.upsert(spec, input, req.method === 'PATCH');
      }
      case 'DELETE': {
        if (!existing) return { status: 204 };
        spec.beforeDelete?.(existing, this.ctx);
        if (spec.deleteMode === 'sync') {
          this.removeResource(existing, req.url.searchParams);
          return { status: 200 };
        }
        const properties = existing.body['properties'] as Record<string, unknown>;
        const previousState = properties['provisioningState'];
        properties['provisioningState'] = 'Deleting';
        const operation = state.startOperation({
          namespace: spec.type.split('/')[0]!,
          location: stringOf(existing.body, 'location', 'westeurope').replaceAll(' ', '').toLowerCase(),
          resourceId: existing.id,
          kind: 'delete',
          ...this.plannedOutcome(req),
          resume: { kind: 'delete', previousState, query: req.url.searchParams.toString() },
        });
        const headers: Record<string, string> = {
          Location: this.operationUrl(operation, 'operationResults', apiVersion),
        };
        if (spec.deleteMode === 'asyncOperation')
          headers['Azure-AsyncOperation'] = this.operationUrl(operation, 'operationStatuses', apiVersion);
        return { status: 202, headers };
      }
      default:
        throw armError(405, 'MethodNotAllowed', `The method '${req.method}' is not supported.`);
    }
  }

  private async upsert(spec: ResourceTypeSpec, input: PutInput, isPatch: boolean): Promise<SimResponse> {
    const state = this.ctx.state;
    const existing = input.existing;
    if (existing && isRecord(existing.body['properties'])) {
      const current = existing.body['properties']['provisioningState'];
      if (current === 'Deleting') {
        throw armError(
          409,
          'Conflict',
          `The resource '${input.name}' is being deleted and cannot be updated.`,
        );
      }
    }
    const built = await spec.build(input);
    const now = state.clock.now();
    const previous = existing ? structuredClone(existing) : undefined;
    const body: Record<string, unknown> = {
      id: input.id,
      name: input.name,
      type: spec.type,
      ...(spec.tracked
        ? {
            location: String(existing?.body['location'] ?? input.body['location'])
              .replaceAll(' ', '')
              .toLowerCase(),
            tags: isRecord(input.body['tags']) ? input.body['tags'] : {},
          }
        : {}),
      ...built.extra,
      properties: { ...built.properties },
      systemData: {
        createdBy: String(
          existing
            ? recordOf(existing.body['systemData'])['createdBy']
            : (input.principal.appId ?? input.principal.objectId),
        ),
        createdByType: 'Application',
        createdAt: new Date(existing?.createdAt ?? now).toISOString(),
        lastModifiedBy: input.principal.appId ?? input.principal.objectId,
        lastModifiedByType: 'Application',
        lastModifiedAt: new Date(now).toISOString(),
      },
    };
    const stored: StoredResource = {
      id: input.id,
      type: spec.type,
      name: input.name,
      subscriptionId: state.subscriptionId,
      resourceGroup: input.resourceGroup,
      body,
      hidden: { ...existing?.hidden, ...built.hidden, input: input.body },
      createdAt: existing?.createdAt ?? now,
      updatedAt: now,
    };
    const properties = body['properties'] as Record<string, unknown>;
    const mode = isPatch
      ? (spec.patchMode ?? 'sync')
      : existing && spec.syncWhenExisting
        ? 'sync'
        : spec.putMode;
    const created = !existing;
    if (mode === 'sync') {
      properties['provisioningState'] = 'Succeeded';
      state.put(stored);
      spec.onProvisioned?.(stored, this.ctx, previous);
      return { status: created ? (spec.createdStatus ?? 201) : 200, body: stored.body };
    }
    properties['provisioningState'] = spec.runningState ?? 'Accepted';
    state.put(stored);
    const operation = state.startOperation({
      namespace: spec.type.split('/')[0]!,
      location: stringOf(body, 'location', 'westeurope'),
      resourceId: stored.id,
      kind: 'put',
      ...(built.failure ? { failure: built.failure } : {}),
      ...this.plannedOutcome(input.req),
      resume: { kind: 'put', type: spec.type, ...(previous ? { previous } : {}) },
    });
    switch (mode) {
      case 'body':
        return { status: created ? 201 : 200, body: stored.body };
      case 'asyncOperation':
        return {
          status: created ? 201 : isPatch ? 202 : 200,
          headers: {
            'Azure-AsyncOperation': this.operationUrl(operation, 'operationStatuses', input.apiVersion),
            ...(isPatch
              ? { Location: this.operationUrl(operation, 'operationResults', input.apiVersion) }
              : {}),
          },
          body: stored.body,
        };
      case 'location':
        return {
          status: 202,
          headers: { Location: this.operationUrl(operation, 'operationResults', input.apiVersion) },
        };
    }
  }

  /** Removes a resource with its children and the role assignments on it, then runs onDeleted. */
  removeResource(resource: StoredResource, query: URLSearchParams): void {
    const state = this.ctx.state;
    const children = state.find(undefined, resource.id).filter((child) => child.id !== resource.id);
    children.sort((a, b) => b.id.length - a.id.length);
    for (const child of children) {
      state.remove(child.id);
      this.specs.get(child.type.toLowerCase())?.spec.onDeleted?.(child, this.ctx, query);
    }
    state.removeAssignmentsUnder(resource.id);
    state.remove(resource.id);
    this.specs.get(resource.type.toLowerCase())?.spec.onDeleted?.(resource, this.ctx, query);
  }
}

function recordOf(value: unknown): Record<string, unknown> {
  return isRecord(value) ? value : {};
}
