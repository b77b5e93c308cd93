import { BrokerError, ErrorCodes } from '../errors.js';
import {
  openClawVersionSupport,
  SUPPORTED_OPENCLAW_VERSIONS,
  type OpenClawVersionSupport,
} from './versions.js';

export const OPENCLAW_CHANNELS = ['telegram', 'teams'] as const;
export type OpenClawChannel = (typeof OPENCLAW_CHANNELS)[number];

/**
 * Environment variables the rendered config references as `${NAME}`. OpenClaw substitutes them when
 * it loads the config, so the values (fed from Key Vault through Container Apps secret references)
 * stay the one source of truth and never appear in the rendered text.
 */
export const OPENCLAW_ENV = {
  gatewayToken: 'OPENCLAW_GATEWAY_TOKEN',
  telegramBotToken: 'TELEGRAM_BOT_TOKEN',
  telegramWebhookSecret: 'TELEGRAM_WEBHOOK_SECRET',
  teamsAppId: 'MSTEAMS_APP_ID',
  teamsAppPassword: 'MSTEAMS_APP_PASSWORD',
  teamsTenantId: 'MSTEAMS_TENANT_ID',
  foundryApiKey: 'AZURE_OPENAI_API_KEY',
} as const;
export type OpenClawEnvName = (typeof OPENCLAW_ENV)[keyof typeof OPENCLAW_ENV];

/** The env vars whose values are secrets (Key Vault backed); the rest are plain identifiers. */
export const OPENCLAW_SECRET_ENV: readonly OpenClawEnvName[] = [
  OPENCLAW_ENV.gatewayToken,
  OPENCLAW_ENV.telegramBotToken,
  OPENCLAW_ENV.telegramWebhookSecret,
  OPENCLAW_ENV.teamsAppPassword,
  OPENCLAW_ENV.foundryApiKey,
];

/** The model provider id the broker registers for an Azure AI Foundry / Azure OpenAI deployment. */
export const FOUNDRY_PROVIDER_ID = 'azure-foundry';

/** Failed-auth limiter per client IP: 10 failures a minute lock the client out for 5 minutes. */
export const GATEWAY_AUTH_RATE_LIMIT = Object.freeze({
  maxAttempts: 10,
  windowMs: 60_000,
  lockoutMs: 300_000,
  // Every request reaches the gateway from the NGINX sidecar on 127.0.0.1: exempting loopback
  // would exempt everyone.
  exemptLoopback: false,
});

export interface RenderOpenClawConfigInput {
  /** A version in the support table (versions.ts). */
  version: string;
  /** The container app's public host name, without scheme (`ca-acme.<env>.westeurope.azurecontainerapps.io`). */
  appFqdn: string;
  /** The chat channels to turn on; every other channel stays off. */
  channels: readonly OpenClawChannel[];
  /** An existing Azure AI Foundry / Azure OpenAI deployment; its key comes from `${AZURE_OPENAI_API_KEY}`. */
  foundry?: { endpoint: string; deployment: string };
  /**
   * Turn on the bundled `admin-http-rpc` plugin (only for versions that have it). Off by default:
   * it is a full operator control plane over HTTP.
   */
  adminRpc?: boolean;
}

export interface RenderedOpenClawConfig {
  /** The OpenClaw version the text was rendered (and must be deployed) for. */
  readonly version: string;
  /** `openclaw.json` as JSON (valid JSON5), two-space indented, ending in a newline. */
  readonly text: string;
  /** Every `${NAME}` the text references, sorted; the container must supply each one. */
  readonly envVars: readonly OpenClawEnvName[];
}

const HOST_NAME =
  /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/;
const DEPLOYMENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

const ref = (name: OpenClawEnvName) => `\${${name}}`;

