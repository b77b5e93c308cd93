import { createHash, randomBytes, randomInt, randomUUID } from 'node:crypto';
import { compileFilter, FilterError } from './graph-filter.js';
import type { SimClock, SimRequest, SimResponse, SimSurface } from './surface.js';

/** Whoever a bearer token stands for; the surface only needs to know that there is one. */
export interface GraphPrincipal {
  readonly id: string;
}

export interface GraphUserOptions {
  id?: string;
  displayName: string;
  userPrincipalName: string;
}

export interface GraphSurfaceOptions {
  clock: SimClock;
  tenantId?: string;
  /** Domains identifierUris may use (https://<domain> or a subdomain); defaults to the tenant's onmicrosoft.com. */
  verifiedDomains?: string[];
  /** Checks the Authorization header; defaults to accepting any `Bearer x.y.z`. */
  verifyToken?: (authorization: string | undefined) => GraphPrincipal | undefined;
  /** Groups that exist before anything runs; defaults to ['shire-admins']. */
  seedGroups?: string[];
  users?: GraphUserOptions[];
  /** Tenant app management policy: forbid password credentials (client secrets). */
  passwordCredentialsForbidden?: boolean;
  /** Tenant app management policy: longest allowed client secret lifetime, in days. */
  passwordMaxLifetimeDays?: number;
  /**
   * Directory objects that live outside this surface (the principals the identity directory signs
   * in, such as the broker's own service principal), by object id: references (`@odata.id`,
   * `owners@odata.bind`) may name them and owner lists show them.
   */
  externalPrincipal?: (id: string) => ExternalPrincipal | undefined;
  /**
   * Directory replication, in simulated ms (default 0: every write is seen at once). Entra is
   * eventually consistent: "a newly created object [may] return a 'Not Found'" and a read may not
   * reflect a recent write (Microsoft Entra blog, "Designing for Eventual Consistency for Microsoft
   * Entra", March 2026; aaddevsup, "Why do I sometimes get a 404 when trying to update an Azure
   * Directory object after I just created it?", 2021). For this long after its creation an
   * application, service principal or group is missing from lists and filters, answers 404
   * `Request_ResourceNotFound` to reads, updates, actions (addPassword) and reference writes
   * (owners/$ref) by its id, cannot be named in a reference, and a new application's appId does
   * not yet make `POST /servicePrincipals` valid (the 400 azure-cli and Terraform users meet right
   * after `az ad app create`). An owner added by `owners/$ref` shows in `ownedObjects` and owner
   * lists only after the same delay. Writes themselves always succeed where they land; the sources
   * give no bound, so tests choose one.
   */
  replicationDelayMs?: number;
}

/** A principal this surface does not store but knows as a directory object. */
export interface ExternalPrincipal {
  id: string;
  type: 'servicePrincipal' | 'user';
  displayName: string;
  appId?: string;
}

export interface PasswordCredentialView {
  keyId: string;
  displayName: string | null;
  hint: string;
  startDateTime: string;
  endDateTime: string;
}

export interface GraphGroupView {
  id: string;
  displayName: string;
  mailNickname: string;
  memberIds: string[];
}

export interface GraphSurface extends SimSurface {
  /** Switches the tenant policy that forbids adding client secrets to applications. */
  setPasswordCredentialsForbidden(forbidden: boolean): void;
  /** Sets the directory replication delay for objects and references written from now on. */
  setReplicationDelayMs(delayMs: number): void;
  addUser(user: GraphUserOptions): { id: string; displayName: string; userPrincipalName: string };
  /** An application by object id or appId, with its credentials' metadata only. */
  application(idOrAppId: string): Record<string, unknown> | undefined;
  /** Groups with that display name (Entra allows duplicates). */
  groups(displayName: string): GraphGroupView[];
  /** Object ids of the owners of an application or a group (by object id); [] for any other id. */
  owners(objectId: string): string[];
  /** True when `secretText` is a current client secret of the application with that appId. */
  verifyClientSecret(appId: string, secretText: string, at?: number): boolean;
}

/**
 * A principal of the identity directory as Graph shows it: service principals and users are
 * directory objects; anything else (a group principal) is left to the surface's own groups.
 */
export function externalPrincipalOf(
  principal: { objectId: string; type: string; displayName: string; appId?: string } | undefined,
): ExternalPrincipal | undefined {
  if (!principal) return undefined;
  const type =
    principal.type === 'ServicePrincipal'
      ? 'servicePrincipal'
      : principal.type === 'User'
        ? 'user'
        : undefined;
  if (!type) return undefined;
  return {
    id: principal.objectId,
    type,
    displayName: principal.displayName,
    ...(principal.appId !== undefined ? { appId: principal.appId } : {}),
  };
}

// ---- stored objects ----

interface StoredPassword extends PasswordCredentialView {
  customKeyIdentifier: null;
  /** Only a hash is kept: the secret text is returned once, by addPassword. */
  secretHash: string;
}

interface StoredApplication {
  id: string;
  appId: string;
  displayName: string;
  description: string | null;
  createdDateTime: string;
  deletedDateTime: string | null;
  signInAudience: string;
  identifierUris: string[];
  web: {
    redirectUris: string[];
    homePageUrl: string | null;
    logoutUrl: string | null;
    implicitGrantSettings: { enableAccessTokenIssuance: boolean; enableIdTokenIssuance: boolean };
  };
  spa: { redirectUris: string[] };
  publicClient: { redirectUris: string[] };
  requiredResourceAccess: Array<{
    resourceAppId: string;
    resourceAccess: Array<{ id: string; type: string }>;
  }>;
  tags: string[];
  notes: string | null;
  groupMembershipClaims: string | null;
  passwordCredentials: StoredPassword[];
  keyCredentials: unknown[];
}

