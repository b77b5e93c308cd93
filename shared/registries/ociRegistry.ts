import { createHash } from 'node:crypto';

/**
 * A container registry, read through the OCI distribution API for one thing: the digest a tag
 * points at, so the broker deploys by digest (tags are immutable by policy only).
 *
 * Sources:
 * - OCI distribution spec (opencontainers/distribution-spec, spec.md, "Pulling an Image Manifest",
 *   "Existing Manifests", "Digest Header"): `GET` or `HEAD /v2/<name>/manifests/<reference>`; the
 *   client SHOULD send an Accept header with the manifest types it supports; a response MAY carry
 *   `Docker-Content-Digest` (clients SHOULD NOT depend on it); a digest is `algorithm:hex`, sha256 of
 *   the manifest body, and content is verified by computing that digest independently.
 * - Docker's registry token authentication (docs.docker.com/reference/api/registry/auth, the
 *   "Distribution Registry Token Authentication" spec): a registry that wants a token answers 401
 *   with `WWW-Authenticate: Bearer realm="...",service="...",scope="..."`; the client GETs the realm
 *   with `service` and `scope` as query parameters (anonymously for a public pull) and retries with
 *   `Authorization: Bearer <token>`. The answer carries `token` (and `access_token`, its OAuth 2.0
 *   alias), `expires_in` in seconds (60 when absent) and `issued_at`.
 */

/**
 * The manifest media types the broker accepts, image indexes first (a multi-arch tag points at an
 * index; its digest is what a container app pulls by). OCI image-spec and Docker's v2 schema 2.
 */
export const MANIFEST_MEDIA_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
] as const;

const SHA256_DIGEST = /^sha256:[a-f0-9]{64}$/;

export function isSha256Digest(value: string): boolean {
  return SHA256_DIGEST.test(value);
}

/** `sha256:<hex>` of a manifest body, as the spec's digest grammar defines it. */
export function sha256Digest(body: Uint8Array): string {
  return `sha256:${createHash('sha256').update(body).digest('hex')}`;
}

export type OciRegistryErrorKind =
  'unreachable' | 'unauthorized' | 'not-found' | 'http' | 'bad-digest' | 'digest-mismatch' | 'bad-token';