/**
 * Renders `openclaw.json` for one pinned OpenClaw version with the broker's hardened defaults:
 * - `gateway.bind: "lan"` on port 18789, token auth whose token is `${OPENCLAW_GATEWAY_TOKEN}`,
 *   `controlUi.allowedOrigins` exactly `https://<appFqdn>`, a failed-auth rate limit that also
 *   counts loopback, and `trustedProxies: ["127.0.0.1"]` so the gateway takes the client address
 *   from the NGINX sidecar's `X-Forwarded-For` instead of treating every browser as a local client;
 * - Tailscale off, update checks and auto-update off, mDNS and wide-area discovery off, JSON console
 *   logs with sensitive-value redaction;
 * - only the requested channels on; Telegram in webhook mode behind the sidecar, Teams on its Bot
 *   Framework listener; config writes from chat off (the file is read-only, owned by the broker);
 * - no dangerous flag (`allowInsecureAuth`, `dangerouslyDisableDeviceAuth`,
 *   `dangerouslyAllowHostHeaderOriginFallback`, `allowRealIpFallback`) is ever rendered.
 *
 * Invariants: the text holds no secret value, only `${ENV}` references listed in `envVars`; it uses
 * only keys the version knows; the output is deterministic (same input, same bytes). Throws a
 * BrokerError (`BadRequest`) for an unsupported version, a malformed host name, an unknown channel,
 * Teams on a version no published Teams plugin starts with, or a malformed Foundry endpoint.
 */
/** The channels the broker can render for `version`: Teams only where a Teams plugin starts with it. */
export function channelsFor(version: string): readonly OpenClawChannel[] {
  const { teamsPlugin } = openClawVersionSupport(version);
  return OPENCLAW_CHANNELS.filter((channel) => channel !== 'teams' || teamsPlugin !== undefined);
}

export function renderOpenClawConfig(input: RenderOpenClawConfigInput): RenderedOpenClawConfig {
  const support = openClawVersionSupport(input.version);
  const fqdn = checkFqdn(input.appFqdn);
  const channels = checkChannels(input.channels);
  const envVars = new Set<OpenClawEnvName>([OPENCLAW_ENV.gatewayToken]);

  if (input.adminRpc === true && !support.adminRpcPlugin) {
    throw new BrokerError(
      ErrorCodes.BadRequest,
      `OpenClaw ${support.version} has no admin RPC plugin; render without adminRpc`,
    );
  }

  if (channels.has('teams') && !support.teamsPlugin) {
    const withTeams = SUPPORTED_OPENCLAW_VERSIONS.filter((v) => channelsFor(v).includes('teams'));
    throw new BrokerError(
      ErrorCodes.BadRequest,
      `OpenClaw ${support.version} has no Microsoft Teams plugin that starts with it; ` +
        `Teams needs ${withTeams.length > 0 ? withTeams.join(' or ') : 'a newer release'}`,
    );
  }

  const config: Record<string, unknown> = {
    gateway: {
      mode: 'local',
      port: support.gatewayPort,
      bind: 'lan',
      auth: {
        mode: 'token',
        token: ref(OPENCLAW_ENV.gatewayToken),
        rateLimit: { ...GATEWAY_AUTH_RATE_LIMIT },
      },
      controlUi: { enabled: true, allowedOrigins: [`https://${fqdn}`] },
      trustedProxies: ['127.0.0.1'],
      tailscale: { mode: 'off' },
    },
    update: { checkOnStart: false, auto: { enabled: false } },
    // Wide-area discovery is off unless `discovery.wideArea.domain` is set, so it is not rendered.
    discovery: { mdns: { mode: 'off' } },
    // Sensitive-value redaction is on by default; `logging.redactPatterns` only adds patterns.
    logging: { consoleStyle: 'json' },
    channels: renderChannels(channels, fqdn, support, envVars),
  };

  if (input.foundry) {
    Object.assign(config, renderFoundry(input.foundry));
    envVars.add(OPENCLAW_ENV.foundryApiKey);
  }
  const plugins: Record<string, { enabled: true }> = {};
  if (input.adminRpc === true) plugins['admin-http-rpc'] = { enabled: true };
  // The Teams plugin is external (npm); without an explicit entry the real gateway loads it but
  // leaves the channel out ("installed without explicit trust. Add plugins.entries.msteams.enabled=true").
  if (channels.has('teams')) plugins['msteams'] = { enabled: true };
  if (Object.keys(plugins).length > 0) config['plugins'] = { entries: plugins };

  return Object.freeze({
    version: support.version,
    text: `${JSON.stringify(config, null, 2)}\n`,
    envVars: Object.freeze([...envVars].sort()),
  });
}

