import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  isolatedEnv,
  OFFLINE_ENV,
  requireOpenClawInstall,
  spawnOpenClaw,
} from '../../sandbox/openclaw-real/runtime.js';
import { forwardingProxy } from '../../sandbox/openclaw-real/sidecar.js';
import { GatewayDevicePairing } from '../../shared/approvals/devicePairing.js';
import type { AzureClients } from '../../shared/azure/azureClients.js';
import { probeGateway } from '../../shared/azure/gatewayProbe.js';
import { channelsFor } from '../../shared/openclaw/renderConfig.js';
import { askGatewayWithToken } from '../../shared/rotation/gatewayAuth.js';
import type { EnvironmentRecord } from '../../shared/storage/environmentRegistry.js';
import { openClawVersionSupport, SUPPORTED_OPENCLAW_VERSIONS } from '../../shared/openclaw/versions.js';
import { FOUNDRY, FQDN } from '../shared/openclaw/fixtures.js';
import {
  GATEWAY_TOKEN,
  getJson,
  askStandIn,
  render,
  standInFor,
  startGateway,
  until,
  type RealGateway,
} from './support.js';

const OTHER_TOKEN = 'f'.repeat(64);

/**
 * What the stand-in must reproduce of an answer: the status and the body's meaning. Probe bodies
 * keep their contract fields (uptime and event-loop figures vary); the Control UI page is "html".
 */
function comparable(answer: { status: number; body: unknown }): { status: number; body: unknown } {
  if (typeof answer.body === 'string') {
    return { status: answer.status, body: /^<!doctype html>/i.test(answer.body) ? 'html' : answer.body };
  }
  const body = { ...(answer.body as Record<string, unknown>) };
  for (const key of ['uptimeMs', 'eventLoop', 'pendingReason', 'reason', 'reasons', 'meta']) delete body[key];
  return { status: answer.status, body };
}
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
 * A device of OpenClaw's own: `openclaw node run` of the same release with a fresh identity (its own
 * HOME), connecting with the gateway token through the sidecar stand-in, so the gateway sees a
 * remote client, which must be paired. (The CLI's `devices list` connects without a device
 * identity and is only refused a scope, so it makes no request.)
 */
function nodeDevice(gateway: RealGateway, proxyPort: number) {
  const home = mkdtempSync(path.join(tmpdir(), 'openclaw-device-'));
  const env = isolatedEnv(home, {
    OPENCLAW_STATE_DIR: path.join(home, 'state'),
    OPENCLAW_GATEWAY_TOKEN: GATEWAY_TOKEN,
    ...OFFLINE_ENV,
  });
  const child = spawnOpenClaw(
    requireOpenClawInstall(gateway.version),
    ['node', 'run', '--host', '127.0.0.1', '--port', String(proxyPort)],
    env,
  );
  child.stdout?.resume();
  child.stderr?.resume();
  return {
    stop() {
      try {
        if (child.pid && child.exitCode === null) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // gone already
      }
      rmSync(home, { recursive: true, force: true });
    },
  };
}

