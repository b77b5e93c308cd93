import {
  SimHttpError,
  type SimClock,
  type SimRequest,
  type SimResponse,
  type SimSurface,
} from './surface.js';

/**
 * A stand-in for the npm registry's package metadata endpoint (npm/registry
 * docs/responses/package-metadata.md): `GET /npm/<package>` answers the full packument, with
 * `time` (`created`, `modified` and one ISO 8601 publish time per version), unless the Accept
 * header asks for the abbreviated `application/vnd.npm.install-v1+json`, which has no `time`.
 *
 * Tests publish versions at chosen times, move a publish time, or remove it (a packument whose
 * `time` lacks the version), through the surface's methods.
 */
export interface NpmRegistrySurface extends SimSurface {
  /** Publishes `version` of `pkg` (default `openclaw`) at `publishedAt` (default the clock's now). */
  publish(version: string, publishedAt?: string | Date, pkg?: string): void;
  /** Sets `time[version]` to any string, plausible or not. */
  setPublishTime(version: string, time: string, pkg?: string): void;
  /** Removes `time[version]`, keeping the version listed. */
  removePublishTime(version: string, pkg?: string): void;
  /** How many packument requests were answered. */
  readonly requestCount: number;
}

export interface NpmRegistrySurfaceOptions {
  clock: SimClock;
  /** Path prefix; default `/npm/`. The registry URL is `<base><prefix without trailing slash>`. */
  prefix?: string;
}

interface PackageState {
  created: string;
  modified: string;
  /** version -> its publish time, or undefined when removed. */
  versions: Map<string, string | undefined>;
}

const ABBREVIATED = 'application/vnd.npm.install-v1+json';

export function createNpmRegistrySurface(options: NpmRegistrySurfaceOptions): NpmRegistrySurface {
  const prefix = options.prefix ?? '/npm/';
  const packages = new Map<string, PackageState>();
  let requestCount = 0;
  const nowIso = () => new Date(options.clock.now()).toISOString();

  const packageOf = (name: string): PackageState => {
    let state = packages.get(name);
    if (!state) {
      state = { created: nowIso(), modified: nowIso(), versions: new Map() };
      packages.set(name, state);
    }
    return state;
  };

  const knownVersion = (name: string, version: string): PackageState => {
    const state = packages.get(name);
    if (!state?.versions.has(version)) throw new Error(`npm stand-in: ${name}@${version} is not published`);
    return state;
  };

  function packument(name: string, state: PackageState, abbreviated: boolean): Record<string, unknown> {
    const versions = Object.fromEntries(
      [...state.versions.keys()].map((version) => [
        version,
        {
          name,
          version,
          dist: { tarball: `https://registry.npmjs.org/${name}/-/${name}-${version}.tgz` },
        },
      ]),
    );
    const stable = [...state.versions.keys()].filter(
      (version) => !version.includes('-beta') && !version.includes('-alpha'),
    );
    const distTags = { latest: stable.at(-1) ?? [...state.versions.keys()].at(-1) ?? '' };
    if (abbreviated) return { name, modified: state.modified, 'dist-tags': distTags, versions };
    const time: Record<string, string> = { created: state.created, modified: state.modified };
    for (const [version, publishedAt] of state.versions)
      if (publishedAt !== undefined) time[version] = publishedAt;
    return { _id: name, name, 'dist-tags': distTags, versions, time };
  }

  return {
    name: 'npm',
    prefix,
    get requestCount() {
      return requestCount;
    },
    publish(version, publishedAt, pkg = 'openclaw') {
      const state = packageOf(pkg);
      const at =
        publishedAt === undefined
          ? nowIso()
          : typeof publishedAt === 'string'
            ? publishedAt
            : publishedAt.toISOString();
      state.versions.set(version, at);
      state.modified = nowIso();
    },
    setPublishTime(version, time, pkg = 'openclaw') {
      knownVersion(pkg, version).versions.set(version, time);
    },
    removePublishTime(version, pkg = 'openclaw') {
      knownVersion(pkg, version).versions.set(version, undefined);
    },
    async handle(req: SimRequest): Promise<SimResponse | undefined> {
      if (req.method !== 'GET') throw new SimHttpError(405, { error: 'Method not allowed' });
      const name = decodeURIComponent(req.url.pathname.slice(prefix.length));
      const state = packages.get(name);
      if (!state) throw new SimHttpError(404, { error: 'Not found' });
      requestCount += 1;
      const accept = String(req.headers.accept ?? '');
      const abbreviated = accept.split(',')[0]?.trim().startsWith(ABBREVIATED) ?? false;
      return {
        status: 200,
        headers: { 'content-type': abbreviated ? ABBREVIATED : 'application/json' },
        body: packument(name, state, abbreviated),
      };
    },
    snapshot() {
      return Object.fromEntries(
        [...packages].map(([name, state]) => [name, { versions: Object.fromEntries(state.versions) }]),
      );
    },
  };
}
