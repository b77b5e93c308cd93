import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isBrokerError } from '../../../shared/errors.js';
import {
  assertConfigPassesAudit,
  auditOpenClawConfig,
  type AuditFinding,
} from '../../../shared/openclaw/auditConfig.js';
import { renderOpenClawConfig } from '../../../shared/openclaw/renderConfig.js';
import { FOUNDRY, foundry, FQDN, versionAndChannels } from './fixtures.js';

type Json = Record<string, unknown>;
const VERSION = '2026.9.6';

function rendered(): Json {
  return JSON.parse(
    renderOpenClawConfig({
      version: VERSION,
      appFqdn: FQDN,
      channels: ['telegram', 'teams'],
      foundry: FOUNDRY,
    }).text,
  ) as Json;
}

/** The rendered config with one change at a dotted path (undefined deletes the key). */
function withChange(path: string, value: unknown): string {
  const config = rendered();
  const keys = path.split('.');
  const last = keys.pop() as string;
  let node = config;
  for (const key of keys) {
    node[key] ??= {};
    node = node[key] as Json;
  }
  if (value === undefined) delete node[last];
  else node[last] = value;
  return JSON.stringify(config, null, 2);
}

const critical = (findings: AuditFinding[]) =>
  findings
    .filter((finding) => finding.severity === 'critical')
    .map((finding) => [finding.checkId, finding.key]);

describe('auditOpenClawConfig', () => {
  it('finds nothing in the config the broker renders, for every version, channel set and model choice', () => {
    fc.assert(
      fc.property(versionAndChannels, foundry, ([v, wanted], model) => {
        const text = renderOpenClawConfig({
          version: v,
          appFqdn: FQDN,
          channels: wanted,
          foundry: model,
        }).text;
        expect(auditOpenClawConfig(text, v)).toEqual([]);
        expect(assertConfigPassesAudit(text, v)).toEqual([]);
      }),
    );
  });

  it.each([
    [
      'a lan bind without any auth',
      withChange('gateway.auth', undefined),
      'gateway.bind_no_auth',
      'gateway.auth',
    ],
    [
      'auth mode none on a lan bind',
      withChange('gateway.auth.mode', 'none'),
      'gateway.bind_no_auth',
      'gateway.auth',
    ],
    [
      'a loopback bind without auth',
      JSON.stringify({ gateway: { bind: 'loopback', auth: { rateLimit: {} } } }),
      'gateway.loopback_no_auth',
      'gateway.auth',
    ],
    [
      'no allowed origins on a lan bind',
      withChange('gateway.controlUi.allowedOrigins', []),
      'gateway.control_ui.allowed_origins_required',
      'gateway.controlUi.allowedOrigins',
    ],
    [
      'a wildcard origin on a lan bind',
      withChange('gateway.controlUi.allowedOrigins', ['*']),
      'gateway.control_ui.allowed_origins_wildcard',
      'gateway.controlUi.allowedOrigins',
    ],
    [
      'the Host-header origin fallback',
      withChange('gateway.controlUi.dangerouslyAllowHostHeaderOriginFallback', true),
      'gateway.control_ui.host_header_origin_fallback',
      'gateway.controlUi.dangerouslyAllowHostHeaderOriginFallback',
    ],
    [
      'disabled device auth',
      withChange('gateway.controlUi.dangerouslyDisableDeviceAuth', true),
      'gateway.control_ui.device_auth_disabled',
      'gateway.controlUi.dangerouslyDisableDeviceAuth',
    ],
    [
      'insecure auth (OpenClaw warns; the broker forbids it)',
      withChange('gateway.controlUi.allowInsecureAuth', true),
      'gateway.control_ui.insecure_auth',
      'gateway.controlUi.allowInsecureAuth',
    ],
    [
      'the X-Real-IP fallback on a lan bind',
      withChange('gateway.allowRealIpFallback', true),
      'gateway.real_ip_fallback_enabled',
      'gateway.allowRealIpFallback',
    ],
    [
      'mDNS full mode on a lan bind',
      withChange('discovery.mdns.mode', 'full'),
      'discovery.mdns_full_mode',
      'discovery.mdns.mode',
    ],
    [
      'Tailscale Funnel',
      withChange('gateway.tailscale.mode', 'funnel'),
      'gateway.tailscale_funnel',
      'gateway.tailscale.mode',
    ],
    [
      'tools re-enabled over HTTP',
      withChange('gateway.tools.allow', ['sessions_spawn']),
      'gateway.tools_invoke_http.dangerous_allow',
      'gateway.tools.allow',
    ],
    [
      'trusted-proxy auth',
      withChange('gateway.auth.mode', 'trusted-proxy'),
      'gateway.trusted_proxy_auth',
      'gateway.auth.mode',
    ],
    [
      'a short inline token',
      withChange('gateway.auth.token', 'abc123'),
      'gateway.token_too_short',
      'gateway.auth.token',
    ],
    [
      'no auth rate limit on a lan bind',
      withChange('gateway.auth.rateLimit', undefined),
      'gateway.auth_no_rate_limit',
      'gateway.auth.rateLimit',
    ],
    [
      'a hook token equal to the gateway token',
      withChange('hooks', { enabled: true, token: '${OPENCLAW_GATEWAY_TOKEN}', path: '/hooks' }),
      'hooks.token_reuse_gateway_token',
      'hooks.token',
    ],
    [
      'a hook path at the root',
      withChange('hooks', { enabled: true, path: '/' }),
      'hooks.path_root',
      'hooks.path',
    ],
    [
      'redaction off',
      withChange('logging.redactSensitive', 'off'),
      'logging.redact_off',
      'logging.redactSensitive',
    ],
    [
      'a dangerous channel flag',
      withChange('channels.telegram.network', { dangerouslyAllowPrivateNetwork: true }),
      'config.insecure_or_dangerous_flags',
      'channels.telegram.network.dangerouslyAllowPrivateNetwork',
    ],
    [
      'an inline gateway token that is long enough',
      withChange('gateway.auth.token', 'f'.repeat(64)),
      'broker.secret_inline',
      'gateway.auth.token',
    ],
    [
      'an inline Telegram bot token',
      withChange('channels.telegram.botToken', '123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw'),
      'broker.secret_inline',
      'channels.telegram.botToken',
    ],
    [
      'an inline model API key',
      withChange('models.providers.azure-foundry.apiKey', 'sk-live'),
      'broker.secret_inline',
      'models.providers.azure-foundry.apiKey',
    ],
    [
      'a key the version retired',
      withChange('gateway.controlUi.toolTitles', true),
      'broker.unknown_config_key',
      'gateway.controlUi.toolTitles',
    ],
    [
      'an unknown gateway key',
      withChange('gateway.webchat', { enabled: false }),
      'broker.unknown_config_key',
      'gateway.webchat',
    ],
    [
      'an unknown rate-limit key',
      withChange('gateway.auth.rateLimit.burst', 5),
      'broker.unknown_config_key',
      'gateway.auth.rateLimit.burst',
    ],
    ['text that is not JSON', '{ gateway: { bind: "lan" } }', 'broker.config_unparseable', ''],
    ['a JSON array', '[]', 'broker.config_unparseable', ''],
  ])('catches %s as critical', (_what, text, checkId, key) => {
    expect(critical(auditOpenClawConfig(text, VERSION))).toContainEqual([checkId, key]);
  });

  it("keeps OpenClaw's own severity beside the broker's when the broker escalates a warning", () => {
    const finding = auditOpenClawConfig(
      withChange('gateway.controlUi.allowInsecureAuth', true),
      VERSION,
    ).find((candidate) => candidate.checkId === 'gateway.control_ui.insecure_auth');
    expect(finding).toMatchObject({
      checkId: 'gateway.control_ui.insecure_auth',
      severity: 'critical',
      openclawSeverity: 'warn',
    });
  });

  it('treats a wildcard origin on a loopback bind as a warning, as OpenClaw does', () => {
    const text = JSON.stringify({
      gateway: {
        bind: 'loopback',
        auth: { mode: 'token', token: '${T}' },
        controlUi: { allowedOrigins: ['*'] },
      },
    });
    expect(auditOpenClawConfig(text, VERSION)).toEqual([
      expect.objectContaining({ checkId: 'gateway.control_ui.allowed_origins_wildcard', severity: 'warn' }),
    ]);
  });

  it('accepts a key in the version that knows it and flags it in the version that does not', () => {
    // `worktreeRoot` is new in 2026.9.6 (both releases' own `openclaw config schema`).
    const withWorktreeRoot = withChange('worktreeRoot', '/home/node/.openclaw/worktrees');
    expect(auditOpenClawConfig(withWorktreeRoot, '2026.9.6')).toEqual([]);
    expect(critical(auditOpenClawConfig(withWorktreeRoot, '2026.8.2'))).toContainEqual([
      'broker.unknown_config_key',
      'worktreeRoot',
    ]);
  });

  it('lists critical findings before warnings', () => {
    const text = JSON.stringify({
      gateway: {
        bind: 'loopback',
        auth: { mode: 'token', token: '${T}' },
        controlUi: { allowedOrigins: ['*'] },
      },
      bogus: true,
    });
    expect(auditOpenClawConfig(text, VERSION).map((finding) => finding.severity)).toEqual([
      'critical',
      'warn',
    ]);
  });

  it('refuses to audit for a version the broker does not support', () => {
    expect(() => auditOpenClawConfig('{}', '2026.1.1')).toThrow(/not supported/);
  });
});

