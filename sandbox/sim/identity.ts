import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { SimClock, SimRequest, SimResponse, SimSurface } from './surface.js';

export type PrincipalType = 'ServicePrincipal' | 'User' | 'Group';

/** A directory object the simulator knows: it can sign in (if it has a secret) and hold roles. */
export interface Principal {
  objectId: string;
  /** Application (client) id; managed identities and apps have one, users and groups do not. */
  appId?: string;
  displayName: string;
  type: PrincipalType;
  tenantId: string;
  /** Simulated time the principal was created; role assignments fail until it has propagated. */
  createdAt: number;
  /** ARM id of the user-assigned identity this principal belongs to, if any. */
  managedIdentityId?: string;
}

export interface RegisterPrincipalOptions {
  objectId?: string;
  appId?: string;
  displayName: string;
  type?: PrincipalType;
  /** A client secret lets the principal use the client-credentials grant. */
  clientSecret?: string;
  managedIdentityId?: string;
  /** Backdates or postdates creation (simulated epoch ms); defaults to now. */
  createdAt?: number;
}

/** IdentityDirectory as the state file holds it. */
export interface IdentityDirectoryData {
  principals: Principal[];
  /** Client secrets by appId. */
  secrets: [string, string][];
}

/** Claims of a simulator access token; the server trusts them only for registered principals. */
export interface AccessTokenClaims {
  aud: string;
  iss: string;
  iat: number;
  nbf: number;
  exp: number;
  oid: string;
  sub: string;
  tid: string;
  appid?: string;
  azp?: string;
  idtyp: 'app' | 'user';
  uti: string;
  ver: '1.0';
}

/** The audience Key Vault challenges for and checks. */
export const keyVaultAudience = 'https://vault.azure.net';

/**
 * The simulated Entra tenant: principals, client secrets, and unsigned but well-formed JWT access
 * tokens (`alg: none`). Tokens are trusted only when their `oid` is a principal registered here.
 */
export class IdentityDirectory {
  private readonly principals = new Map<string, Principal>();
  private readonly secrets = new Map<string, string>();

  constructor(
    readonly tenantId: string,
    private readonly clock: SimClock,
    private readonly issuerBase: () => string,
  ) {}

  register(options: RegisterPrincipalOptions): Principal {
    const principal: Principal = {
      objectId: options.objectId ?? randomUUID(),
      displayName: options.displayName,
      type: options.type ?? 'ServicePrincipal',
      tenantId: this.tenantId,
      createdAt: options.createdAt ?? this.clock.now(),
      ...(options.appId !== undefined ? { appId: options.appId } : {}),
      ...(options.managedIdentityId !== undefined ? { managedIdentityId: options.managedIdentityId } : {}),
    };
    this.principals.set(principal.objectId, principal);
    if (options.clientSecret !== undefined) {
      if (principal.appId === undefined) throw new Error('A client secret needs an appId.');
      this.secrets.set(principal.appId, options.clientSecret);
    }
    return principal;
  }

  remove(objectId: string): void {
    const principal = this.principals.get(objectId);
    if (principal?.appId !== undefined) this.secrets.delete(principal.appId);
    this.principals.delete(objectId);
  }

  get(objectId: string): Principal | undefined {
    return this.principals.get(objectId);
  }

  byAppId(appId: string): Principal | undefined {
    return [...this.principals.values()].find((principal) => principal.appId === appId);
  }

  list(): Principal[] {
    return [...this.principals.values()];
  }

  /** Checks a client secret for the client-credentials grant. */
  verifySecret(appId: string, secret: string): boolean {
    return this.secrets.get(appId) === secret;
  }

  /** Issues an access token for the principal and audience (a resource URI, no "/.default"). */
  issueToken(principal: Principal, audience: string, lifetimeSeconds = 3600): string {
    const iat = Math.floor(this.clock.now() / 1000);
    const claims: AccessTokenClaims = {
      aud: audience,
      iss: `${this.issuerBase()}/${this.tenantId}/v2.0`,
      iat,
      nbf: iat,
      exp: iat + lifetimeSeconds,
      oid: principal.objectId,
      sub: principal.objectId,
      tid: this.tenantId,
      idtyp: principal.type === 'User' ? 'user' : 'app',
      uti: randomUUID().replaceAll('-', ''),
      ver: '1.0',
      ...(principal.appId !== undefined ? { appid: principal.appId, azp: principal.appId } : {}),
    };
    return [encodeSegment({ typ: 'JWT', alg: 'none' }), encodeSegment(claims), ''].join('.');
  }

  /**
   * Reads the bearer token of a request. Returns the principal and claims when the token is
   * well-formed and names a registered principal in this tenant; otherwise undefined. Expiry is not
   * enforced: tests move simulated time by days while the SDK caches tokens by wall-clock time.
   */
  authenticate(
    headers: IncomingHttpHeaders,
  ): { principal: Principal; claims: AccessTokenClaims } | undefined {
    const header = headers.authorization;
    if (typeof header !== 'string' || !header.toLowerCase().startsWith('bearer ')) return undefined;
    const claims = decodeAccessToken(header.slice('bearer '.length).trim());
    if (claims === undefined || claims.tid !== this.tenantId) return undefined;
    const principal = this.principals.get(claims.oid);
    return principal === undefined ? undefined : { principal, claims };
  }

  /** Principals and client secrets (by appId), for the state file. */
  exportState(): IdentityDirectoryData {
    return structuredClone({ principals: this.list(), secrets: [...this.secrets] });
  }