interface StoredServicePrincipal {
  id: string;
  appId: string;
  displayName: string;
  createdDateTime: string;
  accountEnabled: boolean;
  appRoleAssignmentRequired: boolean;
  servicePrincipalType: 'Application';
  servicePrincipalNames: string[];
  tags: string[];
}

interface StoredGroup {
  id: string;
  displayName: string;
  description: string | null;
  mailNickname: string;
  mailEnabled: boolean;
  securityEnabled: boolean;
  groupTypes: string[];
  createdDateTime: string;
  securityIdentifier: string;
  mail: null;
  visibility: string | null;
  isAssignableToRole: boolean | null;
}

interface StoredUser {
  id: string;
  displayName: string;
  userPrincipalName: string;
}

type DirectoryObject =
  | { type: 'application'; value: StoredApplication }
  | { type: 'servicePrincipal'; value: StoredServicePrincipal }
  | { type: 'group'; value: StoredGroup }
  | { type: 'user'; value: StoredUser }
  | { type: 'external'; value: ExternalPrincipal };

type Json = Record<string, unknown>;

/** The Graph surface as the state file holds it (password credential hashes included). */
interface GraphStateData {
  passwordCredentialsForbidden: boolean;
  applications: StoredApplication[];
  deletedApplications: StoredApplication[];
  servicePrincipals: StoredServicePrincipal[];
  groups: StoredGroup[];
  users: StoredUser[];
  members: [string, string[]][];
  /** Owners by application or group object id; absent in state files saved before owners. */
  owners?: [string, string[]][];
}

class GraphError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'GraphError';
  }
}

const notFound = (id: string) =>
  new GraphError(
    404,
    'Request_ResourceNotFound',
    `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`,
  );
const badRequest = (message: string) => new GraphError(400, 'Request_BadRequest', message);
const invalidValue = (property: string, resource: string) =>
  badRequest(`Invalid value specified for property '${property}' of resource '${resource}'.`);
