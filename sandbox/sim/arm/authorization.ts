import type { Principal } from '../identity.js';
import type { SimRequest, SimResponse } from '../surface.js';
import { evaluateCondition } from './abacCondition.js';
import { armError, resourceGroupNotFound } from './armErrors.js';
import type { RoleAssignment } from './armState.js';
import { builtInRoles, findBuiltInRole, roleDefinitionResource } from './roles.js';
import { parseResourcePath, sameId, scopeCovers } from './resourcePath.js';
import { isRecord, type ArmContext } from './resourceType.js';

export const roleAssignmentApiVersions = [
  '2022-04-01',
  '2020-10-01-preview',
  '2020-04-01-preview',
  '2018-09-01-preview',
  '2015-07-01',
];
export const roleDefinitionApiVersions = [
  '2022-05-01-preview',
  '2022-04-01',
  '2018-01-01-preview',
  '2015-07-01',
];
const guidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface AuthorizationInput {
  ctx: ArmContext;
  req: SimRequest;
  apiVersion: string;
  principal: Principal;
  authorize(
    principal: Principal,
    right: 'read' | 'write' | 'assignRoles',
    scope: string,
    action: string,
  ): void;
}

/** Microsoft.Authorization at any scope: role assignments and built-in role definitions. */
export async function handleAuthorization(input: AuthorizationInput): Promise<SimResponse> {
  const { req, apiVersion } = input;
  const pathname = req.url.pathname;
  const marker = /\/providers\/microsoft\.authorization\//gi;
  let index = -1;
  for (const match of pathname.matchAll(marker)) index = match.index;
  const scope = pathname.slice(0, index);
  const rest = pathname
    .slice(index)
    .split('/')
    .filter(Boolean)
    .slice(2)
    .map((segment) => decodeURIComponent(segment));
  const collection = rest[0]?.toLowerCase();
  if (collection === 'roledefinitions') {
    if (!roleDefinitionApiVersions.includes(apiVersion)) {
      throw armError(
        400,
        'NoRegisteredProviderFound',
        `No registered resource provider found for location 'global' and API version '${apiVersion}' for type 'roleDefinitions'. The supported api-versions are '${roleDefinitionApiVersions.join(', ')}'.`,
      );
    }
    return roleDefinitions(input, scope, rest[1]);
  }
  if (collection === 'roleassignments') {
    if (!roleAssignmentApiVersions.includes(apiVersion)) {
      throw armError(
        400,
        'NoRegisteredProviderFound',
        `No registered resource provider found for location 'global' and API version '${apiVersion}' for type 'roleAssignments'. The supported api-versions are '${roleAssignmentApiVersions.join(', ')}'.`,
      );
    }
    return roleAssignments(input, canonicalScope(input.ctx, scope), rest[1]);
  }
  throw armError(
    404,
    'InvalidResourceType',
    `The resource type '${rest[0] ?? ''}' could not be found in the namespace 'Microsoft.Authorization'.`,
  );
}

/** Checks the scope exists and returns it with the stored resource's casing. */
function canonicalScope(ctx: ArmContext, scope: string): string {
  const state = ctx.state;
  const path = parseResourcePath(scope);
  if (!path || !sameId(path.subscriptionId, state.subscriptionId)) {
    throw armError(400, 'InvalidScope', `The scope '${scope}' is not valid for role assignments.`);
  }
  if (path.resourceGroup === undefined) return `/subscriptions/${state.subscriptionId}`;
  if (!state.resourceGroupExists(path.resourceGroup)) throw resourceGroupNotFound(path.resourceGroup);
  const stored = state.get(scope);
  if (stored) return stored.id;
  if (path.namespace === undefined && path.trailing === undefined) return state.get(scope)?.id ?? scope;
  throw armError(404, 'ResourceNotFound', `The Resource '${scope}' was not found.`);
}

function roleDefinitions(input: AuthorizationInput, scope: string, id: string | undefined): SimResponse {
  input.authorize(
    input.principal,
    'read',
    scope || `/subscriptions/${input.ctx.state.subscriptionId}`,
    'Microsoft.Authorization/roleDefinitions/read',
  );
  if (id !== undefined) {
    const role = findBuiltInRole(id);
    if (!role)
      throw armError(
        404,
        'RoleDefinitionDoesNotExist',
        `The specified role definition with ID '${id}' does not exist.`,
      );
    return {
      status: 200,
      body: roleDefinitionResource(role, scope || `/subscriptions/${input.ctx.state.subscriptionId}`),
    };
  }
  const filter = input.req.url.searchParams.get('$filter') ?? '';
  const roleName = /roleName\s+eq\s+'([^']+)'/i.exec(filter)?.[1];
  const roles = builtInRoles.filter(
    (role) => roleName === undefined || role.roleName.toLowerCase() === roleName.toLowerCase(),
  );
  return {
    status: 200,
    body: {
      value: roles.map((role) =>
        roleDefinitionResource(role, scope || `/subscriptions/${input.ctx.state.subscriptionId}`),
      ),
    },
  };
}

