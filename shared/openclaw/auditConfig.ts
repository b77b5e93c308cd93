import { BrokerError, ErrorCodes, messageOf } from '../errors.js';
import { openClawVersionSupport, unknownConfigKeys, type OpenClawVersionSupport } from './versions.js';

/**
 * A static audit of a rendered `openclaw.json`, before it ever reaches a gateway.
 *
 * It implements the checks of `openclaw security audit` that can be decided from the config text
 * alone, with OpenClaw's own checkIds (docs: gateway/security/audit-checks.md; logic:
 * src/security/audit-gateway-config.ts of openclaw/openclaw). Checks that need the host
 * (filesystem permissions, installed plugins, live probes) are out of scope. The broker adds a few
 * checks of its own under `broker.*`: unknown keys for the pinned version (OpenClaw's schema
 * validation refuses them at start-up rather than in the audit), secrets written inline instead of
 * as `${ENV}` references, and text that is not a JSON object.
 *
 * Differences from the real audit, on purpose:
 * - env values are not visible here, so a token is "configured" only when the config names it
 *   (`${ENV}`, a SecretRef, or a literal); OpenClaw would also accept OPENCLAW_GATEWAY_TOKEN alone;
 * - `severity` is the broker's: OpenClaw's, except for the checks in BROKER_ESCALATED_CHECK_IDS,
 *   which OpenClaw reports as `warn` and the broker's policy forbids outright (`openclawSeverity`
 *   keeps OpenClaw's value);
 * - `gateway.tools_invoke_http.dangerous_allow` fires for any `gateway.tools.allow` entry (a
 *   superset of OpenClaw's default HTTP deny list, which the broker does not copy).
 * The text must be JSON (which JSON5 accepts); JSON5-only syntax is reported, not parsed.
 */

export type AuditSeverity = 'critical' | 'warn';

export interface AuditFinding {
  readonly checkId: string;
  readonly severity: AuditSeverity;
  /** OpenClaw's own severity for its checkIds; undefined for the broker's `broker.*` checks. */
  readonly openclawSeverity?: AuditSeverity;
  /** The config key (dotted path) the finding is about. */
  readonly key: string;
  readonly message: string;
}

/** OpenClaw `warn` checks that the broker treats as critical. */
export const BROKER_ESCALATED_CHECK_IDS: ReadonlySet<string> = new Set([
  'gateway.control_ui.insecure_auth',
  'gateway.token_too_short',
  'gateway.auth_no_rate_limit',
  'config.insecure_or_dangerous_flags',
  'config.secrets.gateway_password_in_config',
  'config.secrets.hooks_token_in_config',
  'logging.redact_off',
]);

type Json = Record<string, unknown>;

const ENV_REFERENCE = /^\$\{[A-Z_][A-Z0-9_]*\}$/;
const MIN_TOKEN_LENGTH = 24; // OpenClaw's gateway.token_too_short threshold

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const section = (value: unknown): Json => (isObject(value) ? value : {});
const nonEmpty = (value: unknown): boolean =>
  (typeof value === 'string' && value.trim() !== '') || isEnvSecretRef(value) || isObject(value);

function isEnvSecretRef(value: unknown): boolean {
  return isObject(value) && value['source'] === 'env' && typeof value['id'] === 'string';
}

/** True for a value that names a secret instead of holding it: `${ENV}` or a SecretRef object. */
function isSecretReference(value: unknown): boolean {
  return (typeof value === 'string' && ENV_REFERENCE.test(value.trim())) || isObject(value);
}

/**
 * Audits `text` (a rendered openclaw.json) for `version`. Returns every finding, critical ones
 * first, in a stable order. Never throws for a bad config (that is a finding); throws a BrokerError
 * (`BadRequest`) only when the version is not supported.
 */
export function auditOpenClawConfig(text: string, version: string): AuditFinding[] {
  const support = openClawVersionSupport(version);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return [broker('broker.config_unparseable', '', `openclaw.json is not JSON: ${messageOf(err)}`)];
  }
  if (!isObject(parsed)) {
    return [broker('broker.config_unparseable', '', 'openclaw.json must be a JSON object')];
  }

  const findings = [
    ...unknownKeyFindings(parsed, support, version),
    ...gatewayFindings(parsed),
    ...inlineSecretFindings(parsed),
    ...dangerousFlagFindings(parsed, ''),
    ...hooksAndLoggingFindings(parsed),
  ];
  const rank = (finding: AuditFinding) => (finding.severity === 'critical' ? 0 : 1);
  return findings
    .map((finding, index) => ({ finding, index }))
    .sort((a, b) => rank(a.finding) - rank(b.finding) || a.index - b.index)
    .map(({ finding }) => finding);
}

