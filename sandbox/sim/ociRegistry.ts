import { createHash, randomBytes } from 'node:crypto';
import {
  SimHttpError,
  type SimClock,
  type SimRequest,
  type SimResponse,
  type SimSurface,
} from './surface.js';

/**
 * A stand-in for a container registry's pull side (OCI distribution spec, spec.md: "Pulling an
 * Image Manifest", "Existing Manifests", "Digest Header"), behind Docker's token authentication
 * (docs.docker.com/reference/api/registry/auth): every `/v2/` request without a valid token gets
 * 401 and `WWW-Authenticate: Bearer realm="<base>/token",service="sim-oci",scope="repository:<name>:pull"`;
 * `GET <prefix>token` hands out an anonymous pull token (`token`, `access_token`, `expires_in`,
 * `issued_at`). `GET` and `HEAD <prefix>v2/<name>/manifests/<tag or digest>` answer the manifest
 * with `Content-Type`, `Docker-Content-Digest` (sha256 of the body) and `Content-Length`.
 *
 * Faults: `retag` points a tag at a new manifest (a moved tag); `lieAboutDigest` makes the next
 * answers for a tag carry a digest header that is not the body's sha256.
 */
export interface OciRegistrySurface extends SimSurface {
  /** Stores a manifest under `repository`, points `tag` at it, returns its digest. */
  push(repository: string, tag: string, manifest?: Record<string, unknown>): string;
  /** The re-tag fault: points `tag` at a freshly built manifest; returns the new digest. */
  retag(repository: string, tag: string): string;
  /** Serves `tag` with a `Docker-Content-Digest` that does not match the body (or stops). */
  lieAboutDigest(repository: string, tag: string, on?: boolean): void;
  /** The digest `tag` points at now. */
  digestOf(repository: string, tag: string): string | undefined;
  /** Requests answered on `/v2/` (any status), and tokens issued. */
  readonly manifestRequests: number;
  readonly tokensIssued: number;
}

export interface OciRegistrySurfaceOptions {
  clock: SimClock;
  /** Path prefix; default `/oci/`. The registry URL is `<base><prefix without trailing slash>`. */
  prefix?: string;
}

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const SERVICE = 'sim-oci';

interface Repository {
  manifests: Map<string, { mediaType: string; body: Buffer }>;
  tags: Map<string, string>;
  lying: Set<string>;
}

const digestOf = (body: Buffer) => `sha256:${createHash('sha256').update(body).digest('hex')}`;

