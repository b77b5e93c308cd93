import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isolatedEnv, requireOpenClawInstall, runOpenClawCli } from '../../sandbox/openclaw-real/runtime.js';
import { GatewayDevicePairing } from '../../shared/approvals/devicePairing.js';
import type { AzureClients } from '../../shared/azure/azureClients.js';
import { probeGateway } from '../../shared/azure/gatewayProbe.js';
import { askGatewayWithToken } from '../../shared/rotation/gatewayAuth.js';
import type { EnvironmentRecord } from '../../shared/storage/environmentRegistry.js';
import { openClawVersionSupport, SUPPORTED_OPENCLAW_VERSIONS } from '../../shared/openclaw/versions.js';
import { FOUNDRY, FQDN } from '../shared/openclaw/fixtures.js';
import {
  forwardingProxy,
  GATEWAY_TOKEN,
  getJson,
  OFFLINE_ENV,
  render,
  startGateway,
  type RealGateway,
} from './support.js';

const OTHER_TOKEN = 'f'.repeat(64);
const ROTATED_TOKEN = '0123456789abcdef'.repeat(4);

/** The broker's /devices path (GatewayDevicePairing), its Key Vault answering with `token`. */
function devicesPath(gateway: RealGateway, token: string): GatewayDevicePairing {
  const vaultUri = 'https://kv-acme.vault.azure.net';
  const azure = {
    keyVaults: { vaults: { get: () => Promise.resolve({ properties: { vaultUri } }) } },
    secrets: () => ({ vaultUrl: vaultUri, getSecret: () => Promise.resolve({ value: token }) }),
  } as unknown as AzureClients;
  return new GatewayDevicePairing({
    config: {
      nameSalt: 'test',
      openclaw: { defaultVersion: gateway.version, minReleaseAgeMs: 0, gatewayUrlTemplate: gateway.url },
    },
    azure,
  });
}

function environment(version: string): EnvironmentRecord {
  return {
    slug: 'acme',
    state: 'ready',
    incarnation: 1,
    openclawVersion: version,
    url: `https://${FQDN}`,
    owners: [],
    secretAges: {},
    createdAt: '2026-01-01T00:00:00Z',
    updatedAt: '2026-01-01T00:00:00Z',
    etag: '*',
  };
}

/**
 * A browser-like client of OpenClaw's own: the version's CLI with a fresh identity (its own HOME),
 * connecting through the sidecar stand-in with the gateway token. Remote clients need pairing.
 */
async function deviceClient(gateway: RealGateway, proxyPort: number) {
  const home = mkdtempSync(path.join(tmpdir(), 'openclaw-device-'));
  const env = isolatedEnv(home, { OPENCLAW_STATE_DIR: path.join(home, 'state'), ...OFFLINE_ENV });
  const run = () =>
    runOpenClawCli(
      requireOpenClawInstall(gateway.version),
      ['devices', 'list', '--json', '--url', `ws://127.0.0.1:${proxyPort}`, '--token', GATEWAY_TOKEN],
      env,
    );
  return { run, cleanup: () => rmSync(home, { recursive: true, force: true }) };
}