describe.each(SUPPORTED_OPENCLAW_VERSIONS)('the real OpenClaw %s gateway', (version) => {
  const support = openClawVersionSupport(version);
  const rendered = render({ version, appFqdn: FQDN, channels: [], foundry: FOUNDRY, adminRpc: true });
  let gateway: RealGateway;

  beforeAll(async () => {
    gateway = await startGateway(rendered, { timeoutMs: 240_000 });
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
    // Asked for JSON, as the broker's probe asks, the same path is a plain-text 404.
    expect(await probeGateway(`${gateway.url}/no-such-probe`)).toEqual({ ready: false, reason: 'HTTP 404' });
  });

  it('accepts the gateway token from Key Vault on the admin RPC and refuses any other', async () => {
    const rpc = `${gateway.url}${support.adminRpcPath}`;
    expect(await askGatewayWithToken(rpc, GATEWAY_TOKEN)).toEqual({ answer: 'accepted' });
    expect(await askGatewayWithToken(rpc, OTHER_TOKEN)).toEqual({ answer: 'refused' });
    expect(await askGatewayWithToken(rpc, '')).toEqual({ answer: 'refused' });
  });

  it("is answered alike by the simulator's stand-in: probes, unknown paths, admin RPC shapes and errors, tokens", async () => {
    const rpcPath = support.adminRpcPath!;
    const json = { 'content-type': 'application/json' };
    const bearer = (token: string) => ({ ...json, authorization: `Bearer ${token}` });
    const cases: Array<{ method: string; path: string; headers?: Record<string, string>; body?: string }> = [
      { method: 'GET', path: support.probes.liveness },
      { method: 'GET', path: support.probes.startup! },
      { method: 'GET', path: support.probes.readiness },
      { method: 'GET', path: '/no-such-path' },
      { method: 'GET', path: '/no-such-path', headers: { accept: 'application/json' } },
      { method: 'POST', path: '/no-such-path', headers: json, body: '{}' },
      { method: 'POST', path: rpcPath, headers: json, body: '{"id":"a","method":"device.pair.list"}' },
      {
        method: 'POST',
        path: rpcPath,
        headers: bearer(OTHER_TOKEN),
        body: '{"id":"a","method":"device.pair.list"}',
      },
      { method: 'GET', path: rpcPath, headers: bearer(GATEWAY_TOKEN) },
      { method: 'POST', path: rpcPath, headers: bearer(GATEWAY_TOKEN), body: 'not json' },
      { method: 'POST', path: rpcPath, headers: bearer(GATEWAY_TOKEN), body: '{"id":"a"}' },
      {
        method: 'POST',
        path: rpcPath,
        headers: bearer(GATEWAY_TOKEN),
        body: '{"id":"a","method":"no.such"}',
      },
      {
        method: 'POST',
        path: rpcPath,
        headers: bearer(GATEWAY_TOKEN),
        body: '{"id":"a","method":"device.pair.list","params":{}}',
      },
      {
        method: 'POST',
        path: rpcPath,
        headers: bearer(GATEWAY_TOKEN),
        body: '{"id":"a","method":"device.pair.approve","params":{"requestId":"no-such-request"}}',
      },
      {
        method: 'POST',
        path: rpcPath,
        headers: bearer(GATEWAY_TOKEN),
        body: '{"id":"a","method":"device.pair.reject","params":{}}',
      },
    ];
    const standIn = standInFor(rendered);
    const seen = [];
    for (const request of cases) {
      const real = await getJson(`${gateway.url}${request.path}`, {
        method: request.method,
        ...(request.headers ? { headers: request.headers } : {}),
        ...(request.body !== undefined ? { body: request.body } : {}),
      });
      const simulated = await askStandIn(standIn, request);
      seen.push({
        request: `${request.method} ${request.path}`,
        real: comparable(real),
        standIn: comparable(simulated),
      });
    }
    expect(seen.map(({ request, standIn }) => ({ request, answer: standIn }))).toEqual(
      seen.map(({ request, real }) => ({ request, answer: real })),
    );
  });

  it("lists, approves and rejects real pairing requests through the broker's /devices path", async () => {
    const proxy = await forwardingProxy(gateway.port);
    const devices = devicesPath(gateway, GATEWAY_TOKEN);
    const env = environment(version);
    const alice = nodeDevice(gateway, proxy.port);
    let mallory: ReturnType<typeof nodeDevice> | undefined;
    try {
      const [first] = await until('the first pairing request', async () => {
        const pending = await devices.list(env);
        return pending.length > 0 ? pending : undefined;
      });
      mallory = nodeDevice(gateway, proxy.port);
      const second = await until('the second pairing request', async () =>
        (await devices.list(env)).find((device) => device.deviceId !== first!.deviceId),
      );
      // The gateway saw the sidecar's client address, as in the container.
      expect(first!.remoteIp).toBe('203.0.113.7');

      await devices.approve(env, first!.requestId);
      await devices.reject(env, second.requestId);
      const paired = await until('the approved device in the paired list', async () => {
        const rpc = await getJson(`${gateway.url}${support.adminRpcPath}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${GATEWAY_TOKEN}` },
          body: JSON.stringify({ method: 'device.pair.list', params: {} }),
        });
        const payload = (rpc.body as { payload?: { paired?: Array<{ deviceId: string }> } }).payload;
        return payload?.paired?.some((device) => device.deviceId === first!.deviceId) ? payload : undefined;
      });
      expect(paired.paired?.map((device) => device.deviceId)).not.toContain(second.deviceId);
      // The broker's path says what the gateway refused, and refuses another token.
      await expect(devices.approve(env, second.requestId)).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
      await expect(devicesPath(gateway, OTHER_TOKEN).list(env)).rejects.toMatchObject({ code: 'HTTP401' });
    } finally {
      alice.stop();
      mallory?.stop();
      await proxy.close();
    }
  });

  it('after a rotation and a restart accepts only the new token', async () => {
    // The broker's restart path: the new secret version in Key Vault, then a revision restart, so
    // the container starts again with the env resolved from the new version.
    await gateway.stop();
    gateway = await startGateway(rendered, { gatewayToken: ROTATED_TOKEN, timeoutMs: 240_000 });
    const rpc = `${gateway.url}${support.adminRpcPath}`;
    expect(await askGatewayWithToken(rpc, ROTATED_TOKEN)).toEqual({ answer: 'accepted' });
    expect(await askGatewayWithToken(rpc, GATEWAY_TOKEN)).toEqual({ answer: 'refused' });
  });
});

