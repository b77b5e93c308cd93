/**
 * The npm registry, read for one thing: when each version of a package was published.
 *
 * Source: npm/registry docs/responses/package-metadata.md ("Package Metadata"): `GET
 * <registry>/:package` answers the full document when no Accept header (or plain JSON) is asked
 * for, and the abbreviated one for `Accept: application/vnd.npm.install-v1+json`. Only the full
 * document ("packument") carries `time`: a map of version -> ISO 8601 publish time, plus `created`
 * and `modified` for the package itself. So this client asks for `application/json` only.
 */

export const NPM_REGISTRY_URL = 'https://registry.npmjs.org';

/** What the full packument says about a package's versions and their publish times. */
export interface NpmPublishTimes {
  readonly name: string;
  /** The versions the registry lists (the keys of `versions`), in the document's order. */
  readonly versions: readonly string[];
  /**
   * `time[version]` exactly as the registry sent it, for every key of `time` that is a string
   * (`created` and `modified` excluded). A version absent here has no publish time.
   */
  readonly time: Readonly<Record<string, string>>;
}

export interface NpmRegistryOptions {
  /** Base URL of the registry, without a trailing slash; default the public npm registry. */
  readonly registryUrl?: string;
  /** Per-request timeout; default 10 s. */
  readonly timeoutMs?: number;
}

/** A registry answer the client cannot use (HTTP status, not JSON, wrong shape, timeout). */
export class NpmRegistryError extends Error {
  override readonly name = 'NpmRegistryError';
  constructor(
    message: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const PACKAGE_TIMES = new Set(['created', 'modified']);

export class NpmRegistryClient {
  private readonly registryUrl: string;
  private readonly timeoutMs: number;

  constructor(options: NpmRegistryOptions = {}) {
    this.registryUrl = (options.registryUrl ?? NPM_REGISTRY_URL).replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  /** The versions of `name` and their publish times, from the full packument. */
  async publishTimes(name: string): Promise<NpmPublishTimes> {
    // A scoped name keeps its `@` and encodes the scope's slash (package-metadata.md: `/:package`).
    const url = `${this.registryUrl}/${name.startsWith('@') ? `@${encodeURIComponent(name.slice(1))}` : encodeURIComponent(name)}`;
    let response: Response;
    try {
      response = await fetch(url, {
        // The full document: the abbreviated `application/vnd.npm.install-v1+json` has no `time`.
        headers: { accept: 'application/json' },
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new NpmRegistryError(`npm registry unreachable for ${name}`, undefined, { cause: err });
    }
    if (!response.ok) {
      throw new NpmRegistryError(`npm registry answered ${response.status} for ${name}`, response.status);
    }
    let body: unknown;
    try {
      body = await response.json();
    } catch (err) {
      throw new NpmRegistryError(`npm registry sent no JSON for ${name}`, response.status, { cause: err });
    }
    return parsePackument(name, body);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The versions and string-valued `time` entries of a full packument; throws on another shape. */
export function parsePackument(name: string, body: unknown): NpmPublishTimes {
  if (!isRecord(body) || !isRecord(body['versions'])) {
    throw new NpmRegistryError(`npm registry sent no versions for ${name}`);
  }
  const time: Record<string, string> = {};
  const rawTime = body['time'];
  if (isRecord(rawTime)) {
    for (const [key, value] of Object.entries(rawTime)) {
      if (!PACKAGE_TIMES.has(key) && typeof value === 'string') time[key] = value;
    }
  }
  return { name, versions: Object.keys(body['versions']), time };
}