export function roleAssignmentResource(assignment: RoleAssignment): Record<string, unknown> {
  return {
    id: assignment.id,
    name: assignment.name,
    type: 'Microsoft.Authorization/roleAssignments',
    properties: {
      roleDefinitionId: assignment.roleDefinitionId,
      principalId: assignment.principalId,
      principalType: assignment.principalType,
      scope: assignment.scope,
      condition: assignment.condition ?? null,
      conditionVersion: assignment.conditionVersion ?? null,
      createdOn: new Date(assignment.createdAt).toISOString(),
      updatedOn: new Date(assignment.createdAt).toISOString(),
      createdBy: assignment.createdBy,
      updatedBy: assignment.createdBy,
      delegatedManagedIdentityResourceId: null,
      description: assignment.description ?? null,
    },
  };
}

function roleAssignments(input: AuthorizationInput, scope: string, name: string | undefined): SimResponse {
  const { ctx, req, principal } = input;
  const state = ctx.state;
  if (name === undefined) {
    if (req.method !== 'GET')
      throw armError(405, 'MethodNotAllowed', `The method '${req.method}' is not supported.`);
    input.authorize(principal, 'read', scope, 'Microsoft.Authorization/roleAssignments/read');
    const filter = req.url.searchParams.get('$filter') ?? '';
    const principalFilter = /(?:principalId\s+eq\s+|assignedTo\()'([^']+)'/i.exec(filter)?.[1];
    const atScopeOnly = /atScope\(\)/i.test(filter);
    const value = [...state.roleAssignments.values()]
      .filter((assignment) =>
        atScopeOnly
          ? scopeCovers(assignment.scope, scope)
          : scopeCovers(assignment.scope, scope) || scopeCovers(scope, assignment.scope),
      )
      .filter((assignment) => principalFilter === undefined || assignment.principalId === principalFilter)
      .map(roleAssignmentResource);
    return { status: 200, body: { value } };
  }
  const id = `${scope}/providers/Microsoft.Authorization/roleAssignments/${name}`;
  const existing = state.roleAssignments.get(id.toLowerCase());
  switch (req.method) {
    case 'GET':
      input.authorize(principal, 'read', scope, 'Microsoft.Authorization/roleAssignments/read');
      if (!existing)
        throw armError(404, 'RoleAssignmentNotFound', `The role assignment '${name}' is not found.`);
      return { status: 200, body: roleAssignmentResource(existing) };
    case 'DELETE':
      if (!existing) {
        input.authorize(principal, 'assignRoles', scope, 'Microsoft.Authorization/roleAssignments/delete');
        return { status: 204 };
      }
      authorizeRoleAssignmentChange(input, scope, 'Microsoft.Authorization/roleAssignments/delete', {
        Resource: attributesOf(existing),
      });
      state.roleAssignments.delete(id.toLowerCase());
      return { status: 200, body: roleAssignmentResource(existing) };
    case 'PUT': {
      if (!guidPattern.test(name)) {
        throw armError(
          400,
          'InvalidRoleAssignmentId',
          `The role assignment ID '${name}' is not valid. The role assignment ID must be a GUID.`,
        );
      }
      const body = req.json<Record<string, unknown>>();
      const properties = isRecord(body) && isRecord(body['properties']) ? body['properties'] : {};
      const roleDefinitionId =
        typeof properties['roleDefinitionId'] === 'string' ? properties['roleDefinitionId'] : '';
      const principalId = typeof properties['principalId'] === 'string' ? properties['principalId'] : '';
      const principalType =
        typeof properties['principalType'] === 'string' ? properties['principalType'] : undefined;
      const role = findBuiltInRole(roleDefinitionId);
      if (!role) {
        throw armError(
          400,
          'RoleDefinitionDoesNotExist',
          `The specified role definition with ID '${roleDefinitionId.split('/').pop() ?? ''}' does not exist.`,
        );
      }
      const target = state.identity.get(principalId);
      const fresh =
        target !== undefined && state.clock.now() - target.createdAt < state.options.principalPropagationMs;
      const forced = ctx.faults.match(['principalNotFound'], {
        surface: 'arm',
        method: req.method,
        path: req.url.pathname,
      });
      if (forced || target === undefined || (fresh && principalType === undefined)) {
        throw armError(
          400,
          'PrincipalNotFound',
          `Principal ${principalId.replaceAll('-', '')} does not exist in the directory ${state.options.tenantId}. Check that you have the correct principal ID. If you are creating this principal and then immediately assigning a role, this error might be related to a replication delay. In this case, set the role assignment principalType property to a value, such as ServicePrincipal, User, or Group.  See https://aka.ms/docs-principaltype`,
        );
      }
      // The condition sees the principal type the request names, or (omitted) the directory's.
      authorizeRoleAssignmentChange(input, scope, 'Microsoft.Authorization/roleAssignments/write', {
        Request: attributesOf({
          roleDefinitionId: role.id,
          principalId,
          principalType: principalType ?? directoryPrincipalType(target),
        }),
      });
      if (existing) {
        if (
          existing.principalId !== principalId ||
          findBuiltInRole(existing.roleDefinitionId)?.id !== role.id
        ) {
          throw armError(
            400,
            'RoleAssignmentUpdateNotPermitted',
            'Tenant ID, application ID, principal ID, and scope are not allowed to be updated.',
          );
        }
        return { status: 201, body: roleAssignmentResource(existing) };
      }
      const duplicate = [...state.roleAssignments.values()].find(
        (assignment) =>
          assignment.principalId === principalId &&
          sameId(assignment.scope, scope) &&
          findBuiltInRole(assignment.roleDefinitionId)?.id === role.id,
      );
      if (duplicate) throw armError(409, 'RoleAssignmentExists', 'The role assignment already exists.');
      const assignment: RoleAssignment = {
        id,
        name,
        scope,
        roleDefinitionId: `/subscriptions/${state.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${role.id}`,
        principalId,
        principalType: principalType ?? directoryPrincipalType(target),
        createdAt: state.clock.now(),
        createdBy: principal.objectId,
        ...(typeof properties['description'] === 'string' ? { description: properties['description'] } : {}),
        ...(typeof properties['condition'] === 'string'
          ? {
              condition: properties['condition'],
              conditionVersion:
                typeof properties['conditionVersion'] === 'string' ? properties['conditionVersion'] : '2.0',
            }
          : {}),
      };
      state.roleAssignments.set(id.toLowerCase(), assignment);
      return { status: 201, body: roleAssignmentResource(assignment) };
    }
    default:
      throw armError(405, 'MethodNotAllowed', `The method '${req.method}' is not supported.`);
  }
}