/**
 * Throws a BrokerError (`BadRequest`) whose message names the first critical finding (checkId and
 * key) and whose details list all of them; returns the remaining (warn) findings otherwise.
 */
export function assertConfigPassesAudit(text: string, version: string): AuditFinding[] {
  const findings = auditOpenClawConfig(text, version);
  const critical = findings.filter((finding) => finding.severity === 'critical');
  const first = critical[0];
  if (first) {
    const more = critical.length > 1 ? ` (and ${critical.length - 1} more critical)` : '';
    throw new BrokerError(
      ErrorCodes.BadRequest,
      `openclaw.json for OpenClaw ${version} fails the security audit: ${first.checkId} at ${first.key || '<root>'}: ${first.message}${more}`,
      { details: { findings: critical } },
    );
  }
  return findings;
}

function openclaw(checkId: string, severity: AuditSeverity, key: string, message: string): AuditFinding {
  const escalated = BROKER_ESCALATED_CHECK_IDS.has(checkId) ? 'critical' : severity;
  return Object.freeze({ checkId, severity: escalated, openclawSeverity: severity, key, message });
}

function broker(checkId: string, key: string, message: string): AuditFinding {
  return Object.freeze({ checkId, severity: 'critical', key, message });
}

function unknownKeyFindings(config: Json, support: OpenClawVersionSupport, version: string): AuditFinding[] {
  return unknownConfigKeys(config, support.configKeys).map((key) =>
    broker(
      'broker.unknown_config_key',
      key,
      `OpenClaw ${version} does not know this key; its strict schema would stop the gateway`,
    ),
  );
}

