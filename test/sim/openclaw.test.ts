import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createOpenClawSurface,
  type OpenClawAppState,
  type OpenClawSurface,
} from '../../sandbox/sim/openclaw.js';
import { startSurfaceServer, type SurfaceServer } from './surfaceServer.js';

const TOKEN_V1 = 'a1'.repeat(32);
const TOKEN_V2 = 'b2'.repeat(32);
const TOKEN_REF = 'secretref:gateway-token';
const ORIGIN = 'https://claw-contoso.example.azurecontainerapps.io';

/** The config the broker renders: JSON5 with comments, trailing commas and unquoted keys. */
function renderConfig(gateway: Record<string, unknown> = {}, topLevel = ''): string {
  const extra = Object.entries(gateway)
    .map(([key, value]) => `    ${key}: ${JSON.stringify(value)},\n`)
    .join('');
  return `// openclaw.json rendered by claw-broker for contoso
{
  gateway: {
    port: 18789,
    bind: 'lan', /* reachable through the sidecar */
    auth: {
      mode: "token",
      token: "\${OPENCLAW_GATEWAY_TOKEN}",
      rateLimit: { maxAttempts: 10, windowMs: 60000, },
    },
${'controlUi' in gateway ? '' : `    controlUi: { allowedOrigins: ["${ORIGIN}"], },\n`}${extra}  },
  update: { checkOnStart: false, auto: { enabled: false } },
  discovery: { mdns: { mode: "off" } },
  logging: { consoleStyle: "json" },
  plugins: { entries: { "admin-http-rpc": { enabled: true } } },
${topLevel}}
`;
}