  /** Replaces all principals and secrets with saved data. */
  importState(data: IdentityDirectoryData): void {
    this.principals.clear();
    this.secrets.clear();
    for (const principal of data.principals) this.principals.set(principal.objectId, { ...principal });
    for (const [appId, secret] of data.secrets) this.secrets.set(appId, secret);
  }

  snapshot(): unknown {
    return { tenantId: this.tenantId, principals: this.list() };
  }
}

function encodeSegment(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** Decodes a simulator token's claims without trusting them; undefined when malformed. */
export function decodeAccessToken(token: string): AccessTokenClaims | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[1] === undefined) return undefined;
  try {
    const claims = JSON.parse(
      Buffer.from(parts[1], 'base64url').toString('utf8'),
    ) as Partial<AccessTokenClaims>;
    if (typeof claims.oid !== 'string' || typeof claims.tid !== 'string' || typeof claims.aud !== 'string') {
      return undefined;
    }
    return claims as AccessTokenClaims;
  } catch {
    return undefined;
  }
}

function tokenError(status: number, error: string, code: number, description: string): SimResponse {
  return {
    status,
    body: {
      error,
      error_description: `AADSTS${code}: ${description}`,
      error_codes: [code],
      timestamp: new Date().toISOString(),
      trace_id: randomUUID(),
      correlation_id: randomUUID(),
    },
  };
}

/**
 * The Entra token service surface: OpenID discovery and the v2.0 token endpoint with the
 * client-credentials grant, which is what ClientSecretCredential (MSAL) uses.
 */
export function createIdentitySurface(directory: IdentityDirectory, baseUrl: () => string): SimSurface {
  return {
    name: 'identity',
    prefix: '/',
    claims: (url) => /^\/[^/]+\/(oauth2\/|v2\.0\/\.well-known\/|discovery\/)/i.test(url.pathname),
    async handle(req: SimRequest): Promise<SimResponse | undefined> {
      const segments = req.url.pathname.split('/').filter(Boolean);
      const [tenant, ...rest] = segments;
      if (tenant === undefined) return undefined;
      const tail = rest.join('/').toLowerCase();
      if (tail === 'discovery/instance' || tail === 'discovery/v2.0/keys') {
        return tail === 'discovery/v2.0/keys'
          ? { status: 200, body: { keys: [] } }
          : {
              status: 200,
              body: {
                tenant_discovery_endpoint: `${baseUrl()}/${directory.tenantId}/v2.0/.well-known/openid-configuration`,
                'api-version': '1.1',
                metadata: [],
              },
            };
      }
      const known = ['v2.0/.well-known/openid-configuration', 'oauth2/v2.0/token', 'oauth2/token'];
      if (!known.includes(tail)) return undefined;
      if (tenant !== directory.tenantId && tenant !== 'organizations') {
        return tokenError(400, 'invalid_request', 90002, `Tenant '${tenant}' not found.`);
      }
      if (tail === 'v2.0/.well-known/openid-configuration') {
        if (req.method !== 'GET') return { status: 405 };
        const base = `${baseUrl()}/${directory.tenantId}`;
        return {
          status: 200,
          body: {
            token_endpoint: `${base}/oauth2/v2.0/token`,
            token_endpoint_auth_methods_supported: [
              'client_secret_post',
              'private_key_jwt',
              'client_secret_basic',
            ],
            jwks_uri: `${base}/discovery/v2.0/keys`,
            response_modes_supported: ['query', 'fragment', 'form_post'],
            subject_types_supported: ['pairwise'],
            id_token_signing_alg_values_supported: ['RS256'],
            response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
            scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
            issuer: `${base}/v2.0`,
            request_uri_parameter_supported: false,
            userinfo_endpoint: `${baseUrl()}/oidc/userinfo`,
            authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
            device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
            http_logout_supported: true,
            frontchannel_logout_supported: true,
            end_session_endpoint: `${base}/oauth2/v2.0/logout`,
            claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'oid', 'tid'],
            tenant_region_scope: null,
            cloud_instance_name: 'microsoftonline.com',
            cloud_graph_host_name: 'graph.windows.net',
            msgraph_host: 'graph.microsoft.com',
            rbac_url: 'https://pas.windows.net',
          },
        };
      }
      if (req.method !== 'POST') return { status: 405 };
      const form = new URLSearchParams(req.body.toString('utf8'));
      const grantType = form.get('grant_type');
      if (grantType !== 'client_credentials') {
        return tokenError(
          400,
          'unsupported_grant_type',
          70003,
          `The app requested an unsupported grant type '${grantType ?? ''}'.`,
        );
      }
      const clientId = form.get('client_id') ?? '';
      const secret = form.get('client_secret');
      const principal = directory.byAppId(clientId);
      if (principal === undefined) {
        return tokenError(
          400,
          'unauthorized_client',
          700016,
          `Application with identifier '${clientId}' was not found in the directory '${directory.tenantId}'.`,
        );
      }
      if (secret === null || !directory.verifySecret(clientId, secret)) {
        return tokenError(401, 'invalid_client', 7000215, 'Invalid client secret provided.');
      }
      const scope = form.get('scope') ?? form.get('resource') ?? '';
      const resource = scope.split(' ').find((item) => item.endsWith('/.default')) ?? scope;
      const audience = resource.replace(/\/\.default$/, '');
      const lifetime = 3599;
      return {
        status: 200,
        body: {
          token_type: 'Bearer',
          expires_in: lifetime,
          ext_expires_in: lifetime,
          access_token: directory.issueToken(principal, audience, lifetime),
        },
      };
    },
    snapshot: () => directory.snapshot(),
  };
}