function gatewayFindings(config: Json): AuditFinding[] {
  const findings: AuditFinding[] = [];
  const gateway = section(config['gateway']);
  const auth = section(gateway['auth']);
  const controlUi = section(gateway['controlUi']);
  const bind = typeof gateway['bind'] === 'string' ? gateway['bind'] : 'loopback';
  const exposed = bind !== 'loopback';
  const tailscaleMode = section(gateway['tailscale'])['mode'] ?? 'off';
  const mode = auth['mode'];
  const tokenConfigured = nonEmpty(auth['token']);
  const passwordConfigured = nonEmpty(auth['password']);
  const hasSharedSecret =
    mode === 'token'
      ? tokenConfigured
      : mode === 'password'
        ? passwordConfigured
        : mode === 'none' || mode === 'trusted-proxy'
          ? false
          : tokenConfigured || passwordConfigured;
  const controlUiEnabled = controlUi['enabled'] !== false;
  const origins = Array.isArray(controlUi['allowedOrigins'])
    ? controlUi['allowedOrigins'].filter(
        (origin): origin is string => typeof origin === 'string' && origin.trim() !== '',
      )
    : [];
  const hostHeaderFallback = controlUi['dangerouslyAllowHostHeaderOriginFallback'] === true;

  if (exposed && !hasSharedSecret && mode !== 'trusted-proxy') {
    findings.push(
      openclaw(
        'gateway.bind_no_auth',
        'critical',
        'gateway.auth',
        `gateway.bind="${String(bind)}" but no gateway.auth token or password is configured`,
      ),
    );
  }
  if (!exposed && controlUiEnabled && !hasSharedSecret && mode !== 'trusted-proxy') {
    findings.push(
      openclaw(
        'gateway.loopback_no_auth',
        'critical',
        'gateway.auth',
        'loopback bind without gateway auth: a reverse proxy in front would make it unauthenticated',
      ),
    );
  }
  if (exposed && controlUiEnabled && origins.length === 0 && !hostHeaderFallback) {
    findings.push(
      openclaw(
        'gateway.control_ui.allowed_origins_required',
        'critical',
        'gateway.controlUi.allowedOrigins',
        'non-loopback Control UI without an explicit browser-origin allowlist',
      ),
    );
  }
  if (origins.includes('*')) {
    findings.push(
      openclaw(
        'gateway.control_ui.allowed_origins_wildcard',
        exposed ? 'critical' : 'warn',
        'gateway.controlUi.allowedOrigins',
        '"*" allows any browser origin',
      ),
    );
  }
  if (hostHeaderFallback) {
    findings.push(
      openclaw(
        'gateway.control_ui.host_header_origin_fallback',
        exposed ? 'critical' : 'warn',
        'gateway.controlUi.dangerouslyAllowHostHeaderOriginFallback',
        'Host-header origin fallback weakens DNS-rebinding protection',
      ),
    );
  }
  if (controlUi['allowInsecureAuth'] === true) {
    findings.push(
      openclaw(
        'gateway.control_ui.insecure_auth',
        'warn',
        'gateway.controlUi.allowInsecureAuth',
        'insecure-auth compatibility toggle is on',
      ),
    );
  }
  if (controlUi['dangerouslyDisableDeviceAuth'] === true) {
    findings.push(
      openclaw(
        'gateway.control_ui.device_auth_disabled',
        'critical',
        'gateway.controlUi.dangerouslyDisableDeviceAuth',
        'Control UI device identity checks are disabled',
      ),
    );
  }
  if (gateway['allowRealIpFallback'] === true) {
    findings.push(
      openclaw(
        'gateway.real_ip_fallback_enabled',
        exposed ? 'critical' : 'warn',
        'gateway.allowRealIpFallback',
        'trusting X-Real-IP lets a misconfigured proxy spoof the client address',
      ),
    );
  }
  if (section(section(config['discovery'])['mdns'])['mode'] === 'full') {
    findings.push(
      openclaw(
        'discovery.mdns_full_mode',
        exposed ? 'critical' : 'warn',
        'discovery.mdns.mode',
        'mDNS full mode advertises host metadata on the local network',
      ),
    );
  }
  if (tailscaleMode === 'funnel') {
    findings.push(
      openclaw(
        'gateway.tailscale_funnel',
        'critical',
        'gateway.tailscale.mode',
        'Tailscale Funnel exposes the gateway publicly',
      ),
    );
  }
  const toolsAllow = section(gateway['tools'])['allow'];
  if (Array.isArray(toolsAllow) && toolsAllow.length > 0) {
    findings.push(
      openclaw(
        'gateway.tools_invoke_http.dangerous_allow',
        exposed || tailscaleMode === 'funnel' ? 'critical' : 'warn',
        'gateway.tools.allow',
        'removes tools from the default HTTP /tools/invoke deny list',
      ),
    );
  }
  const endpoints = section(section(gateway['http'])['endpoints']);
  const httpApiOn = ['chatCompletions', 'responses'].some(
    (name) => section(endpoints[name])['enabled'] === true,
  );
  if (mode === 'none' && httpApiOn) {
    findings.push(
      openclaw(
        'gateway.http.no_auth',
        exposed ? 'critical' : 'warn',
        'gateway.auth.mode',
        'gateway HTTP APIs are reachable with auth.mode="none"',
      ),
    );
  }
  if (mode === 'trusted-proxy') {
    findings.push(
      openclaw(
        'gateway.trusted_proxy_auth',
        'critical',
        'gateway.auth.mode',
        'trusted-proxy auth makes the proxy identity the auth boundary',
      ),
    );
    const proxies = gateway['trustedProxies'];
    if (!Array.isArray(proxies) || proxies.length === 0) {
      findings.push(
        openclaw(
          'gateway.trusted_proxy_no_proxies',
          'critical',
          'gateway.trustedProxies',
          'trusted-proxy auth without trusted proxy addresses',
        ),
      );
    }
    if (!nonEmpty(section(auth['trustedProxy'])['userHeader'])) {
      findings.push(
        openclaw(
          'gateway.trusted_proxy_no_user_header',
          'critical',
          'gateway.auth.trustedProxy.userHeader',
          'trusted-proxy auth cannot resolve the user identity',
        ),
      );
    }
  }
  const token = auth['token'];
  if (
    mode === 'token' &&
    typeof token === 'string' &&
    token.trim() !== '' &&
    !ENV_REFERENCE.test(token.trim()) &&
    token.trim().length < MIN_TOKEN_LENGTH
  ) {
    findings.push(
      openclaw(
        'gateway.token_too_short',
        'warn',
        'gateway.auth.token',
        `gateway token is ${token.trim().length} characters; the broker's tokens are 64 hex characters`,
      ),
    );
  }
  if (exposed && mode !== 'trusted-proxy' && !isObject(auth['rateLimit'])) {
    findings.push(
      openclaw(
        'gateway.auth_no_rate_limit',
        'warn',
        'gateway.auth.rateLimit',
        'non-loopback bind without a failed-auth rate limit',
      ),
    );
  }
  if (typeof auth['password'] === 'string' && !isSecretReference(auth['password'])) {
    findings.push(
      openclaw(
        'config.secrets.gateway_password_in_config',
        'warn',
        'gateway.auth.password',
        'gateway password is stored in the config',
      ),
    );
  }
  return findings;
}