describe('assertConfigPassesAudit', () => {
  it('throws a BadRequest naming the first critical checkId and its key, and lists every critical finding', () => {
    const text = withChange('gateway.controlUi', {
      enabled: true,
      allowedOrigins: [],
      dangerouslyDisableDeviceAuth: true,
    });
    let error: unknown;
    try {
      assertConfigPassesAudit(text, VERSION);
    } catch (caught) {
      error = caught;
    }
    expect(isBrokerError(error) && error.code).toBe('BadRequest');
    expect((error as Error).message).toContain(
      'gateway.control_ui.allowed_origins_required at gateway.controlUi.allowedOrigins',
    );
    expect((error as Error).message).toMatch(/and 2 more critical/);
    const details = (error as { details: { findings: AuditFinding[] } }).details;
    expect(details.findings.map((finding) => finding.checkId)).toEqual([
      'gateway.control_ui.allowed_origins_required',
      'gateway.control_ui.device_auth_disabled',
      'config.insecure_or_dangerous_flags',
    ]);
  });

  it('returns the warnings of a config that has no critical finding', () => {
    const text = JSON.stringify({
      gateway: {
        bind: 'loopback',
        auth: { mode: 'token', token: '${T}' },
        controlUi: { allowedOrigins: ['*'] },
      },
    });
    expect(assertConfigPassesAudit(text, VERSION)).toHaveLength(1);
  });

  it('never echoes an inline secret in its message', () => {
    const secret = '123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw';
    expect(() => assertConfigPassesAudit(withChange('channels.telegram.botToken', secret), VERSION)).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining(secret) as unknown }) as Error,
    );
  });
});