export function createOciRegistrySurface(options: OciRegistrySurfaceOptions): OciRegistrySurface {
  const prefix = options.prefix ?? '/oci/';
  const repositories = new Map<string, Repository>();
  const tokens = new Map<string, { scope: string; expiresAt: number }>();
  let manifestRequests = 0;
  let tokensIssued = 0;
  let builds = 0;

  const repositoryOf = (name: string): Repository => {
    let repository = repositories.get(name);
    if (!repository) {
      repository = { manifests: new Map(), tags: new Map(), lying: new Set() };
      repositories.set(name, repository);
    }
    return repository;
  };

  /** A plausible single-platform image manifest; `build` makes each one's bytes distinct. */
  const imageManifest = (name: string, tag: string): Record<string, unknown> => {
    builds += 1;
    const layer = createHash('sha256').update(`${name}:${tag}:layer:${builds}`).digest('hex');
    const config = createHash('sha256').update(`${name}:${tag}:config:${builds}`).digest('hex');
    return {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: `sha256:${config}`,
        size: 1469,
      },
      layers: [
        {
          mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
          digest: `sha256:${layer}`,
          size: 31_457_280,
        },
      ],
      annotations: { 'org.opencontainers.image.version': tag },
    };
  };

  function push(name: string, tag: string, manifest?: Record<string, unknown>): string {
    const content = manifest ?? imageManifest(name, tag);
    const body = Buffer.from(JSON.stringify(content));
    const digest = digestOf(body);
    const repository = repositoryOf(name);
    const mediaType = typeof content['mediaType'] === 'string' ? content['mediaType'] : OCI_MANIFEST;
    repository.manifests.set(digest, { mediaType, body });
    repository.tags.set(tag, digest);
    return digest;
  }

  function challenge(req: SimRequest, scope: string, error?: string): never {
    const realm = `${req.url.origin}${prefix}token`;
    throw new SimHttpError(
      401,
      { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] },
      {
        'www-authenticate': `Bearer realm="${realm}",service="${SERVICE}",scope="${scope}"${error ? `,error="${error}"` : ''}`,
      },
    );
  }

  function issueToken(req: SimRequest): SimResponse {
    const scope = req.url.searchParams.get('scope') ?? '';
    if (req.url.searchParams.get('service') !== SERVICE || !/^repository:[^:]+:pull$/.test(scope)) {
      throw new SimHttpError(400, { errors: [{ code: 'DENIED', message: 'bad service or scope' }] });
    }
    const token = randomBytes(24).toString('base64url');
    const expiresIn = 300;
    tokens.set(token, { scope, expiresAt: options.clock.now() + expiresIn * 1000 });
    tokensIssued += 1;
    return {
      status: 200,
      body: {
        token,
        access_token: token,
        expires_in: expiresIn,
        issued_at: new Date(options.clock.now()).toISOString(),
      },
    };
  }

  function manifest(req: SimRequest, name: string, reference: string): SimResponse {
    manifestRequests += 1;
    const scope = `repository:${name}:pull`;
    const auth = /^Bearer\s+(\S+)$/i.exec(String(req.headers.authorization ?? ''));
    const granted = auth ? tokens.get(auth[1]!) : undefined;
    if (!granted) challenge(req, scope);
    if (granted.scope !== scope || granted.expiresAt <= options.clock.now())
      challenge(req, scope, 'invalid_token');
    const repository = repositories.get(name);
    const digest = reference.startsWith('sha256:') ? reference : repository?.tags.get(reference);
    const stored = digest ? repository?.manifests.get(digest) : undefined;
    if (!repository || !digest || !stored) {
      throw new SimHttpError(404, { errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] });
    }
    const accept = String(req.headers.accept ?? '');
    if (accept && !accept.includes('*/*') && !accept.includes(stored.mediaType)) {
      throw new SimHttpError(404, {
        errors: [{ code: 'MANIFEST_UNKNOWN', message: 'no manifest of an accepted type' }],
      });
    }
    const header = repository.lying.has(reference)
      ? digestOf(Buffer.concat([stored.body, Buffer.from(' ')]))
      : digest;
    const headers = {
      'content-type': stored.mediaType,
      'docker-content-digest': header,
      'content-length': String(stored.body.length),
    };
    return req.method === 'HEAD' ? { status: 200, headers } : { status: 200, headers, body: stored.body };
  }

  return {
    name: 'oci',
    prefix,
    get manifestRequests() {
      return manifestRequests;
    },
    get tokensIssued() {
      return tokensIssued;
    },
    push,
    retag(name, tag) {
      if (!repositories.get(name)?.tags.has(tag)) throw new Error(`oci stand-in: no tag ${name}:${tag}`);
      return push(name, tag);
    },
    lieAboutDigest(name, tag, on = true) {
      const repository = repositoryOf(name);
      if (on) repository.lying.add(tag);
      else repository.lying.delete(tag);
    },
    digestOf(name, tag) {
      return repositories.get(name)?.tags.get(tag);
    },
    async handle(req: SimRequest): Promise<SimResponse | undefined> {
      const path = req.url.pathname.slice(prefix.length);
      if (path === 'token' && req.method === 'GET') return issueToken(req);
      const match = /^v2\/(.+)\/manifests\/([^/]+)$/.exec(path);
      if (!match) return undefined;
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        throw new SimHttpError(405, { errors: [{ code: 'UNSUPPORTED', message: 'pull only' }] });
      }
      return manifest(req, match[1]!, decodeURIComponent(match[2]!));
    },
    snapshot() {
      return Object.fromEntries(
        [...repositories].map(([name, repository]) => [
          name,
          { tags: Object.fromEntries(repository.tags), manifests: [...repository.manifests.keys()] },
        ]),
      );
    },
  };
}