/** A registry answer the client cannot use; `kind` says which. */
export class OciRegistryError extends Error {
  override readonly name = 'OciRegistryError';
  constructor(
    readonly kind: OciRegistryErrorKind,
    message: string,
    readonly details: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface ResolvedManifest {
  readonly repository: string;
  readonly reference: string;
  readonly digest: string;
  readonly mediaType?: string;
  /** True when the body was read and its sha256 equals `digest` (GET); false for a HEAD. */
  readonly verified: boolean;
}

export interface OciRegistryOptions {
  /** Base URL of the registry (`https://ghcr.io`), without `/v2`. */
  readonly registryUrl: string;
  /** Per-request timeout; default 10 s. */
  readonly timeoutMs?: number;
}

interface BearerChallenge {
  readonly realm: string;
  readonly service?: string;
  readonly scope?: string;
}

/** Parses `Bearer realm="...",service="...",scope="..."`; undefined for another scheme. */
export function parseBearerChallenge(header: string | null): BearerChallenge | undefined {
  if (!header) return undefined;
  const match = /^\s*Bearer\s+(.*)$/i.exec(header);
  if (!match) return undefined;
  const params: Record<string, string> = {};
  for (const param of match[1]!.matchAll(/([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) {
    params[param[1]!.toLowerCase()] = param[2] !== undefined ? param[2].replace(/\\(.)/g, '$1') : param[3]!;
  }
  const realm = params['realm'];
  if (!realm) return undefined;
  return {
    realm,
    ...(params['service'] ? { service: params['service'] } : {}),
    ...(params['scope'] ? { scope: params['scope'] } : {}),
  };
}

export class OciRegistryClient {
  private readonly registryUrl: string;
  private readonly timeoutMs: number;
  /** Anonymous pull tokens by scope, until shortly before they expire. */
  private readonly tokens = new Map<string, { token: string; expiresAt: number }>();

  constructor(options: OciRegistryOptions) {
    this.registryUrl = options.registryUrl.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  /**
   * The digest `reference` (a tag or a digest) of `repository` points at. With GET (the default)
   * the body is read and its sha256 must equal `Docker-Content-Digest` (when sent) and, when
   * fetching by digest, the digest asked for; with HEAD only the header is read (unverified).
   */
  async resolve(
    repository: string,
    reference: string,
    options: { method?: 'GET' | 'HEAD' } = {},
  ): Promise<ResolvedManifest> {
    const method = options.method ?? 'GET';
    const url = `${this.registryUrl}/v2/${repository}/manifests/${encodeURIComponent(reference)}`;
    const scope = `repository:${repository}:pull`;
    let response = await this.send(url, method, this.cachedToken(scope));
    if (response.status === 401) {
      const challenge = parseBearerChallenge(response.headers.get('www-authenticate'));
      if (!challenge) {
        throw new OciRegistryError('unauthorized', `registry refused ${repository}:${reference} (401)`, {
          repository,
          reference,
        });
      }
      await response.body?.cancel();
      const token = await this.fetchToken(challenge, scope);
      response = await this.send(url, method, token);
    }
    if (response.status === 401 || response.status === 403) {
      throw new OciRegistryError(
        'unauthorized',
        `registry refused ${repository}:${reference} (${response.status})`,
        {
          repository,
          reference,
          status: response.status,
        },
      );
    }
    if (response.status === 404) {
      throw new OciRegistryError('not-found', `no manifest ${repository}:${reference}`, {
        repository,
        reference,
      });
    }
    if (!response.ok) {
      throw new OciRegistryError(
        'http',
        `registry answered ${response.status} for ${repository}:${reference}`,
        {
          repository,
          reference,
          status: response.status,
        },
      );
    }
    const header = response.headers.get('docker-content-digest')?.trim();
    const mediaType = response.headers.get('content-type')?.split(';')[0]?.trim();
    const base = { repository, reference, ...(mediaType ? { mediaType } : {}) };
    if (header !== undefined && !isSha256Digest(header)) {
      throw new OciRegistryError(
        'bad-digest',
        `registry sent an unusable digest for ${repository}:${reference}`,
        {
          ...base,
          header,
        },
      );
    }
    if (method === 'HEAD') {
      // spec.md "Existing Manifests": a HEAD answers `Docker-Content-Digest` and no body.
      if (header === undefined) {
        throw new OciRegistryError(
          'bad-digest',
          `registry sent no digest for ${repository}:${reference}`,
          base,
        );
      }
      return { ...base, digest: header, verified: false };
    }
    const body = new Uint8Array(await response.arrayBuffer());
    const computed = sha256Digest(body);
    // spec.md "Digest Header": the client MUST verify content against the digest used to fetch it,
    // and the header SHOULD NOT be trusted over the local digest: by digest, compare with it; by
    // tag, the body's own sha256 is the digest, and a header that disagrees is refused.
    const askedDigest = isSha256Digest(reference) ? reference : undefined;
    if (
      (askedDigest !== undefined && askedDigest !== computed) ||
      (header !== undefined && header !== computed)
    ) {
      throw new OciRegistryError(
        'digest-mismatch',
        `manifest ${repository}:${reference} does not match its digest`,
        { ...base, computed, ...(header !== undefined ? { header } : {}) },
      );
    }
    return { ...base, digest: computed, verified: true };
  }

  private cachedToken(scope: string): string | undefined {
    const cached = this.tokens.get(scope);
    return cached && cached.expiresAt > Date.now() ? cached.token : undefined;
  }

  private async send(url: string, method: 'GET' | 'HEAD', token: string | undefined): Promise<Response> {
    try {
      return await fetch(url, {
        method,
        headers: {
          accept: MANIFEST_MEDIA_TYPES.join(', '),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new OciRegistryError('unreachable', `registry unreachable: ${url}`, { url }, { cause: err });
    }
  }

  /** An anonymous token from the challenge's realm (the token spec's "Requesting a Token"). */
  private async fetchToken(challenge: BearerChallenge, scope: string): Promise<string> {
    let realm: URL;
    try {
      realm = new URL(challenge.realm);
    } catch {
      throw new OciRegistryError('bad-token', 'registry sent an unusable token realm', {
        realm: challenge.realm,
      });
    }
    if (realm.protocol !== 'https:' && realm.protocol !== 'http:') {
      throw new OciRegistryError('bad-token', 'registry sent an unusable token realm', {
        realm: challenge.realm,
      });
    }
    if (challenge.service) realm.searchParams.set('service', challenge.service);
    realm.searchParams.set('scope', challenge.scope ?? scope);
    let response: Response;
    try {
      response = await fetch(realm, {
        headers: { accept: 'application/json' },
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new OciRegistryError(
        'unreachable',
        'token service unreachable',
        { realm: realm.origin },
        { cause: err },
      );
    }
    if (!response.ok) {
      throw new OciRegistryError('unauthorized', `token service answered ${response.status}`, {
        status: response.status,
      });
    }
    const body = (await response.json().catch(() => undefined)) as Record<string, unknown> | undefined;
    const token = body?.['token'] ?? body?.['access_token'];
    if (typeof token !== 'string' || token === '') {
      throw new OciRegistryError('bad-token', 'token service sent no token');
    }
    // expires_in defaults to 60 s; keep a margin so a token is never sent as it expires.
    const expiresIn = typeof body?.['expires_in'] === 'number' ? body['expires_in'] : 60;
    this.tokens.set(scope, { token, expiresAt: Date.now() + Math.max(0, expiresIn - 10) * 1000 });
    return token;
  }
}