function directoryPrincipalType(target: Principal): string {
  return target.type === 'User' ? 'User' : target.type === 'Group' ? 'Group' : 'ServicePrincipal';
}

/** A role assignment's ABAC attributes (roleAssignments write: @Request; delete: @Resource). */
function attributesOf(assignment: {
  roleDefinitionId: string;
  principalId: string;
  principalType?: string | undefined;
}): Record<string, string[]> {
  const prefix = 'Microsoft.Authorization/roleAssignments:';
  return {
    [`${prefix}RoleDefinitionId`]: [assignment.roleDefinitionId.split('/').pop() ?? ''],
    [`${prefix}PrincipalId`]: [assignment.principalId],
    ...(assignment.principalType ? { [`${prefix}PrincipalType`]: [assignment.principalType] } : {}),
  };
}

/**
 * Role assignment writes and deletes: allowed when one of the caller's assignments at a covering
 * scope grants the action and either has no condition or its condition holds for these attributes
 * (Azure grants when any assignment allows; a condition only narrows its own assignment). Otherwise
 * 403 AuthorizationFailed, the code Azure answers with for a delegation condition that is not met.
 * Source: learn.microsoft.com azure/role-based-access-control/delegate-role-assignments-overview.
 */
function authorizeRoleAssignmentChange(
  input: AuthorizationInput,
  scope: string,
  action: string,
  attributes: { Request?: Record<string, string[]>; Resource?: Record<string, string[]> },
): void {
  const { ctx, principal } = input;
  const allowed = [...ctx.state.roleAssignments.values()].some((assignment) => {
    if (assignment.principalId !== principal.objectId || !scopeCovers(assignment.scope, scope)) return false;
    if (!findBuiltInRole(assignment.roleDefinitionId)?.control.assignRoles) return false;
    if (assignment.condition === undefined) return true;
    return evaluateCondition(assignment.condition, {
      action,
      ...(attributes.Request ? { request: attributes.Request } : {}),
      ...(attributes.Resource ? { resource: attributes.Resource } : {}),
    });
  });
  if (allowed) return;
  throw armError(
    403,
    'AuthorizationFailed',
    `The client '${principal.appId ?? principal.objectId}' with object id '${principal.objectId}' does not have authorization or an ABAC condition not fulfilled to perform action '${action}' over scope '${scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.`,
  );
}

/** Grants a role directly in the state (for seeding the broker principal and tests). */
export function grantRole(
  ctx: ArmContext,
  principalId: string,
  roleName: string,
  scope: string,
  createdAt?: number,
  condition?: { condition: string; conditionVersion: string },
): RoleAssignment {
  const role = builtInRoles.find((candidate) => candidate.roleName.toLowerCase() === roleName.toLowerCase());
  if (!role) throw new Error(`Unknown built-in role '${roleName}'.`);
  const name = crypto.randomUUID();
  const id = `${scope}/providers/Microsoft.Authorization/roleAssignments/${name}`;
  const assignment: RoleAssignment = {
    id,
    name,
    scope,
    roleDefinitionId: `/subscriptions/${ctx.state.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${role.id}`,
    principalId,
    principalType: 'ServicePrincipal',
    createdAt: createdAt ?? ctx.state.clock.now(),
    createdBy: 'simulator',
    ...(condition ?? {}),
  };
  ctx.state.roleAssignments.set(id.toLowerCase(), assignment);
  return assignment;
}
