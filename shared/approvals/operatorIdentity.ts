import type { HttpRequestUser } from '@azure/functions';
import type { BrokerConfig } from '../config.js';
import type { RequestedBy } from '../requests/lifecycleRequest.js';
import type { Actor } from '../domain/actor.js';

/**
 * Who an operator calling the HTTP API is. The one place that reads it, for every route (through
 * functions/api/caller.ts).
 *
 * With `OPERATOR_AUTH=easyauth` the Function App sits behind App Service authentication (Entra ID,
 * infra/modules/broker.bicep): the platform validates the caller's token and sets the
 * `x-ms-client-principal*` headers, and "external requests aren't allowed to set these headers, so
 * they're present only if set by App Service" (learn.microsoft.com/azure/app-service/
 * configure-authentication-user-identities). The broker reads them through @azure/functions
 * (`request.user`, which decodes `x-ms-client-principal`), never by hand.
 *
 * Without it (`function-key`, the default and the sandbox) nothing strips those headers: anyone
 * holding the function key could write any name. They are then ignored, and every caller is the
 * one operator the function key stands for (`OPERATOR_FUNCTION_KEY_IDENTITY`), or the anonymous
 * `function-key`, which may never approve.
 */
export interface Operator {
  /** The Entra object id (Easy Auth), or the function key's configured identity. */
  id: string;
  /** A readable name for messages (the user principal name); never used to decide anything. */
  name?: string | undefined;
  /** Entra group object ids from the token's `groups` claim (Easy Auth only). */
  groups: readonly string[];
  authenticatedBy: 'easyauth' | 'function-key';
}

/** The caller of a function-key route when no operator is named for the key. */
export const ANONYMOUS_FUNCTION_KEY = 'function-key';

/** The parts of an HttpRequest this module reads. */
export interface CallerRequest {
  readonly user: HttpRequestUser | null;
}

type OperatorsConfig = BrokerConfig['operators'];

const OBJECT_ID_CLAIMS = ['http://schemas.microsoft.com/identity/claims/objectidentifier', 'oid'];
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The operator behind an API call, or undefined when Easy Auth is configured but the platform set
 * no usable principal (the route must then refuse: under `requireAuthentication` that only
 * happens when the app is deployed without its authentication settings).
 */
export function operatorOf(request: CallerRequest, operators: OperatorsConfig): Operator | undefined {
  if (operators.auth !== 'easyauth') {
    return {
      id: operators.functionKeyIdentity ?? ANONYMOUS_FUNCTION_KEY,
      groups: [],
      authenticatedBy: 'function-key',
    };
  }
  let user: HttpRequestUser | null;
  try {
    // The library throws when x-ms-client-principal comes without its -id/-name/-idp companions.
    user = request.user;
  } catch {
    return undefined;
  }
  if (!user || user.type !== 'AppService' || user.identityProvider !== 'aad') return undefined;
  const claims = claimsOf(user.claimsPrincipalData);
  const objectId = claims.find((claim) => OBJECT_ID_CLAIMS.includes(claim.typ))?.val ?? user.id;
  if (!objectId || !GUID.test(objectId)) return undefined;
  return {
    id: objectId.toLowerCase(),
    name: user.username ? user.username.slice(0, 128) : undefined,
    groups: claims
      .filter((claim) => claim.typ === 'groups' && GUID.test(claim.val))
      .map((claim) => claim.val.toLowerCase()),
    authenticatedBy: 'easyauth',
  };
}

/**
 * Why this operator may not approve or reject through the API, or undefined when they may: they
 * must be named in OPERATOR_APPROVER_IDS or be in one of OPERATOR_APPROVER_GROUP_IDS. The anonymous
 * function key never may: without Easy Auth an operator is only as known as the setting names it.
 */
export function approverRefusal(operator: Operator, operators: OperatorsConfig): string | undefined {
  if (operator.authenticatedBy === 'function-key' && operator.id === ANONYMOUS_FUNCTION_KEY) {
    return "approvals through the API need a known operator: sign in through Easy Auth (OPERATOR_AUTH=easyauth), or name the function key's operator in OPERATOR_FUNCTION_KEY_IDENTITY and list it in OPERATOR_APPROVER_IDS";
  }
  if (operators.approverIds.includes(operator.id)) return undefined;
  if (operator.groups.some((group) => operators.approverGroupIds.includes(group))) return undefined;
  return `operator ${describeOperator(operator)} is not an approver (OPERATOR_APPROVER_IDS, OPERATOR_APPROVER_GROUP_IDS)`;
}

/** The operator as an approval actor. */
export function operatorActor(operator: Operator): Extract<Actor, { kind: 'operator' }> {
  return { kind: 'operator', id: operator.id, ...(operator.name ? { name: operator.name } : {}) };
}

/** The operator as the requester of an HTTP request: from the caller, never from the body. */
export function operatorRequester(operator: Operator): RequestedBy {
  return { kind: 'operator', id: operator.id };
}

export function describeOperator(operator: Operator): string {
  return operator.name && operator.name !== operator.id ? `${operator.name} (${operator.id})` : operator.id;
}

function claimsOf(data: Record<string, unknown>): { typ: string; val: string }[] {
  const claims = data['claims'];
  if (!Array.isArray(claims)) return [];
  return claims.filter(
    (claim): claim is { typ: string; val: string } =>
      !!claim &&
      typeof (claim as { typ?: unknown }).typ === 'string' &&
      typeof (claim as { val?: unknown }).val === 'string',
  );
}