function renderChannels(
  channels: ReadonlySet<OpenClawChannel>,
  fqdn: string,
  support: OpenClawVersionSupport,
  envVars: Set<OpenClawEnvName>,
): Record<string, unknown> {
  const rendered: Record<string, unknown> = {};
  if (channels.has('telegram')) {
    envVars.add(OPENCLAW_ENV.telegramBotToken);
    envVars.add(OPENCLAW_ENV.telegramWebhookSecret);
    rendered['telegram'] = {
      enabled: true,
      botToken: ref(OPENCLAW_ENV.telegramBotToken),
      // Webhook mode: OpenClaw registers this URL with Telegram and listens on 127.0.0.1:8787
      // (its default); the sidecar routes the path there. Long polling would need no ingress but
      // two pollers on one token conflict during an upgrade.
      webhookUrl: `https://${fqdn}${support.telegramWebhook.path}`,
      webhookSecret: ref(OPENCLAW_ENV.telegramWebhookSecret),
      webhookPath: support.telegramWebhook.path,
      dmPolicy: 'pairing',
      groupPolicy: 'allowlist',
      configWrites: false,
    };
  } else {
    // Explicitly off: OpenClaw would otherwise start Telegram from a TELEGRAM_BOT_TOKEN env fallback.
    rendered['telegram'] = { enabled: false };
  }
  if (channels.has('teams')) {
    envVars.add(OPENCLAW_ENV.teamsAppId);
    envVars.add(OPENCLAW_ENV.teamsAppPassword);
    envVars.add(OPENCLAW_ENV.teamsTenantId);
    rendered['msteams'] = {
      enabled: true,
      appId: ref(OPENCLAW_ENV.teamsAppId),
      appPassword: ref(OPENCLAW_ENV.teamsAppPassword),
      tenantId: ref(OPENCLAW_ENV.teamsTenantId),
      webhook: { port: support.teamsWebhook.port, path: support.teamsWebhook.path },
      dmPolicy: 'pairing',
      configWrites: false,
    };
  }
  return rendered;
}

function renderFoundry(foundry: { endpoint: string; deployment: string }): Record<string, unknown> {
  let endpoint: URL;
  try {
    endpoint = new URL(foundry.endpoint);
  } catch {
    throw new BrokerError(ErrorCodes.BadRequest, `Foundry endpoint is not a URL: ${foundry.endpoint}`);
  }
  if (endpoint.protocol !== 'https:' || endpoint.username !== '' || endpoint.password !== '') {
    throw new BrokerError(ErrorCodes.BadRequest, 'Foundry endpoint must be an https URL without credentials');
  }
  if (endpoint.search !== '' || endpoint.hash !== '') {
    throw new BrokerError(ErrorCodes.BadRequest, 'Foundry endpoint must not carry a query or fragment');
  }
  if (!DEPLOYMENT_NAME.test(foundry.deployment)) {
    throw new BrokerError(
      ErrorCodes.BadRequest,
      `Foundry deployment name is malformed: ${foundry.deployment}`,
    );
  }
  // Azure OpenAI's v1 API is OpenAI-compatible under <endpoint>/openai/v1 and takes the key as a bearer.
  const baseUrl = `${endpoint.origin}/openai/v1`;
  return {
    models: {
      mode: 'merge',
      providers: {
        [FOUNDRY_PROVIDER_ID]: {
          baseUrl,
          apiKey: ref(OPENCLAW_ENV.foundryApiKey),
          api: 'openai-responses',
          models: [{ id: foundry.deployment, name: foundry.deployment }],
        },
      },
    },
    agents: { defaults: { model: { primary: `${FOUNDRY_PROVIDER_ID}/${foundry.deployment}` } } },
  };
}

function checkFqdn(fqdn: string): string {
  if (!HOST_NAME.test(fqdn)) {
    throw new BrokerError(
      ErrorCodes.BadRequest,
      `appFqdn must be a lowercase host name without scheme, port or path, got "${fqdn}"`,
    );
  }
  return fqdn;
}

function checkChannels(channels: readonly string[]): ReadonlySet<OpenClawChannel> {
  const unknown = channels.filter((channel) => !(OPENCLAW_CHANNELS as readonly string[]).includes(channel));
  if (unknown.length > 0) {
    throw new BrokerError(
      ErrorCodes.BadRequest,
      `unknown channel(s) ${unknown.join(', ')}; supported: ${OPENCLAW_CHANNELS.join(', ')}`,
    );
  }
  return new Set(channels as readonly OpenClawChannel[]);
}
