import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOciRegistrySurface, type OciRegistrySurface } from '../../sandbox/sim/ociRegistry.js';
import { OciRegistryClient, parseBearerChallenge } from '../../shared/registries/ociRegistry.js';
import { imageDigestFor, InMemoryDigestStore } from '../../shared/upgrades/imageDigest.js';
import { ErrorCodes, isBrokerError } from '../../shared/errors.js';
import { startSurfaceServer, type SurfaceServer } from '../sim/surfaceServer.js';

const NOW = Date.UTC(2026, 9, 15, 12, 0, 0);
const REPOSITORY = 'openclaw/openclaw';

/** Every test resolves over loopback against the OCI stand-in: token dance, manifests, digests. */
describe('the image digest of an OpenClaw version', () => {
  let oci: OciRegistrySurface;
  let server: SurfaceServer;
  let image: { registryUrl: string; repository: string };
  const registry = () => new OciRegistryClient({ registryUrl: image.registryUrl, timeoutMs: 5_000 });

  beforeAll(async () => {
    oci = createOciRegistrySurface({ clock: { now: () => NOW } });
    server = await startSurfaceServer(oci);
    image = { registryUrl: `${server.url}/oci`, repository: REPOSITORY };
  });
  afterAll(() => server.close());

  it('answers 401 with a Bearer challenge to a request without a token', async () => {
    oci.push(REPOSITORY, '2026.8.2');
    const response = await fetch(`${image.registryUrl}/v2/${REPOSITORY}/manifests/2026.8.2`);
    expect(response.status).toBe(401);
    expect(parseBearerChallenge(response.headers.get('www-authenticate'))).toEqual({
      realm: `${server.url}/oci/token`,
      service: 'sim-oci',
      scope: `repository:${REPOSITORY}:pull`,
    });
  });

  it('resolves a tag through the anonymous token and verifies the body against the digest', async () => {
    const pushed = oci.push(REPOSITORY, '2026.9.6');
    const tokensBefore = oci.tokensIssued;
    const client = registry();
    const resolved = await client.resolve(REPOSITORY, '2026.9.6');
    expect(resolved).toMatchObject({
      digest: pushed,
      verified: true,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
    });
    expect(oci.tokensIssued).toBe(tokensBefore + 1);

    // By digest too, and by HEAD (header only, unverified); the token is reused.
    expect(await client.resolve(REPOSITORY, pushed)).toMatchObject({ digest: pushed, verified: true });
    expect(await client.resolve(REPOSITORY, '2026.9.6', { method: 'HEAD' })).toMatchObject({
      digest: pushed,
      verified: false,
    });
    expect(oci.tokensIssued).toBe(tokensBefore + 1);

    // The digest is the sha256 of the very bytes served.
    const body = Buffer.from(
      await (
        await fetch(`${image.registryUrl}/v2/${REPOSITORY}/manifests/${pushed}`, {
          headers: { authorization: `Bearer ${await tokenFor(REPOSITORY)}` },
        })
      ).arrayBuffer(),
    );
    expect(`sha256:${createHash('sha256').update(body).digest('hex')}`).toBe(pushed);
  });

  it('refuses a manifest whose sha256 differs from the Docker-Content-Digest header', async () => {
    oci.push(REPOSITORY, '2026.9.5');
    oci.lieAboutDigest(REPOSITORY, '2026.9.5');
    try {
      await expect(registry().resolve(REPOSITORY, '2026.9.5')).rejects.toMatchObject({
        name: 'OciRegistryError',
        kind: 'digest-mismatch',
      });
      const store = new InMemoryDigestStore();
      await expect(
        imageDigestFor('2026.9.5', { registry: registry(), store, image, now: NOW }),
      ).rejects.toMatchObject({
        kind: 'digest-mismatch',
      });
      expect(await store.get(`${new URL(server.url).host}/${REPOSITORY}`, '2026.9.5')).toBeUndefined();
    } finally {
      oci.lieAboutDigest(REPOSITORY, '2026.9.5', false);
    }
  });

  it('freezes the digest and reuses it without a registry call', async () => {
    const pushed = oci.push(REPOSITORY, '2026.10.1');
    const store = new InMemoryDigestStore();
    const first = await imageDigestFor('2026.10.1', { registry: registry(), store, image, now: NOW });
    expect(first).toMatchObject({
      version: '2026.10.1',
      digest: pushed,
      frozenAt: new Date(NOW).toISOString(),
    });

    const requestsBefore = oci.manifestRequests;
    oci.retag(REPOSITORY, '2026.10.1');
    const again = await imageDigestFor('2026.10.1', { registry: registry(), store, image, now: NOW + 1000 });
    expect(again).toEqual(first);
    expect(oci.manifestRequests).toBe(requestsBefore);
  });

  it('refuses a tag that re-resolves to another digest (TagMoved)', async () => {
    const pushed = oci.push(REPOSITORY, '2026.10.2');
    const store = new InMemoryDigestStore();
    await imageDigestFor('2026.10.2', { registry: registry(), store, image, now: NOW });
    expect(
      await imageDigestFor('2026.10.2', { registry: registry(), store, image, now: NOW, recheck: true }),
    ).toMatchObject({
      digest: pushed,
    });

    const moved = oci.retag(REPOSITORY, '2026.10.2');
    expect(moved).not.toBe(pushed);
    const error: unknown = await imageDigestFor('2026.10.2', {
      registry: registry(),
      store,
      image,
      now: NOW,
      recheck: true,
    }).catch((err: unknown) => err);
    expect(isBrokerError(error) && error.code).toBe(ErrorCodes.TagMoved);
    expect(isBrokerError(error) && error.details).toMatchObject({ frozen: pushed, resolved: moved });
    // The frozen digest stands.
    expect((await imageDigestFor('2026.10.2', { registry: registry(), store, image, now: NOW })).digest).toBe(
      pushed,
    );
  });

  it('refuses when another resolver froze a different digest between the two reads', async () => {
    oci.push(REPOSITORY, '2026.10.3');
    const store = new InMemoryDigestStore();
    const host = new URL(server.url).host;
    await store.freeze({
      version: '2026.10.3',
      image: `${host}/${REPOSITORY}`,
      digest: `sha256:${'0'.repeat(64)}`,
      frozenAt: new Date(NOW).toISOString(),
    });
    const racing = { get: async () => undefined, freeze: store.freeze.bind(store) };
    await expect(
      imageDigestFor('2026.10.3', { registry: registry(), store: racing, image, now: NOW }),
    ).rejects.toMatchObject({
      code: ErrorCodes.TagMoved,
    });
  });

  async function tokenFor(repository: string): Promise<string> {
    const url = new URL(`${server.url}/oci/token`);
    url.searchParams.set('service', 'sim-oci');
    url.searchParams.set('scope', `repository:${repository}:pull`);
    return ((await (await fetch(url)).json()) as { token: string }).token;
  }
});