const unknownProperty = (property: string) =>
  badRequest(`Property '${property}' does not exist as a declared property or extension property.`);

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DEFAULT_TOKEN = /^Bearer [^.\s]+\.[^.\s]+\.[^.\s]+$/;
const MAIL_NICKNAME = /^[\x21-\x7e]{1,64}$/;
const MAIL_NICKNAME_FORBIDDEN = /[@()\\[\]";:<>,]/;
const TWO_YEARS_MS = 2 * 365 * 24 * 3600 * 1000;
const SECRET_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.~-';
const JSON_CONTENT_TYPE =
  'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8';

const APPLICATION_WRITABLE = new Set([
  'displayName',
  'description',
  'signInAudience',
  'identifierUris',
  'web',
  'spa',
  'publicClient',
  'requiredResourceAccess',
  'tags',
  'notes',
  'groupMembershipClaims',
]);
const SIGN_IN_AUDIENCES = new Set([
  'AzureADMyOrg',
  'AzureADMultipleOrgs',
  'AzureADandPersonalMicrosoftAccount',
  'PersonalMicrosoftAccount',
]);

const hashSecret = (secret: string) => createHash('sha256').update(secret).digest('hex');

function newClientSecret(): string {
  const pick = (n: number) =>
    Array.from({ length: n }, () => SECRET_ALPHABET[randomInt(SECRET_ALPHABET.length)] ?? 'x').join('');
  return `${pick(3)}8Q~${pick(34)}`;
}

/**
 * Creates the simulated Microsoft Graph v1.0 at `/graph/v1.0`: applications (with soft delete and
 * deletedItems), password credentials, service principals, groups and memberships, users. Every
 * call needs a bearer token. Client secret texts are returned once and kept only as hashes.
 */
export function createGraphSurface(options: GraphSurfaceOptions): GraphSurface {
  const clock = options.clock;
  const tenantId = options.tenantId ?? '72f988bf-86f1-41af-91ab-2d7cd011db47';
  const verifiedDomains = options.verifiedDomains ?? ['shire.onmicrosoft.com'];
  const verifyToken =
    options.verifyToken ??
    ((header: string | undefined) =>
      header && DEFAULT_TOKEN.test(header) ? { id: 'sim-caller' } : undefined);
  let passwordCredentialsForbidden = options.passwordCredentialsForbidden ?? false;

  const applications = new Map<string, StoredApplication>();
  const deletedApplications = new Map<string, StoredApplication>();
  const servicePrincipals = new Map<string, StoredServicePrincipal>();
  const groups = new Map<string, StoredGroup>();
  const users = new Map<string, StoredUser>();
  const members = new Map<string, Set<string>>();
  /** Owners of applications (kept through soft delete) and groups, by object id. */
  const owners = new Map<string, Set<string>>();
  /** Until when a fresh object, or an owner reference (`objectId owner`), is still replicating. */
  const replicatedAt = new Map<string, number>();
  let replicationDelayMs = options.replicationDelayMs ?? 0;
  const replicating = (key: string) => (replicatedAt.get(key) ?? 0) > clock.now();
  const written = (key: string) => {
    if (replicationDelayMs > 0) replicatedAt.set(key, clock.now() + replicationDelayMs);
  };
  const ownerKey = (objectId: string, ownerId: string) => `${objectId} ${ownerId}`;
  /** What a replica shows: fresh objects are left out. */
  const replicated = <V extends { id: string }>(values: Iterable<V>) =>
    [...values].filter((value) => !replicating(value.id));

  const isoNow = (at = clock.now()) => new Date(at).toISOString().replace(/\.\d{3}Z$/, 'Z');

  function addUser(user: GraphUserOptions): StoredUser {
    const stored = {
      id: user.id ?? randomUUID(),
      displayName: user.displayName,
      userPrincipalName: user.userPrincipalName,
    };
    users.set(stored.id, stored);
    return stored;
  }

  function createGroup(body: Json): StoredGroup {
    const group: StoredGroup = {
      id: randomUUID(),
      displayName: body['displayName'] as string,
      description: typeof body['description'] === 'string' ? body['description'] : null,
      mailNickname: body['mailNickname'] as string,
      mailEnabled: body['mailEnabled'] as boolean,
      securityEnabled: body['securityEnabled'] as boolean,
      groupTypes: Array.isArray(body['groupTypes']) ? (body['groupTypes'] as string[]) : [],
      createdDateTime: isoNow(),
      securityIdentifier: `S-1-12-1-${[0, 1, 2, 3].map(() => randomBytes(4).readUInt32LE(0)).join('-')}`,
      mail: null,
      visibility: null,
      isAssignableToRole: null,
    };
    groups.set(group.id, group);
    members.set(group.id, new Set());
    return group;
  }

  for (const user of options.users ?? []) addUser(user);
  for (const name of options.seedGroups ?? ['shire-admins']) {
    createGroup({ displayName: name, mailNickname: name, mailEnabled: false, securityEnabled: true });
  }

  // ---- views: what Graph returns; secrets never leave ----

  function passwordView(p: StoredPassword): Json {
    return {
      customKeyIdentifier: null,
      displayName: p.displayName,
      endDateTime: p.endDateTime,
      hint: p.hint,
      keyId: p.keyId,
      secretText: null,
      startDateTime: p.startDateTime,
    };
  }

  function applicationView(app: StoredApplication): Json {
    return { ...structuredClone(app), passwordCredentials: app.passwordCredentials.map(passwordView) };
  }

  function objectView(object: DirectoryObject): Json {
    if (object.type === 'external') {
      const { type, ...view } = object.value;
      return { '@odata.type': `#microsoft.graph.${type}`, ...view };
    }
    const view =
      object.type === 'application' ? applicationView(object.value) : structuredClone(object.value);
    return { '@odata.type': `#microsoft.graph.${object.type}`, ...view };
  }

  function findObject(id: string): DirectoryObject | undefined {
    const app = applications.get(id);
    if (app) return { type: 'application', value: app };
    const sp = servicePrincipals.get(id);
    if (sp) return { type: 'servicePrincipal', value: sp };
    const group = groups.get(id);
    if (group) return { type: 'group', value: group };
    const user = users.get(id);
    if (user) return { type: 'user', value: user };
    const external = options.externalPrincipal?.(id);
    if (external) return { type: 'external', value: { ...external, id } };
    return undefined;
  }

  // ---- request helpers ----

  function readBody(req: SimRequest): Json {
    const text = req.body.toString('utf8');
    let parsed: unknown;
    try {
      parsed = text.trim() === '' ? {} : JSON.parse(text);
    } catch {
      throw new GraphError(
        400,
        'BadRequest',
        'Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.',
      );
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new GraphError(400, 'BadRequest', 'The request payload must be a JSON object.');
    }
    return parsed as Json;
  }

  function isStringArray(value: unknown): value is string[] {
    return Array.isArray(value) && value.every((item) => typeof item === 'string');
  }

  function checkRedirectUris(value: unknown, property: string): string[] {
    if (!isStringArray(value) || value.length > 256) throw invalidValue(property, 'Application');
    for (const uri of value) {
      if (!URL.canParse(uri) || uri.length > 256) throw invalidValue(property, 'Application');
      const url = new URL(uri);
      const localHttp = url.protocol === 'http:' && ['localhost', '127.0.0.1'].includes(url.hostname);
      if (url.protocol !== 'https:' && !localHttp) throw invalidValue(property, 'Application');
    }
    return [...value];
  }

  function checkIdentifierUris(value: unknown, app: { appId: string }): string[] {
    if (!isStringArray(value)) throw invalidValue('identifierUris', 'Application');
    for (const uri of value) {
      if (!URL.canParse(uri)) throw invalidValue('identifierUris', 'Application');
      const url = new URL(uri);
      const host = url.hostname.toLowerCase();
      const onVerifiedDomain = verifiedDomains.some((d) => host === d || host.endsWith(`.${d}`));
      const allowed =
        (url.protocol === 'api:' &&
          (host === app.appId.toLowerCase() || host === tenantId || onVerifiedDomain)) ||
        (url.protocol === 'https:' && onVerifiedDomain);
      if (!allowed) {
        throw new GraphError(
          400,
          'HostNameNotOnVerifiedDomain',
          `Values of identifierUris property must use a verified domain of the organization or its subdomain: '${uri}'`,
        );
      }
    }
    return [...value];
  }

  function checkRequiredResourceAccess(value: unknown): StoredApplication['requiredResourceAccess'] {
    const valid =
      Array.isArray(value) &&
      value.every((entry: unknown) => {
        if (typeof entry !== 'object' || entry === null) return false;
        const { resourceAppId, resourceAccess } = entry as Json;
        return (
          typeof resourceAppId === 'string' &&
          GUID.test(resourceAppId) &&
          Array.isArray(resourceAccess) &&
          resourceAccess.every((access: unknown) => {
            const { id, type } = (access ?? {}) as Json;
            return typeof id === 'string' && GUID.test(id) && (type === 'Scope' || type === 'Role');
          })
        );
      });
    if (!valid) throw invalidValue('requiredResourceAccess', 'Application');
    return structuredClone(value) as StoredApplication['requiredResourceAccess'];
  }

  /** Applies writable application properties from a POST or PATCH body, validating each. */
  function applyApplicationProperties(app: StoredApplication, body: Json): void {
    for (const [key, value] of Object.entries(body)) {
      if (!APPLICATION_WRITABLE.has(key)) {
        if (['id', 'appId', 'createdDateTime', 'passwordCredentials', 'keyCredentials'].includes(key)) {
          throw badRequest(`Property '${key}' is read-only and cannot be set.`);
        }
        throw unknownProperty(key);
      }
      switch (key) {
        case 'displayName':
          if (typeof value !== 'string' || value.trim() === '' || value.length > 256) {
            throw invalidValue('displayName', 'Application');
          }
          app.displayName = value;
          break;
        case 'description':
        case 'notes':
        case 'groupMembershipClaims':
          if (value !== null && typeof value !== 'string') throw invalidValue(key, 'Application');
          app[key] = value;
          break;
        case 'signInAudience':
          if (typeof value !== 'string' || !SIGN_IN_AUDIENCES.has(value)) {
            throw invalidValue('signInAudience', 'Application');
          }
          app.signInAudience = value;
          break;
        case 'identifierUris':
          app.identifierUris = checkIdentifierUris(value, app);
          break;
        case 'tags':
          if (!isStringArray(value)) throw invalidValue('tags', 'Application');
          app.tags = [...value];
          break;
        case 'requiredResourceAccess':
          app.requiredResourceAccess = checkRequiredResourceAccess(value);
          break;
        case 'spa':
        case 'publicClient': {
          const uris = (value as Json | null)?.['redirectUris'];
          app[key] = { redirectUris: uris === undefined ? [] : checkRedirectUris(uris, 'redirectUris') };
          break;
        }
        case 'web': {
          if (typeof value !== 'object' || value === null) throw invalidValue('web', 'Application');
          const web = value as Json;
          for (const webKey of Object.keys(web)) {
            if (!['redirectUris', 'homePageUrl', 'logoutUrl', 'implicitGrantSettings'].includes(webKey)) {
              throw unknownProperty(webKey);
            }
          }
          if (web['redirectUris'] !== undefined) {
            app.web.redirectUris = checkRedirectUris(web['redirectUris'], 'redirectUris');
          }
          for (const urlKey of ['homePageUrl', 'logoutUrl'] as const) {
            const url = web[urlKey];
            if (url === undefined) continue;
            if (url !== null && (typeof url !== 'string' || !URL.canParse(url))) {
              throw invalidValue(urlKey, 'Application');
            }
            app.web[urlKey] = url;
          }
          const implicit = web['implicitGrantSettings'] as Json | undefined;
          if (implicit !== undefined) {
            app.web.implicitGrantSettings = {
              enableAccessTokenIssuance: implicit['enableAccessTokenIssuance'] === true,
              enableIdTokenIssuance: implicit['enableIdTokenIssuance'] === true,
            };
          }
          break;
        }
      }
    }
  }

  function odataContext(req: SimRequest, fragment: string): string {
    return `${req.url.origin}/graph/v1.0/$metadata#${fragment}`;
  }

  function select(req: SimRequest, item: Json): Json {
    const selection = req.url.searchParams.get('$select');
    if (!selection) return item;
    const keys = selection.split(',').map((key) => key.trim());
    return Object.fromEntries(
      Object.entries(item).filter(([key]) => key.startsWith('@odata.') || keys.includes(key)),
    );
  }

  function collection(
    req: SimRequest,
    entitySet: string,
    resource: string,
    items: Json[],
    filterable: string[],
  ) {
    const filter = req.url.searchParams.get('$filter');
    let result = items;
    if (filter) {
      try {
        result = result.filter(compileFilter(filter, resource, filterable));
      } catch (err) {
        if (err instanceof FilterError) throw new GraphError(400, err.code, err.message);
        throw err;
      }
    }
    const top = req.url.searchParams.get('$top');
    if (top !== null) {
      if (!/^\d+$/.test(top) || Number(top) < 1 || Number(top) > 999) {
        throw new GraphError(
          400,
          'Request_BadRequest',
          `Invalid page size specified: '${top}'. Must be between 1 and 999 inclusive.`,
        );
      }
      result = result.slice(0, Number(top));
    }
    return ok(200, {
      '@odata.context': odataContext(req, entitySet),
      value: result.map((item) => select(req, item)),
    });
  }

  function entity(req: SimRequest, entitySet: string, item: Json, status = 200): SimResponse {
    return ok(status, { '@odata.context': odataContext(req, `${entitySet}/$entity`), ...select(req, item) });
  }

  function ok(status: number, body?: Json): SimResponse {
    return body === undefined ? { status } : { status, headers: { 'content-type': JSON_CONTENT_TYPE }, body };
  }

  // ---- resources ----

  function requireApplication(key: string): StoredApplication {
    const byAlternateKey = /^applications\(appId='([^']*)'\)$/.exec(key);
    const app = byAlternateKey
      ? [...applications.values()].find((a) => a.appId.toLowerCase() === byAlternateKey[1]?.toLowerCase())
      : applications.get(key);
    if (!app || replicating(app.id)) throw notFound(byAlternateKey?.[1] ?? key);
    return app;
  }

  function createApplication(body: Json): StoredApplication {
    if (typeof body['displayName'] !== 'string') throw invalidValue('displayName', 'Application');
    const app: StoredApplication = {
      id: randomUUID(),
      appId: randomUUID(),
      displayName: '',
      description: null,
      createdDateTime: isoNow(),
      deletedDateTime: null,
      signInAudience: 'AzureADMyOrg',
      identifierUris: [],
      web: {
        redirectUris: [],
        homePageUrl: null,
        logoutUrl: null,
        implicitGrantSettings: { enableAccessTokenIssuance: false, enableIdTokenIssuance: false },
      },
      spa: { redirectUris: [] },
      publicClient: { redirectUris: [] },
      requiredResourceAccess: [],
      tags: [],
      notes: null,
      groupMembershipClaims: null,
      passwordCredentials: [],
      keyCredentials: [],
    };
    applyApplicationProperties(app, body);
    applications.set(app.id, app);
    written(app.id);
    return app;
  }

  function addPassword(req: SimRequest, app: StoredApplication): SimResponse {
    const body = readBody(req);
    if (passwordCredentialsForbidden) {
      throw new GraphError(
        400,
        'CredentialTypeNotAllowedAsPerAppPolicy',
        'Credential type not allowed as per assigned policy.',
      );
    }
    const requested = (body['passwordCredential'] ?? {}) as Json;
    const start = parseDate(requested['startDateTime'], 'startDateTime') ?? clock.now();
    const end = parseDate(requested['endDateTime'], 'endDateTime') ?? start + TWO_YEARS_MS;
    if (end <= start) throw invalidValue('endDateTime', 'PasswordCredential');
    if (
      options.passwordMaxLifetimeDays !== undefined &&
      end - start > options.passwordMaxLifetimeDays * 86_400_000
    ) {
      throw new GraphError(
        400,
        'CredentialInvalidLifetimeAsPerAppPolicy',
        'Credential lifetime exceeds the max value allowed as per assigned policy.',
      );
    }
    const secretText = newClientSecret();
    const stored: StoredPassword = {
      customKeyIdentifier: null,
      keyId: randomUUID(),
      displayName: typeof requested['displayName'] === 'string' ? requested['displayName'] : null,
      hint: secretText.slice(0, 3),
      startDateTime: isoNow(start),
      endDateTime: isoNow(end),
      secretHash: hashSecret(secretText),
    };
    app.passwordCredentials.push(stored);
    return ok(200, {
      '@odata.context': odataContext(req, 'microsoft.graph.passwordCredential'),
      ...passwordView(stored),
      secretText,
    });
  }

  function parseDate(value: unknown, property: string): number | undefined {
    if (value === undefined || value === null) return undefined;
    const parsed = typeof value === 'string' ? Date.parse(value) : Number.NaN;
    if (Number.isNaN(parsed)) throw invalidValue(property, 'PasswordCredential');
    return parsed;
  }

  function removePassword(req: SimRequest, app: StoredApplication): SimResponse {
    const keyId = readBody(req)['keyId'];
    if (typeof keyId !== 'string' || !GUID.test(keyId)) throw invalidValue('keyId', 'PasswordCredential');
    const index = app.passwordCredentials.findIndex((p) => p.keyId.toLowerCase() === keyId.toLowerCase());
    if (index < 0) throw badRequest(`No password credential found with keyId '${keyId}'.`);
    app.passwordCredentials.splice(index, 1);
    return ok(204);
  }

  function createServicePrincipal(body: Json): StoredServicePrincipal {
    const appId = body['appId'];
    if (typeof appId !== 'string') throw invalidValue('appId', 'ServicePrincipal');
    for (const key of Object.keys(body)) {
      if (!['appId', 'tags', 'accountEnabled', 'appRoleAssignmentRequired'].includes(key))
        throw unknownProperty(key);
    }
    const app = replicated(applications.values()).find((a) => a.appId.toLowerCase() === appId.toLowerCase());
    if (!app) {
      throw badRequest(
        `The appId '${appId}' of the service principal does not reference a valid application object.`,
      );
    }
    if ([...servicePrincipals.values()].some((sp) => sp.appId === app.appId)) {
      throw new GraphError(
        409,
        'Request_MultipleObjectsWithSameKeyValue',
        `The service principal cannot be created, updated, or restored because the service principal name ${app.appId} is already in use.`,
      );
    }
    const sp: StoredServicePrincipal = {
      id: randomUUID(),
      appId: app.appId,
      displayName: app.displayName,
      createdDateTime: isoNow(),
      accountEnabled: body['accountEnabled'] !== false,
      appRoleAssignmentRequired: body['appRoleAssignmentRequired'] === true,
      servicePrincipalType: 'Application',
      servicePrincipalNames: [app.appId, ...app.identifierUris],
      tags: isStringArray(body['tags']) ? [...body['tags']] : [],
    };
    servicePrincipals.set(sp.id, sp);
    written(sp.id);
    return sp;
  }

  function validateGroup(body: Json): void {
    for (const key of Object.keys(body)) {
      const known = [
        'displayName',
        'description',
        'mailNickname',
        'mailEnabled',
        'securityEnabled',
        'groupTypes',
        'visibility',
        'isAssignableToRole',
        'members@odata.bind',
        'owners@odata.bind',
      ];
      if (!known.includes(key)) throw unknownProperty(key);
    }
    const name = body['displayName'];
    if (typeof name !== 'string' || name.trim() === '' || name.length > 256)
      throw invalidValue('displayName', 'Group');
    const nickname = body['mailNickname'];
    if (
      typeof nickname !== 'string' ||
      !MAIL_NICKNAME.test(nickname) ||
      MAIL_NICKNAME_FORBIDDEN.test(nickname)
    ) {
      throw invalidValue('mailNickname', 'Group');
    }
    if (typeof body['mailEnabled'] !== 'boolean') throw invalidValue('mailEnabled', 'Group');
    if (typeof body['securityEnabled'] !== 'boolean') throw invalidValue('securityEnabled', 'Group');
  }

  /** Resolves an `@odata.id` / `@odata.bind` URL such as `https://graph.microsoft.com/v1.0/directoryObjects/{id}`. */
  function resolveReference(reference: unknown): string {
    const match =
      typeof reference === 'string'
        ? /^https?:\/\/[^/]+(?:\/graph)?\/v1\.0\/(?:directoryObjects|users|groups|servicePrincipals)\/([^/?#]+)$/.exec(
            reference,
          )
        : null;
    if (!match?.[1]) throw badRequest(`Invalid object identifier '${String(reference)}'.`);
    const id = decodeURIComponent(match[1]);
    if (!findObject(id) || applications.has(id) || replicating(id)) throw notFound(id);
    return id;
  }

  function addMember(groupId: string, memberId: string): void {
    const set = members.get(groupId) ?? new Set<string>();
    if (set.has(memberId)) {
      throw badRequest(
        "One or more added object references already exist for the following modified properties: 'members'.",
      );
    }
    set.add(memberId);
    members.set(groupId, set);
  }

  function forgetMember(id: string): void {
    for (const set of members.values()) set.delete(id);
    for (const set of owners.values()) set.delete(id);
  }

  /** Adds an owner to an application or group; Graph refuses a reference that is already there. */
  function addOwner(objectId: string, ownerId: string): void {
    const set = owners.get(objectId) ?? new Set<string>();
    if (set.has(ownerId)) {
      throw badRequest(
        "One or more added object references already exist for the following modified properties: 'owners'.",
      );
    }
    set.add(ownerId);
    owners.set(objectId, set);
    written(ownerKey(objectId, ownerId));
  }

  const isServicePrincipal = (object: DirectoryObject) =>
    object.type === 'servicePrincipal' ||
    (object.type === 'external' && object.value.type === 'servicePrincipal');

  /**
   * The owners of an application or group. Graph v1.0 does not list service principals among a
   * group's owners ("due to the staged rollout of service principals", group-list-owners), so
   * neither does this; `/servicePrincipals/{id}/ownedObjects` shows them.
   */
  function ownersCollection(req: SimRequest, objectId: string): SimResponse {
    const ofGroup = groups.has(objectId);
    const list = [...(owners.get(objectId) ?? [])].flatMap((id) => {
      if (replicating(ownerKey(objectId, id))) return [];
      const object = findObject(id);
      return object && !(ofGroup && isServicePrincipal(object)) ? [objectView(object)] : [];
    });
    return collection(req, 'directoryObjects', 'DirectoryObject', list, ['displayName']);
  }

  /** `GET /servicePrincipals/{id}/ownedObjects` and `/users/{id}/ownedObjects`: the applications and groups it owns. */
  function ownedObjectsCollection(req: SimRequest, principalId: string): SimResponse {
    const list = [...owners]
      .filter(([objectId, ids]) => ids.has(principalId) && !replicating(ownerKey(objectId, principalId)))
      .flatMap(([objectId]) => {
        if (replicating(objectId)) return [];
        const object = findObject(objectId);
        return object ? [objectView(object)] : [];
      });
    return collection(req, 'directoryObjects', 'DirectoryObject', list, ['displayName']);
  }

  function bindReferences(binds: unknown): string[] {
    return binds === undefined
      ? []
      : Array.isArray(binds)
        ? binds.map(resolveReference)
        : [resolveReference(binds)];
  }

  // ---- routing ----

  async function route(req: SimRequest, segments: string[]): Promise<SimResponse> {
    const method = req.method.toUpperCase();
    const [collectionName, key, action, subKey, subAction] = segments;
    const invalidSegment = () =>
      new GraphError(400, 'BadRequest', `Resource not found for the segment '${segments.at(-1) ?? ''}'.`);
    const methodNotAllowed = () =>
      new GraphError(
        405,
        'Request_BadRequest',
        'Specified HTTP method is not allowed for the request target.',
      );

    if (collectionName === undefined) throw invalidSegment();

    // /applications and /applications(appId='...')
    if (collectionName === 'applications' || collectionName.startsWith('applications(')) {
      const alternate = collectionName.startsWith('applications(');
      if (!alternate && key === undefined) {
        if (method === 'GET') {
          return collection(
            req,
            'applications',
            'Application',
            replicated(applications.values()).map(applicationView),
            ['appId', 'displayName'],
          );
        }
        if (method === 'POST')
          return entity(req, 'applications', applicationView(createApplication(readBody(req))), 201);
        throw methodNotAllowed();
      }
      const app = requireApplication(alternate ? collectionName : (key ?? ''));
      const tail = alternate ? key : action;
      if (tail === undefined && (alternate ? action === undefined : subKey === undefined)) {
        if (method === 'GET') return entity(req, 'applications', applicationView(app));
        if (method === 'PATCH') {
          const candidate = structuredClone(app);
          applyApplicationProperties(candidate, readBody(req));
          applications.set(app.id, candidate);
          for (const sp of servicePrincipals.values()) {
            if (sp.appId === app.appId) sp.displayName = candidate.displayName;
          }
          return ok(204);
        }
        if (method === 'DELETE') {
          applications.delete(app.id);
          app.deletedDateTime = isoNow();
          deletedApplications.set(app.id, app);
          for (const sp of [...servicePrincipals.values()].filter((s) => s.appId === app.appId)) {
            servicePrincipals.delete(sp.id);
            forgetMember(sp.id);
          }
          return ok(204);
        }
        throw methodNotAllowed();
      }
      if (tail === 'addPassword' && method === 'POST') return addPassword(req, app);
      if (tail === 'removePassword' && method === 'POST') return removePassword(req, app);
      if (tail === 'owners') {
        const rest = alternate ? action : subKey;
        const beyond = alternate ? subKey : subAction;
        if (rest === undefined) {
          if (method !== 'GET') throw methodNotAllowed();
          return ownersCollection(req, app.id);
        }
        if (rest === '$ref' && beyond === undefined) {
          if (method !== 'POST') throw methodNotAllowed();
          addOwner(app.id, resolveReference(readBody(req)['@odata.id']));
          return ok(204);
        }
      }
      throw invalidSegment();
    }

    if (
      (collectionName === 'servicePrincipals' || collectionName === 'users') &&
      key !== undefined &&
      action === 'ownedObjects' &&
      subKey === undefined
    ) {
      if (method !== 'GET') throw methodNotAllowed();
      const principal = findObject(key);
      const wanted = collectionName === 'users' ? 'user' : 'servicePrincipal';
      if (
        !principal ||
        !(principal.type === wanted || (principal.type === 'external' && principal.value.type === wanted))
      )
        throw notFound(key);
      return ownedObjectsCollection(req, key);
    }

    if (collectionName === 'servicePrincipals') {
      if (key === undefined) {
        if (method === 'GET') {
          return collection(
            req,
            'servicePrincipals',
            'ServicePrincipal',
            replicated(servicePrincipals.values()).map((sp) => ({ ...sp })),
            ['appId', 'displayName'],
          );
        }
        if (method === 'POST')
          return entity(req, 'servicePrincipals', { ...createServicePrincipal(readBody(req)) }, 201);
        throw methodNotAllowed();
      }
      const sp = servicePrincipals.get(key);
      if (!sp || replicating(sp.id)) throw notFound(key);
      if (action !== undefined) throw invalidSegment();
      if (method === 'GET') return entity(req, 'servicePrincipals', { ...sp });
      if (method === 'DELETE') {
        servicePrincipals.delete(sp.id);
        forgetMember(sp.id);
        return ok(204);
      }
      throw methodNotAllowed();
    }

    if (collectionName === 'groups') {
      if (key === undefined) {
        if (method === 'GET') {
          return collection(
            req,
            'groups',
            'Group',
            replicated(groups.values()).map((g) => ({ ...g })),
            ['displayName', 'mailNickname'],
          );
        }
        if (method === 'POST') {
          const body = readBody(req);
          validateGroup(body);
          const memberIds = bindReferences(body['members@odata.bind']);
          const ownerIds = bindReferences(body['owners@odata.bind']);
          const group = createGroup(body);
          written(group.id);
          for (const id of memberIds) addMember(group.id, id);
          // Repeats in one bind collapse, as a set of references does.
          if (ownerIds.length > 0) owners.set(group.id, new Set(ownerIds));
          for (const id of ownerIds) written(ownerKey(group.id, id));
          return entity(req, 'groups', { ...group }, 201);
        }
        throw methodNotAllowed();
      }
      const group = groups.get(key);
      if (!group || replicating(group.id)) throw notFound(key);
      if (action === undefined) {
        if (method === 'GET') return entity(req, 'groups', { ...group });
        if (method === 'DELETE') {
          // Security groups are deleted for good; only Microsoft 365 groups go to deletedItems.
          groups.delete(group.id);
          members.delete(group.id);
          owners.delete(group.id);
          forgetMember(group.id);
          return ok(204);
        }
        throw methodNotAllowed();
      }
      if (action === 'owners') {
        if (subKey === undefined) {
          if (method !== 'GET') throw methodNotAllowed();
          return ownersCollection(req, group.id);
        }
        if (subKey === '$ref' && subAction === undefined) {
          if (method !== 'POST') throw methodNotAllowed();
          addOwner(group.id, resolveReference(readBody(req)['@odata.id']));
          return ok(204);
        }
        throw invalidSegment();
      }
      if (action !== 'members') throw invalidSegment();
      if (subKey === undefined) {
        if (method !== 'GET') throw methodNotAllowed();
        const list = [...(members.get(group.id) ?? [])].flatMap((id) => {
          const object = findObject(id);
          return object ? [objectView(object)] : [];
        });
        return collection(req, 'directoryObjects', 'DirectoryObject', list, ['displayName']);
      }
      if (subKey === '$ref' && subAction === undefined) {
        if (method !== 'POST') throw methodNotAllowed();
        addMember(group.id, resolveReference(readBody(req)['@odata.id']));
        return ok(204);
      }
      if (subAction === '$ref' && segments.length === 5) {
        if (method !== 'DELETE') throw methodNotAllowed();
        const set = members.get(group.id);
        if (!set?.delete(subKey)) throw notFound(subKey);
        return ok(204);
      }
      throw invalidSegment();
    }

    if (collectionName === 'users') {
      if (key === undefined) {
        if (method !== 'GET') throw methodNotAllowed();
        return collection(
          req,
          'users',
          'User',
          [...users.values()].map((u) => ({ ...u })),
          ['displayName', 'userPrincipalName'],
        );
      }
      const user =
        users.get(key) ??
        [...users.values()].find((u) => u.userPrincipalName.toLowerCase() === key.toLowerCase());
      if (!user) throw notFound(key);
      if (action !== undefined || method !== 'GET') throw invalidSegment();
      return entity(req, 'users', { ...user });
    }

    if (collectionName === 'directory' && key === 'deletedItems') {
      if (action === 'microsoft.graph.application' && subKey === undefined && method === 'GET') {
        return collection(
          req,
          'directory/deletedItems/microsoft.graph.application',
          'Application',
          [...deletedApplications.values()].map(applicationView),
          ['appId', 'displayName'],
        );
      }
      if (action === undefined) throw invalidSegment();
      const app = deletedApplications.get(action);
      if (!app) throw notFound(action);
      if (subKey === undefined) {
        if (method === 'GET') {
          return entity(req, 'directory/deletedItems', {
            '@odata.type': '#microsoft.graph.application',
            ...applicationView(app),
          });
        }
        if (method === 'DELETE') {
          deletedApplications.delete(app.id);
          owners.delete(app.id);
          return ok(204);
        }
        throw methodNotAllowed();
      }
      if (subKey === 'restore' && method === 'POST') {
        deletedApplications.delete(app.id);
        app.deletedDateTime = null;
        applications.set(app.id, app);
        return entity(req, 'directoryObjects', {
          '@odata.type': '#microsoft.graph.application',
          ...applicationView(app),
        });
      }
      throw invalidSegment();
    }

    throw invalidSegment();
  }

  function errorResponse(err: GraphError, requestId: string, clientRequestId: string): SimResponse {
    return {
      status: err.status,
      headers: {
        'content-type': JSON_CONTENT_TYPE,
        'request-id': requestId,
        'client-request-id': clientRequestId,
      },
      body: {
        error: {
          code: err.code,
          message: err.message,
          innerError: { date: isoNow(), 'request-id': requestId, 'client-request-id': clientRequestId },
        },
      },
    };
  }

  async function handle(req: SimRequest): Promise<SimResponse | undefined> {
    const requestId = randomUUID();
    const clientHeader = req.headers['client-request-id'];
    const clientRequestId = (Array.isArray(clientHeader) ? clientHeader[0] : clientHeader) ?? requestId;
    try {
      const match = /^\/graph\/([^/]+)(?:\/(.*))?$/.exec(req.url.pathname);
      if (match?.[1] !== 'v1.0')
        throw new GraphError(400, 'BadRequest', `Invalid version: ${match?.[1] ?? ''}`);
      const authorization = req.headers.authorization;
      if (!authorization) throw new GraphError(401, 'InvalidAuthenticationToken', 'Access token is empty.');
      if (!verifyToken(authorization)) {
        throw new GraphError(
          401,
          'InvalidAuthenticationToken',
          'Access token validation failure. Invalid audience.',
        );
      }
      const segments = (match[2] ?? '')
        .split('/')
        .filter((s) => s !== '')
        .map((s) => decodeURIComponent(s));
      const response = await route(req, segments);
      return {
        ...response,
        headers: { ...response.headers, 'request-id': requestId, 'client-request-id': clientRequestId },
      };
    } catch (err) {
      if (err instanceof GraphError) return errorResponse(err, requestId, clientRequestId);
      throw err;
    }
  }

  return {
    name: 'graph',
    prefix: '/graph/',
    handle,

    snapshot() {
      return {
        tenantId,
        policy: {
          passwordCredentialsForbidden,
          passwordMaxLifetimeDays: options.passwordMaxLifetimeDays ?? null,
        },
        applications: [...applications.values()].map(applicationView),
        deletedApplications: [...deletedApplications.values()].map(applicationView),
        servicePrincipals: [...servicePrincipals.values()].map((sp) => ({ ...sp })),
        groups: [...groups.values()].map((g) => ({
          ...g,
          memberIds: [...(members.get(g.id) ?? [])],
          ownerIds: [...(owners.get(g.id) ?? [])],
        })),
        users: [...users.values()].map((u) => ({ ...u })),
      };
    },

    exportState(): GraphStateData {
      return structuredClone({
        passwordCredentialsForbidden,
        applications: [...applications.values()],
        deletedApplications: [...deletedApplications.values()],
        servicePrincipals: [...servicePrincipals.values()],
        groups: [...groups.values()],
        users: [...users.values()],
        members: [...members].map(([groupId, ids]) => [groupId, [...ids]]),
        owners: [...owners].map(([objectId, ids]) => [objectId, [...ids]]),
      });
    },

    importState(state) {
      const data = state as GraphStateData;
      const refill = <V extends { id: string }>(map: Map<string, V>, values: V[]) => {
        map.clear();
        for (const value of values) map.set(value.id, value);
      };
      passwordCredentialsForbidden = data.passwordCredentialsForbidden;
      refill(applications, data.applications);
      refill(deletedApplications, data.deletedApplications);
      refill(servicePrincipals, data.servicePrincipals);
      refill(groups, data.groups);
      refill(users, data.users);
      members.clear();
      for (const [groupId, ids] of data.members) members.set(groupId, new Set(ids));
      owners.clear();
      for (const [objectId, ids] of data.owners ?? []) owners.set(objectId, new Set(ids));
      // Users given as options exist whatever the saved state says (seed groups were saved).
      for (const user of options.users ?? []) {
        const known = [...users.values()].some(
          (u) => u.id === user.id || u.userPrincipalName === user.userPrincipalName,
        );
        if (!known) addUser(user);
      }
    },

    setPasswordCredentialsForbidden(forbidden) {
      passwordCredentialsForbidden = forbidden;
    },

    setReplicationDelayMs(delayMs) {
      replicationDelayMs = delayMs;
    },

    addUser: (user) => ({ ...addUser(user) }),

    application(idOrAppId) {
      const app =
        applications.get(idOrAppId) ?? [...applications.values()].find((a) => a.appId === idOrAppId);
      return app ? applicationView(app) : undefined;
    },

    groups: (displayName) =>
      [...groups.values()]
        .filter((g) => g.displayName.toLowerCase() === displayName.toLowerCase())
        .map((g) => ({
          id: g.id,
          displayName: g.displayName,
          mailNickname: g.mailNickname,
          memberIds: [...(members.get(g.id) ?? [])],
        })),

    owners: (objectId) => [...(owners.get(objectId) ?? [])],

    verifyClientSecret(appId, secretText, at = clock.now()) {
      const app = [...applications.values()].find((a) => a.appId === appId);
      const hash = hashSecret(secretText);
      return (
        app?.passwordCredentials.some(
          (p) => p.secretHash === hash && Date.parse(p.startDateTime) <= at && at < Date.parse(p.endDateTime),
        ) ?? false
      );
    },
  };
}