describe('the OpenClaw gateway stand-in', () => {
  let now: number;
  let vault: Map<string, string>;
  let apps: Map<string, OpenClawAppState>;
  let openclaw: OpenClawSurface;
  let server: SurfaceServer;

  const app = (name = 'claw-contoso') => apps.get(name)!;

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- assertions read the wire body loosely
  async function get(path: string): Promise<{ status: number; headers: Headers; body: any }> {
    const response = await fetch(`${server.url}/openclaw/${path}`);
    const text = await response.text();
    const isJson = response.headers.get('content-type')?.startsWith('application/json') ?? false;
    return { status: response.status, headers: response.headers, body: isJson ? JSON.parse(text) : text };
  }

  async function rpc(method: string, params: Record<string, unknown> = {}, token: string | null = TOKEN_V1) {
    const response = await fetch(`${server.url}/openclaw/claw-contoso/api/v1/admin/rpc`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(token !== null ? { authorization: `Bearer ${token}` } : {}),
      },
      body: JSON.stringify({ id: 'req-1', method, params }),
    });
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- assertions read the wire body loosely
    return { status: response.status, body: (await response.json()) as any };
  }

  async function reasons(): Promise<string[]> {
    const answer = await get('claw-contoso/readyz');
    expect(answer.status).toBe(503);
    return answer.body.reasons as string[];
  }

  beforeEach(async () => {
    now = Date.UTC(2026, 10, 3, 9, 0, 0);
    vault = new Map([[TOKEN_REF, TOKEN_V1]]);
    apps = new Map([
      [
        'claw-contoso',
        {
          image: 'ghcr.io/openclaw/openclaw:2026.8.2',
          env: { OPENCLAW_GATEWAY_TOKEN: TOKEN_REF, OPENCLAW_STATE_DIR: '/home/node/.openclaw' },
          configJson: renderConfig(),
          running: true,
        },
      ],
    ]);
    openclaw = createOpenClawSurface({
      clock: { now: () => now },
      getApp: (name) => apps.get(name),
      resolveSecret: (ref) => vault.get(ref),
      listApps: () => [...apps.keys()],
    });
    server = await startSurfaceServer(openclaw);
  });

  afterEach(async () => {
    await server.close();
  });

  describe('probes', () => {
    it('is live and ready with the config the broker renders, and names its version', async () => {
      const health = await get('claw-contoso/healthz');
      const ready = await get('claw-contoso/readyz');
      expect([health.status, health.body]).toEqual([200, { ok: true, status: 'live' }]);
      expect([ready.status, ready.body]).toEqual([200, { ready: true, failing: [] }]);
      expect(openclaw.readiness('claw-contoso')?.version).toBe('2026.8.2');
      expect(ready.headers.get('x-openclaw-version')).toBe('2026.8.2');
    });

    it('answers 503 on every path when the app is not running, and 404 for an app that does not exist', async () => {
      app().running = false;
      const health = await get('claw-contoso/healthz');
      const missing = await get('claw-nowhere/healthz');
      expect(health.status).toBe(503);
      expect(missing.status).toBe(404);
    });

    it('answers 200 with the control UI page on a path it does not have, so a wrong probe path passes', async () => {
      const answer = await get('claw-contoso/health/ready');
      expect(answer.status).toBe(200);
      expect(answer.body).toContain('OpenClaw Control');
    });

    it('reads plain JSON configs too', async () => {
      app().configJson = JSON.stringify({
        gateway: {
          bind: 'lan',
          auth: { mode: 'token', token: '${OPENCLAW_GATEWAY_TOKEN}' },
          controlUi: { allowedOrigins: [ORIGIN] },
        },
      });
      expect((await get('claw-contoso/readyz')).status).toBe(200);
    });
  });

  describe('readiness follows the configuration and the image version', () => {
    it('is not ready when the config has a key the version does not know yet, and ready after the upgrade', async () => {
      app().configJson = renderConfig({}, "  worktreeRoot: '/home/node/.openclaw/worktrees',\n");
      expect(await reasons()).toEqual(['worktreeRoot: unknown config key for openclaw 2026.8.2']);
      app().image = 'ghcr.io/openclaw/openclaw:2026.9.6';
      expect((await get('claw-contoso/readyz')).status).toBe(200);
    });

    it('is not ready when the config keeps a key the new version retired', async () => {
      app().configJson = renderConfig({ controlUi: { allowedOrigins: [ORIGIN], toolTitles: false } });
      expect((await get('claw-contoso/readyz')).status).toBe(200);
      app().image = 'ghcr.io/openclaw/openclaw:2026.9.6';
      expect(await reasons()).toEqual([
        'gateway.controlUi.toolTitles: unknown config key for openclaw 2026.9.6',
      ]);
    });

    it("checks gateway keys against the version, and a patch release uses its minor version's schema", async () => {
      app().configJson = renderConfig({ portals: {} });
      expect(await reasons()).toEqual(['gateway.portals: unknown config key for openclaw 2026.8.2']);
      app().image = 'ghcr.io/openclaw/openclaw:2026.9.7';
      expect(openclaw.readiness('claw-contoso')).toEqual({
        version: '2026.9.7',
        schemaVersion: '2026.9.6',
        ready: true,
        reasons: [],
      });
    });

    it('reads the version from a pinned image with a digest', async () => {
      app().image = `ghcr.io/openclaw/openclaw:2026.9.6@sha256:${'0'.repeat(64)}`;
      expect(openclaw.readiness('claw-contoso')?.version).toBe('2026.9.6');
    });

    it('is not ready when the gateway token is missing', async () => {
      app().env = {};
      expect(await reasons()).toEqual([
        'OPENCLAW_GATEWAY_TOKEN: missing',
        'gateway.auth.token: missing env var OPENCLAW_GATEWAY_TOKEN',
        'gateway.auth: a non-loopback bind (gateway.bind="lan") requires auth',
      ]);
    });

    it('is not ready when the gateway token is shorter than 64 hex characters', async () => {
      vault.set(TOKEN_REF, 'ab'.repeat(31));
      expect((await reasons())[0]).toBe(
        'OPENCLAW_GATEWAY_TOKEN: must be at least 64 hex characters (32 random bytes)',
      );
    });

    it('is not ready when the Key Vault reference for the token cannot be resolved', async () => {
      vault.clear();
      expect((await reasons())[0]).toBe('env OPENCLAW_GATEWAY_TOKEN: secret reference could not be resolved');
    });

    it('is not ready on a non-loopback bind without auth', async () => {
      app().configJson = JSON.stringify({
        gateway: { bind: 'lan', auth: { mode: 'none' }, controlUi: { allowedOrigins: [ORIGIN] } },
      });
      expect(await reasons()).toEqual([
        'gateway.auth: a non-loopback bind (gateway.bind="lan") requires auth',
      ]);
    });

    it('is not ready on a non-loopback bind without gateway.controlUi.allowedOrigins', async () => {
      app().configJson = JSON.stringify({ gateway: { bind: 'lan', auth: { mode: 'token' } } });
      expect(await reasons()).toEqual([
        'gateway.controlUi.allowedOrigins: required for a non-loopback bind (gateway.bind="lan")',
      ]);
    });

    it('accepts a loopback bind without allowed origins', async () => {
      app().configJson = JSON.stringify({ gateway: { bind: 'loopback' } });
      expect((await get('claw-contoso/readyz')).status).toBe(200);
    });

    // allowInsecureAuth is no longer in the real schema of either pinned release.
    it.each(['dangerouslyDisableDeviceAuth', 'dangerouslyAllowHostHeaderOriginFallback'])(
      'is not ready when gateway.controlUi.%s is on',
      async (flag) => {
        app().configJson = JSON.stringify({
          gateway: {
            bind: 'lan',
            auth: { mode: 'token' },
            controlUi: { allowedOrigins: [ORIGIN], [flag]: true },
          },
        });
        const answer = await get('claw-contoso/readyz');
        expect(answer.body).toMatchObject({
          ready: false,
          reason: `gateway.controlUi.${flag}: dangerous flag is on`,
        });
      },
    );

    it('is not ready without an openclaw.json, or with one that does not parse', async () => {
      delete app().configJson;
      expect(await reasons()).toEqual(['openclaw.json: missing']);
      app().configJson = '{ gateway: { bind: "lan" ';
      expect((await reasons())[0]).toMatch(/^openclaw\.json: /);
    });

    it('is not ready when the config refers to an env var the app does not have', async () => {
      app().configJson = renderConfig(
        {},
        '  channels: { telegram: { botToken: "${TELEGRAM_BOT_TOKEN}" } },\n',
      );
      expect(await reasons()).toEqual(['channels.telegram.botToken: missing env var TELEGRAM_BOT_TOKEN']);
    });

    it("is not ready for an image that is not OpenClaw's or a version older than any it knows", async () => {
      app().image = 'docker.io/library/nginx:1.27';
      expect((await reasons())[0]).toBe(
        'image: docker.io/library/nginx:1.27 is not ghcr.io/openclaw/openclaw or a mirror of it',
      );
      app().image = 'ghcr.io/openclaw/openclaw:2025.1.1';
      expect((await reasons())[0]).toBe('image: openclaw 2025.1.1 is not a version the simulator knows');
    });
  });

  describe('the admin RPC', () => {
    it('refuses a call without the gateway token or with a wrong one', async () => {
      const missing = await rpc('device.pair.list', {}, null);
      const wrong = await rpc('device.pair.list', {}, TOKEN_V2);
      // As the real gateway's route auth answers (test/openclaw-real/gateway.test.ts).
      expect(missing).toEqual({
        status: 401,
        body: { error: { message: 'Unauthorized', type: 'unauthorized' } },
      });
      expect(wrong.status).toBe(401);
    });

    it('accepts the new token and refuses the old one after the token is rotated', async () => {
      expect((await rpc('device.pair.list')).status).toBe(200);
      vault.set(TOKEN_REF, TOKEN_V2);
      const old = await rpc('device.pair.list', {}, TOKEN_V1);
      const rotated = await rpc('device.pair.list', {}, TOKEN_V2);
      expect([old.status, rotated.status]).toEqual([401, 200]);
    });

    it('answers 503 while the gateway is not ready', async () => {
      app().configJson = renderConfig({ dangerouslyDisableDeviceAuth: true });
      const answer = await rpc('device.pair.list');
      expect(answer.status).toBe(503);
      expect(answer.body.error.code).toBe('UNAVAILABLE');
    });

    it('lists a pending pairing request and approves it', async () => {
      const request = openclaw.requestPairing('claw-contoso', {
        displayName: 'Ada’s laptop',
        remoteIp: '203.0.113.7',
      });
      const listed = await rpc('device.pair.list');
      expect(request.requestId).toMatch(
        /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
      );
      expect(listed.body).toEqual({
        id: 'req-1',
        ok: true,
        payload: {
          pending: [expect.objectContaining({ requestId: request.requestId, ts: now })],
          paired: [],
        },
      });

      now += 60_000;
      const approved = await rpc('device.pair.approve', { requestId: request.requestId });
      expect(approved.body.payload).toMatchObject({
        requestId: request.requestId,
        device: {
          deviceId: request.deviceId,
          displayName: 'Ada’s laptop',
          role: 'operator',
          approvedAtMs: now,
        },
      });
      expect(openclaw.pairings('claw-contoso')).toMatchObject({
        pending: [],
        paired: [{ deviceId: request.deviceId }],
      });
    });

    it('answers "unknown requestId" when the request was already decided', async () => {
      const request = openclaw.requestPairing('claw-contoso');
      await rpc('device.pair.approve', { requestId: request.requestId });
      const again = await rpc('device.pair.approve', { requestId: request.requestId });
      expect(again).toEqual({
        status: 400,
        body: { id: 'req-1', ok: false, error: { code: 'INVALID_REQUEST', message: 'unknown requestId' } },
      });
    });

    it('rejects a pending request', async () => {
      const request = openclaw.requestPairing('claw-contoso');
      const rejected = await rpc('device.pair.reject', { requestId: request.requestId });
      expect(rejected.body.payload).toEqual({ requestId: request.requestId, deviceId: request.deviceId });
      expect(openclaw.pairings('claw-contoso')).toEqual({ pending: [], paired: [] });
    });

    it('lets a pending request expire after five minutes of sim time', async () => {
      const request = openclaw.requestPairing('claw-contoso');
      now += 5 * 60 * 1000 + 1;
      const listed = await rpc('device.pair.list');
      const approved = await rpc('device.pair.approve', { requestId: request.requestId });
      expect(listed.body.payload.pending).toEqual([]);
      expect(approved.body.error.message).toBe('unknown requestId');
    });

    it('requires a requestId and refuses methods it does not offer', async () => {
      const noId = await rpc('device.pair.approve', {});
      const unknown = await rpc('config.apply', {});
      expect(noId.body.error).toEqual({
        code: 'INVALID_REQUEST',
        message: "invalid device.pair.approve params: must have required property 'requestId'",
      });
      // config.apply is on the real plugin's allowlist; the stand-in offers only device.pair.*.
      expect(unknown.body.error).toEqual({
        code: 'INVALID_REQUEST',
        message: 'admin HTTP RPC method is not supported: config.apply',
      });
    });
  });

  it('snapshots apps, versions, readiness and pairings without any token', async () => {
    openclaw.requestPairing('claw-contoso');
    app().configJson = renderConfig({ allowInsecureAuth: true });
    const snapshot = openclaw.snapshot();
    expect(snapshot).toMatchObject({
      apps: [
        {
          name: 'claw-contoso',
          version: '2026.8.2',
          ready: false,
          reasons: ['gateway.allowInsecureAuth: unknown config key for openclaw 2026.8.2'],
          pending: [expect.objectContaining({ role: 'operator' })],
        },
      ],
    });
    expect(JSON.stringify(snapshot)).not.toContain(TOKEN_V1);
  });
});
