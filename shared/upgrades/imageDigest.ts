import { BrokerError, ErrorCodes } from '../errors.js';
import type { ResolvedManifest } from '../registries/ociRegistry.js';

/**
 * The image digest of each OpenClaw version, frozen once resolved.
 *
 * The official image is `ghcr.io/openclaw/openclaw`, tagged `<version>` (OpenClaw's
 * docs/install/docker.md: "Pre-built images are published at the GitHub Container Registry ...
 * Common tags: `main`, `latest`, `<version>`"). A version tag is immutable by policy only, so the
 * broker resolves it to a digest once, freezes that digest for the version and deploys by digest;
 * a tag that later resolves to another digest is refused (`TagMoved`), never followed.
 */
export const OFFICIAL_OPENCLAW_IMAGE = {
  registryUrl: 'https://ghcr.io',
  repository: 'openclaw/openclaw',
} as const;

export interface FrozenDigest {
  readonly version: string;
  /** `<registry host>/<repository>`, e.g. `ghcr.io/openclaw/openclaw`. */
  readonly image: string;
  readonly digest: string;
  /** When it was first resolved, ISO 8601. */
  readonly frozenAt: string;
}

/** Where frozen digests live. `freeze` is first-writer-wins: it returns what is stored. */
export interface DigestStore {
  get(image: string, version: string): Promise<FrozenDigest | undefined>;
  freeze(record: FrozenDigest): Promise<FrozenDigest>;
}

export class InMemoryDigestStore implements DigestStore {
  private readonly records = new Map<string, FrozenDigest>();

  async get(image: string, version: string): Promise<FrozenDigest | undefined> {
    return this.records.get(`${image}:${version}`);
  }

  async freeze(record: FrozenDigest): Promise<FrozenDigest> {
    const key = `${record.image}:${record.version}`;
    const existing = this.records.get(key);
    if (existing) return existing;
    this.records.set(key, record);
    return record;
  }
}

/** What resolves a tag: the OCI client (shared/registries/ociRegistry.ts) or a stand-in. */
export interface ManifestResolver {
  resolve(
    repository: string,
    reference: string,
    options?: { method?: 'GET' | 'HEAD' },
  ): Promise<ResolvedManifest>;
}

export interface DigestLookup {
  readonly registry: ManifestResolver;
  readonly store: DigestStore;
  /** The image, default the official one. */
  readonly image?: { readonly registryUrl: string; readonly repository: string };
  /** Now, epoch milliseconds. */
  readonly now: number;
  /**
   * Resolve the tag again even when a digest is frozen, and refuse it (`TagMoved`) when it moved.
   * Default false: a frozen digest is returned without asking the registry.
   */
  readonly recheck?: boolean;
}

function imageName(image: { registryUrl: string; repository: string }): string {
  return `${new URL(image.registryUrl).host}/${image.repository}`;
}

function tagMoved(frozen: FrozenDigest, resolved: string): BrokerError {
  return new BrokerError(
    ErrorCodes.TagMoved,
    `${frozen.image}:${frozen.version} now resolves to ${resolved}, not the frozen ${frozen.digest}; refused`,
    { details: { image: frozen.image, version: frozen.version, frozen: frozen.digest, resolved } },
  );
}

/**
 * The digest to deploy `version` by. The first call resolves the tag (GET, so the manifest body is
 * verified against its digest) and freezes it; later calls return the frozen digest without a
 * registry call, unless `recheck` asks to confirm the tag still points at it.
 */
export async function imageDigestFor(version: string, lookup: DigestLookup): Promise<FrozenDigest> {
  const image = lookup.image ?? OFFICIAL_OPENCLAW_IMAGE;
  const name = imageName(image);
  const frozen = await lookup.store.get(name, version);
  if (frozen && !lookup.recheck) return frozen;
  const resolved = await lookup.registry.resolve(image.repository, version, { method: 'GET' });
  if (!resolved.verified) {
    throw new BrokerError(ErrorCodes.StepFailed, `the digest of ${name}:${version} was not verified`, {
      details: { image: name, version },
    });
  }
  if (frozen) {
    if (frozen.digest !== resolved.digest) throw tagMoved(frozen, resolved.digest);
    return frozen;
  }
  const stored = await lookup.store.freeze({
    version,
    image: name,
    digest: resolved.digest,
    frozenAt: new Date(lookup.now).toISOString(),
  });
  // Another resolver froze a different digest meanwhile: the tag moved between the two reads.
  if (stored.digest !== resolved.digest) throw tagMoved(stored, resolved.digest);
  return stored;
}