/** Paths of fields OpenClaw registers as sensitive, as the broker renders them. */
function sensitiveFields(config: Json): Array<[string, unknown]> {
  const gateway = section(config['gateway']);
  const auth = section(gateway['auth']);
  const remote = section(gateway['remote']);
  const channels = section(config['channels']);
  const telegram = section(channels['telegram']);
  const msteams = section(channels['msteams']);
  const providers = section(section(config['models'])['providers']);
  return [
    ['gateway.auth.token', auth['token']],
    ['gateway.auth.password', auth['password']],
    ['gateway.remote.token', remote['token']],
    ['gateway.remote.password', remote['password']],
    ['channels.telegram.botToken', telegram['botToken']],
    ['channels.telegram.webhookSecret', telegram['webhookSecret']],
    ['channels.msteams.appPassword', msteams['appPassword']],
    ...Object.entries(providers).map(([id, provider]): [string, unknown] => [
      `models.providers.${id}.apiKey`,
      section(provider)['apiKey'],
    ]),
  ];
}

function inlineSecretFindings(config: Json): AuditFinding[] {
  return sensitiveFields(config)
    .filter(([, value]) => typeof value === 'string' && value.trim() !== '' && !isSecretReference(value))
    .map(([key]) =>
      broker(
        'broker.secret_inline',
        key,
        'a secret is written into the config; reference it as ${ENV} so Key Vault stays the source',
      ),
    );
}

/** `config.insecure_or_dangerous_flags`: any `dangerously*` or `allowInsecure*` key set to true. */
function dangerousFlagFindings(value: unknown, path: string): AuditFinding[] {
  if (Array.isArray(value)) {
    return value.flatMap((item, index) => dangerousFlagFindings(item, `${path}[${index}]`));
  }
  if (!isObject(value)) return [];
  return Object.entries(value).flatMap(([key, item]) => {
    const here = path ? `${path}.${key}` : key;
    if (item === true && (/^dangerously/.test(key) || /^allowInsecure/.test(key))) {
      return [
        openclaw(
          'config.insecure_or_dangerous_flags',
          'warn',
          here,
          `insecure or dangerous flag ${here}=true`,
        ),
      ];
    }
    return dangerousFlagFindings(item, here);
  });
}

function hooksAndLoggingFindings(config: Json): AuditFinding[] {
  const findings: AuditFinding[] = [];
  const hooks = section(config['hooks']);
  const gatewayToken = section(section(config['gateway'])['auth'])['token'];
  if (typeof hooks['token'] === 'string' && hooks['token'] !== '' && hooks['token'] === gatewayToken) {
    findings.push(
      openclaw(
        'hooks.token_reuse_gateway_token',
        'critical',
        'hooks.token',
        'the hook ingress token also unlocks gateway auth',
      ),
    );
  }
  if (typeof hooks['token'] === 'string' && hooks['token'] !== '' && !isSecretReference(hooks['token'])) {
    findings.push(
      openclaw(
        'config.secrets.hooks_token_in_config',
        'warn',
        'hooks.token',
        'hook bearer token is stored in the config',
      ),
    );
  }
  if (typeof hooks['path'] === 'string' && hooks['path'].trim() === '/') {
    findings.push(
      openclaw('hooks.path_root', 'critical', 'hooks.path', 'hook path "/" collides with every route'),
    );
  }
  if (section(config['logging'])['redactSensitive'] === 'off') {
    findings.push(
      openclaw(
        'logging.redact_off',
        'warn',
        'logging.redactSensitive',
        'sensitive values would reach the logs',
      ),
    );
  }
  return findings;
}
