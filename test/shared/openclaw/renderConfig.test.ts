import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createOpenClawSurface, type OpenClawAppState } from '../../../sandbox/sim/openclaw.js';
import {
  channelsFor,
  OPENCLAW_ENV,
  renderOpenClawConfig,
  type OpenClawChannel,
  type RenderedOpenClawConfig,
} from '../../../shared/openclaw/renderConfig.js';
import { openClawVersionSupport, unknownConfigKeys } from '../../../shared/openclaw/versions.js';
import { FOUNDRY, foundry, FQDN, SECRET_VALUES, versionAndChannels } from './fixtures.js';

type Json = Record<string, unknown>;
const parse = (rendered: RenderedOpenClawConfig) => JSON.parse(rendered.text) as Json;
const at = (value: unknown, path: string): unknown =>
  path.split('.').reduce<unknown>((node, key) => (node as Json | undefined)?.[key], value);

const ENV_VALUES: Record<string, string> = {
  [OPENCLAW_ENV.gatewayToken]: SECRET_VALUES.gatewayToken,
  [OPENCLAW_ENV.telegramBotToken]: SECRET_VALUES.telegramBotToken,
  [OPENCLAW_ENV.telegramWebhookSecret]: SECRET_VALUES.telegramWebhookSecret,
  [OPENCLAW_ENV.teamsAppPassword]: SECRET_VALUES.teamsAppPassword,
  [OPENCLAW_ENV.teamsAppId]: '99999999-8888-7777-6666-555555555555',
  [OPENCLAW_ENV.teamsTenantId]: '44444444-3333-2222-1111-000000000000',
  [OPENCLAW_ENV.foundryApiKey]: SECRET_VALUES.foundryApiKey,
};

function standInReadiness(rendered: RenderedOpenClawConfig, renderedVersion: string) {
  const app: OpenClawAppState = {
    image: `ghcr.io/openclaw/openclaw:${renderedVersion}`,
    env: Object.fromEntries(rendered.envVars.map((name) => [name, ENV_VALUES[name] ?? ''])),
    configJson: rendered.text,
    running: true,
  };
  const surface = createOpenClawSurface({ clock: { now: () => 0 }, getApp: () => app });
  return surface.readiness('ca-acme');
}