describe.each(SUPPORTED_OPENCLAW_VERSIONS)('the real OpenClaw %s gateway', (version) => {
  const support = openClawVersionSupport(version);
  const rendered = render({ version, appFqdn: FQDN, channels: [], foundry: FOUNDRY, adminRpc: true });
  let gateway: RealGateway;

  beforeAll(async () => {
    gateway = await startGateway(rendered);
    console.log(
      `openclaw ${version}: /readyz ready ${(gateway.startedInMs / 1000).toFixed(1)} s after spawn, RSS ${Math.round((gateway.rssKb() ?? 0) / 1024)} MB`,
    );
  });
  afterAll(async () => {
    await gateway?.stop();
  });

  it('reaches /startupz started and /readyz ready with the env and files the container app gives it', async () => {
    expect(support.probes.startup).toBe('/startupz');
    expect(await getJson(`${gateway.url}${support.probes.startup}`)).toMatchObject({
      status: 200,
      body: { ok: true, status: 'started', version },
    });
    expect(await getJson(`${gateway.url}${support.probes.readiness}`)).toMatchObject({
      status: 200,
      body: { ready: true, failing: [] },
    });
    expect(await getJson(`${gateway.url}${support.probes.liveness}`)).toMatchObject({
      status: 200,
      body: { ok: true, status: 'live' },
    });
    expect(await probeGateway(`${gateway.url}${support.probes.readiness}`)).toEqual({ ready: true });
  });

  it("answers 200 with the Control UI on a path it does not know, which the broker's probe does not take for ready", async () => {
    const page = await getJson(`${gateway.url}/no-such-probe`);
    expect(page.status).toBe(200);
    expect(String(page.body)).toMatch(/^<!doctype html>/i);
    expect(await probeGateway(`${gateway.url}/no-such-probe`)).toEqual({
      ready: false,
      reason: 'HTTP 200 without a JSON readiness body',
    });
  });

  it('accepts the gateway token from Key Vault on the admin RPC and refuses any other', async () => {
    const rpc = `${gateway.url}${support.adminRpcPath}`;
    expect(await askGatewayWithToken(rpc, GATEWAY_TOKEN)).toEqual({ answer: 'accepted' });
    expect(await askGatewayWithToken(rpc, OTHER_TOKEN)).toEqual({ answer: 'refused' });
    expect(await askGatewayWithToken(rpc, '')).toEqual({ answer: 'refused' });
  });

  it("lists, approves and rejects real pairing requests through the broker's /devices path", async () => {
    const proxy = await forwardingProxy(gateway.port);
    const alice = await deviceClient(gateway, proxy.port);
    const mallory = await deviceClient(gateway, proxy.port);
    const devices = devicesPath(gateway, GATEWAY_TOKEN);
    try {
      // A remote client with the shared token but an unknown device is held for pairing.
      const first = await alice.run();
      expect(first.code, first.stdout + first.stderr).not.toBe(0);
      expect(`${first.stdout}${first.stderr}`).toMatch(/pair/i);
      expect((await mallory.run()).code).not.toBe(0);

      const pending = await devices.list(environment(version));
      expect(pending).toHaveLength(2);
      expect(pending.every((device) => device.remoteIp === '203.0.113.7')).toBe(true);
      const [newer, older] = [...pending].sort((a, b) => (b.ts ?? 0) - (a.ts ?? 0));
      await devices.approve(environment(version), older!.requestId);
      await devices.reject(environment(version), newer!.requestId);
      expect(await devices.list(environment(version))).toEqual([]);

      // Alice's device is paired now; the broker's path refuses a request id that is gone.
      const again = await alice.run();
      expect(again.code, again.stdout + again.stderr).toBe(0);
      await expect(devices.approve(environment(version), newer!.requestId)).rejects.toMatchObject({
        code: 'INVALID_REQUEST',
      });
      await expect(devicesPath(gateway, OTHER_TOKEN).list(environment(version))).rejects.toMatchObject({
        code: 'HTTP401',
      });
    } finally {
      alice.cleanup();
      mallory.cleanup();
      await proxy.close();
    }
  });

  it('after a rotation and a restart accepts only the new token', async () => {
    // The broker's restart path: the new secret version in Key Vault, then a revision restart, so
    // the container starts again with the env resolved from the new version.
    await gateway.stop();
    gateway = await startGateway(rendered, { gatewayToken: ROTATED_TOKEN });
    const rpc = `${gateway.url}${support.adminRpcPath}`;
    expect(await askGatewayWithToken(rpc, ROTATED_TOKEN)).toEqual({ answer: 'accepted' });
    expect(await askGatewayWithToken(rpc, GATEWAY_TOKEN)).toEqual({ answer: 'refused' });
  });
});

describe.each(SUPPORTED_OPENCLAW_VERSIONS)(
  'the real OpenClaw %s gateway with every channel on',
  (version) => {
    it('starts with Telegram and Teams configured but their services unreachable, and the broker reads /readyz as it is', async () => {
      const support = openClawVersionSupport(version);
      const rendered = render({
        version,
        appFqdn: FQDN,
        channels: ['telegram', 'teams'],
        foundry: FOUNDRY,
        adminRpc: true,
      });
      const gateway = await startGateway(rendered, {
        until: async (g) => (await getJson(`${g.url}${support.probes.startup}`)).status === 200,
      });
      try {
        expect(await getJson(`${gateway.url}${support.probes.startup}`)).toMatchObject({
          status: 200,
          body: { status: 'started' },
        });
        const readyz = await getJson(`${gateway.url}${support.probes.readiness}`);
        const body = readyz.body as { ready?: unknown; failing?: unknown };
        const probe = await probeGateway(`${gateway.url}${support.probes.readiness}`);
        console.log(
          `openclaw ${version} with telegram+teams: /readyz ${readyz.status} ${JSON.stringify(body.failing)}`,
        );
        if (body.ready === true) expect(probe).toEqual({ ready: true });
        else {
          expect(readyz.status).toBe(503);
          expect(probe).toEqual({
            ready: false,
            reason: `HTTP 503: failing ${(body.failing as string[]).join(', ')}`,
          });
        }
      } finally {
        await gateway.stop();
      }
    });
  },
);