/**
 * What the broker waits for when a channel cannot reach its service: the tier has no internet, so
 * Telegram cannot reach api.telegram.org and Teams cannot reach Entra or the Bot Framework. The
 * broker waits for `/readyz` as the gateway answers it; either answer is read right (ready, or a
 * 503 that names the failing parts, which the readiness step reports when it gives up).
 */
async function expectReadinessReadAsItIs(gateway: RealGateway, channel: string): Promise<void> {
  const support = openClawVersionSupport(gateway.version);
  expect(await getJson(`${gateway.url}${support.probes.startup}`)).toMatchObject({
    status: 200,
    body: { status: 'started' },
  });
  const readyz = await getJson(`${gateway.url}${support.probes.readiness}`);
  const body = readyz.body as { ready?: unknown; failing?: unknown };
  const probe = await probeGateway(`${gateway.url}${support.probes.readiness}`);
  console.log(
    `openclaw ${gateway.version} with ${channel}: /readyz ${readyz.status} ${JSON.stringify(body.failing)}`,
  );
  if (body.ready === true) expect(probe).toEqual({ ready: true });
  else {
    expect(readyz.status).toBe(503);
    expect(probe).toEqual({
      ready: false,
      reason: `HTTP 503: failing ${(body.failing as string[]).join(', ')}`,
    });
  }
}

const startedUp = async (g: RealGateway) =>
  (await getJson(`${g.url}${openClawVersionSupport(g.version).probes.startup}`)).status === 200;

describe.each(SUPPORTED_OPENCLAW_VERSIONS)('the real OpenClaw %s gateway with a channel on', (version) => {
  it('starts with Telegram configured but api.telegram.org unreachable, and the broker reads /readyz as it is', async () => {
    const rendered = render({
      version,
      appFqdn: FQDN,
      channels: ['telegram'],
      foundry: FOUNDRY,
      adminRpc: true,
    });
    const gateway = await startGateway(rendered, { until: startedUp, timeoutMs: 240_000 });
    try {
      await expectReadinessReadAsItIs(gateway, 'telegram');
    } finally {
      await gateway.stop();
    }
  });

  it.runIf(channelsFor(version).includes('teams'))(
    'starts with Teams configured, loads the msteams plugin, listens for Bot Framework on its port, and the broker reads /readyz as it is',
    async () => {
      const support = openClawVersionSupport(version);
      const rendered = render({
        version,
        appFqdn: FQDN,
        channels: ['teams'],
        foundry: FOUNDRY,
        adminRpc: true,
      });
      const gateway = await startGateway(rendered, { until: startedUp, timeoutMs: 240_000 });
      try {
        // The channel is loaded (the renderer's `plugins.entries.msteams.enabled` is what trusts it:
        // without it the gateway warns "installed without explicit trust" and leaves it out).
        expect(gateway.logs()).toMatch(/http server listening \([^)]*\bmsteams\b/);
        await expectReadinessReadAsItIs(gateway, 'teams');
        // NGINX sends `/api/messages` to this listener; an unsigned activity is refused, not dropped.
        const webhook = await fetch(
          `http://127.0.0.1:${support.teamsWebhook.port}${support.teamsWebhook.path}`,
          {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ type: 'message', text: 'hello' }),
          },
        ).catch((error: unknown) => error as Error);
        console.log(
          `openclaw ${version} teams webhook: ${webhook instanceof Error ? webhook.message : webhook.status}`,
        );
        expect(webhook).not.toBeInstanceOf(Error);
        expect((webhook as Response).status).toBeGreaterThanOrEqual(400);
        expect((webhook as Response).status).toBeLessThan(500);
      } finally {
        await gateway.stop();
      }
    },
  );
});