describe('renderOpenClawConfig', () => {
  it('renders the hardened gateway: lan bind, token auth from the env, the app origin only, a rate limit', () => {
    const config = parse(
      renderOpenClawConfig({ version: '2026.8.2', appFqdn: FQDN, channels: ['telegram'] }),
    );
    expect(at(config, 'gateway')).toEqual({
      mode: 'local',
      port: 18789,
      bind: 'lan',
      auth: {
        mode: 'token',
        token: '${OPENCLAW_GATEWAY_TOKEN}',
        rateLimit: { maxAttempts: 10, windowMs: 60_000, lockoutMs: 300_000, exemptLoopback: false },
      },
      controlUi: { enabled: true, allowedOrigins: [`https://${FQDN}`] },
      trustedProxies: ['127.0.0.1'],
      tailscale: { mode: 'off' },
    });
  });

  it('turns update checks, auto-update, mDNS and wide-area discovery off and logs JSON to the console', () => {
    const config = parse(renderOpenClawConfig({ version: '2026.9.6', appFqdn: FQDN, channels: [] }));
    expect(at(config, 'update')).toEqual({ checkOnStart: false, auto: { enabled: false } });
    expect(at(config, 'discovery')).toEqual({ mdns: { mode: 'off' } });
    expect(at(config, 'logging.consoleStyle')).toBe('json');
    expect(at(config, 'logging')).toEqual({ consoleStyle: 'json' });
  });

  it('puts Telegram in webhook mode on the app host, with the bot token and webhook secret from the env', () => {
    const config = parse(
      renderOpenClawConfig({ version: '2026.8.2', appFqdn: FQDN, channels: ['telegram'] }),
    );
    expect(at(config, 'channels.telegram')).toMatchObject({
      enabled: true,
      botToken: '${TELEGRAM_BOT_TOKEN}',
      webhookUrl: `https://${FQDN}/telegram-webhook`,
      webhookSecret: '${TELEGRAM_WEBHOOK_SECRET}',
      webhookPath: '/telegram-webhook',
      configWrites: false,
    });
  });

  it('refuses Teams on a version no published Teams plugin starts with, naming the versions that have one', () => {
    expect(channelsFor('2026.8.2')).toEqual(['telegram']);
    expect(channelsFor('2026.9.6')).toEqual(['telegram', 'teams']);
    expect(() => renderOpenClawConfig({ version: '2026.8.2', appFqdn: FQDN, channels: ['teams'] })).toThrow(
      'OpenClaw 2026.8.2 has no Microsoft Teams plugin that starts with it; Teams needs 2026.9.6',
    );
  });

  it('trusts the external Teams plugin explicitly, so the real gateway loads the channel', () => {
    const config = parse(renderOpenClawConfig({ version: '2026.9.6', appFqdn: FQDN, channels: ['teams'] }));
    expect(at(config, 'plugins.entries')).toEqual({ msteams: { enabled: true } });
    const without = parse(
      renderOpenClawConfig({ version: '2026.9.6', appFqdn: FQDN, channels: ['telegram'] }),
    );
    expect(at(without, 'plugins')).toBeUndefined();
  });

  it('turns on only the requested channels, and Telegram explicitly off when not requested', () => {
    fc.assert(
      fc.property(versionAndChannels, ([v, wanted]) => {
        const config = parse(renderOpenClawConfig({ version: v, appFqdn: FQDN, channels: wanted }));
        expect(at(config, 'channels.telegram.enabled')).toBe(wanted.includes('telegram'));
        expect(at(config, 'channels.msteams.enabled')).toBe(wanted.includes('teams') ? true : undefined);
        expect(Object.keys(at(config, 'channels') as Json).sort()).toEqual(
          wanted.includes('teams') ? ['msteams', 'telegram'] : ['telegram'],
        );
      }),
    );
  });

  it('points Teams at its Bot Framework listener on /api/messages', () => {
    const config = parse(renderOpenClawConfig({ version: '2026.9.6', appFqdn: FQDN, channels: ['teams'] }));
    expect(at(config, 'channels.msteams.webhook')).toEqual({ port: 3978, path: '/api/messages' });
    expect(at(config, 'channels.msteams.appPassword')).toBe('${MSTEAMS_APP_PASSWORD}');
  });

  it('wires a Foundry deployment as an OpenAI-compatible provider whose key comes from the env', () => {
    const rendered = renderOpenClawConfig({
      version: '2026.8.2',
      appFqdn: FQDN,
      channels: [],
      foundry: FOUNDRY,
    });
    const config = parse(rendered);
    expect(at(config, 'models.providers')).toEqual({
      'azure-foundry': {
        baseUrl: 'https://acme-ai.openai.azure.com/openai/v1',
        apiKey: '${AZURE_OPENAI_API_KEY}',
        api: 'openai-responses',
        models: [{ id: 'gpt-4o-mini', name: 'gpt-4o-mini' }],
      },
    });
    expect(at(config, 'agents.defaults.model.primary')).toBe('azure-foundry/gpt-4o-mini');
    expect(rendered.envVars).toContain('AZURE_OPENAI_API_KEY');
  });

  it('never writes a secret, only ${ENV} references, and lists exactly the references it makes', () => {
    fc.assert(
      fc.property(versionAndChannels, foundry, ([v, wanted], model) => {
        const rendered = renderOpenClawConfig({
          version: v,
          appFqdn: FQDN,
          channels: wanted,
          foundry: model,
        });
        for (const secret of Object.values(SECRET_VALUES)) expect(rendered.text).not.toContain(secret);
        const referenced = [...rendered.text.matchAll(/\$\{([A-Z0-9_]+)\}/g)].map((match) => match[1]);
        expect([...new Set(referenced)].sort()).toEqual([...rendered.envVars]);
      }),
    );
  });

  it('uses only keys the pinned version knows, in every object the generated data covers', () => {
    fc.assert(
      fc.property(versionAndChannels, foundry, fc.boolean(), ([v, wanted], model, adminRpc) => {
        const support = openClawVersionSupport(v);
        const config = parse(
          renderOpenClawConfig({
            version: v,
            appFqdn: FQDN,
            channels: wanted,
            foundry: model,
            adminRpc: adminRpc && support.adminRpcPlugin,
          }),
        );
        expect(unknownConfigKeys(config, support.configKeys)).toEqual([]);
      }),
    );
  });

  it('is accepted by the OpenClaw stand-in for every version, channel set and model choice', () => {
    fc.assert(
      fc.property(versionAndChannels, foundry, ([v, wanted], model) => {
        const rendered = renderOpenClawConfig({
          version: v,
          appFqdn: FQDN,
          channels: wanted,
          foundry: model,
        });
        expect(standInReadiness(rendered, v)).toMatchObject({ ready: true, reasons: [] });
      }),
      { numRuns: 50 },
    );
  });

  it('is refused by the stand-in when run under a version it was not rendered for', () => {
    const rendered = renderOpenClawConfig({ version: '2026.9.6', appFqdn: FQDN, channels: [] });
    const plain = JSON.parse(rendered.text) as Json;
    const gateway = plain['gateway'] as Json;
    const controlUi = { ...(gateway['controlUi'] as Json), toolTitles: false };
    const withRetiredKey = {
      ...rendered,
      text: JSON.stringify({ ...plain, gateway: { ...gateway, controlUi } }),
    };
    expect(standInReadiness(withRetiredKey, '2026.9.6')?.reasons).toContain(
      'gateway.controlUi.toolTitles: unknown config key for openclaw 2026.9.6',
    );
  });

  it('renders the same bytes for the same input', () => {
    const input = {
      version: '2026.9.6',
      appFqdn: FQDN,
      channels: ['teams', 'telegram'] as OpenClawChannel[],
      foundry: FOUNDRY,
    };
    expect(renderOpenClawConfig(input).text).toBe(renderOpenClawConfig({ ...input }).text);
  });

  it('enables the admin RPC plugin only when asked and only for versions that have it', () => {
    const on = parse(
      renderOpenClawConfig({ version: '2026.9.6', appFqdn: FQDN, channels: [], adminRpc: true }),
    );
    const off = parse(renderOpenClawConfig({ version: '2026.9.6', appFqdn: FQDN, channels: [] }));
    expect(at(on, 'plugins')).toEqual({ entries: { 'admin-http-rpc': { enabled: true } } });
    expect(at(off, 'plugins')).toBeUndefined();
    // Both pinned releases bundle the plugin; the refusal is for a version without it.
    expect(openClawVersionSupport('2026.8.2').adminRpcPlugin).toBe(true);
  });

  it.each([
    ['a host name with a scheme', { appFqdn: `https://${FQDN}` }, /appFqdn/],
    ['a host name with a path', { appFqdn: `${FQDN}/x` }, /appFqdn/],
    ['an upper-case host name', { appFqdn: FQDN.toUpperCase() }, /appFqdn/],
    ['an unknown channel', { channels: ['slack'] as unknown as OpenClawChannel[] }, /unknown channel/],
    ['an unsupported version', { version: '2026.1.1' }, /not supported/],
    [
      'an http Foundry endpoint',
      { foundry: { ...FOUNDRY, endpoint: 'http://acme-ai.openai.azure.com' } },
      /https/,
    ],
    [
      'a Foundry endpoint with credentials in it',
      { foundry: { ...FOUNDRY, endpoint: 'https://k:v@acme.openai.azure.com' } },
      /credentials/,
    ],
  ])('refuses %s with a BadRequest', (_what, override, message) => {
    const input = { version: '2026.8.2', appFqdn: FQDN, channels: [] as OpenClawChannel[], ...override };
    expect(() => renderOpenClawConfig(input)).toThrow(message);
  });
});
