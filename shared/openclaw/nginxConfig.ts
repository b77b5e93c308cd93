import { BrokerError, ErrorCodes } from '../errors.js';
import type { OpenClawChannel } from './renderConfig.js';
import { openClawVersionSupport } from './versions.js';

/** The port the NGINX sidecar listens on; the container app's ingress targets it. */
export const NGINX_INGRESS_PORT = 8080;

/** The admin RPC route of OpenClaw's `admin-http-rpc` plugin; never reachable from the internet. */
export const ADMIN_RPC_PATH = '/api/v1/admin/rpc';

/** Largest request body the sidecar forwards (OpenClaw's Telegram media limit is larger, but inbound
 * webhook updates are JSON, and control-UI uploads are capped here on purpose). */
export const NGINX_MAX_BODY_SIZE = '25m';

/**
 * Repeated in every location: NGINX inherits proxy_set_header only into locations that set none of
 * their own, and each location here sets Connection.
 */
const FORWARD_HEADERS = [
  '        proxy_set_header Host $host;',
  '        proxy_set_header X-Forwarded-For $remote_addr;',
  '        proxy_set_header X-Real-IP $remote_addr;',
  '        proxy_set_header X-Forwarded-Proto https;',
  '        proxy_set_header X-Forwarded-Host $host;',
];

export interface RenderNginxConfigInput {
  version: string;
  channels: readonly OpenClawChannel[];
  /** Defaults to NGINX_INGRESS_PORT. */
  listenPort?: number;
}

export interface NginxRoute {
  /** NGINX location, exact (`= /path`) or prefix (`/`). */
  readonly location: string;
  readonly upstream: string;
}

export interface RenderedNginxConfig {
  readonly version: string;
  /** A conf.d file (http context): `map`s and one `server` block. */
  readonly text: string;
  readonly listenPort: number;
  /** Every proxied location and where it goes, for tests and diagnostics. */
  readonly routes: readonly NginxRoute[];
}

/**
 * Renders the NGINX sidecar's conf.d file. The sidecar shares the replica's network namespace with
 * the gateway, so every upstream is on 127.0.0.1:
 * - the Telegram webhook path (exact match) goes to OpenClaw's Telegram listener (127.0.0.1:8787),
 *   the Teams `/api/messages` path to the Teams Bot Framework listener (127.0.0.1:3978), each only
 *   when that channel is on; these are the paths Container Apps auth must leave open;
 * - the admin RPC path answers 404: it is a full operator control plane and OpenClaw's docs say
 *   never to expose it publicly;
 * - everything else goes to the gateway (127.0.0.1:18789) with WebSocket upgrade headers.
 *
 * The client address is taken from the Container Apps ingress (Envoy) `X-Forwarded-For` for
 * private-range peers only (`real_ip_recursive`), and forwarded as a single-entry
 * `X-Forwarded-For`, so a client cannot pose as 127.0.0.1; the gateway trusts 127.0.0.1 as its
 * proxy and so sees each browser's own address (for its rate limit and its local-client checks).
 *
 * Invariants: no secret, header value or token appears in the text; `server_tokens off`; bounded
 * body size and timeouts; deterministic output.
 */
export function renderNginxConfig(input: RenderNginxConfigInput): RenderedNginxConfig {
  const support = openClawVersionSupport(input.version);
  const listenPort = input.listenPort ?? NGINX_INGRESS_PORT;
  if (
    !Number.isInteger(listenPort) ||
    listenPort < 1 ||
    listenPort > 65535 ||
    listenPort === support.gatewayPort
  ) {
    throw new BrokerError(
      ErrorCodes.BadRequest,
      `NGINX listen port must be a free TCP port other than the gateway's ${support.gatewayPort}, got ${listenPort}`,
    );
  }
  const channels = new Set(input.channels);
  const gateway = `http://127.0.0.1:${support.gatewayPort}`;
  const webhookRoutes: NginxRoute[] = [];
  if (channels.has('telegram')) {
    webhookRoutes.push({
      location: `= ${support.telegramWebhook.path}`,
      upstream: `http://127.0.0.1:${support.telegramWebhook.port}`,
    });
  }
  if (channels.has('teams')) {
    webhookRoutes.push({
      location: `= ${support.teamsWebhook.path}`,
      upstream: `http://127.0.0.1:${support.teamsWebhook.port}`,
    });
  }

  const lines = [
    '# Rendered by claw-broker for OpenClaw ' + support.version + '; do not edit by hand.',
    'map $http_upgrade $connection_upgrade {',
    '    default upgrade;',
    "    ''      close;",
    '}',
    '',
    'server {',
    `    listen ${listenPort};`,
    '    server_name _;',
    '    server_tokens off;',
    '',
    `    client_max_body_size ${NGINX_MAX_BODY_SIZE};`,
    '    client_body_timeout 30s;',
    '    client_header_timeout 30s;',
    '    keepalive_timeout 75s;',
    '    proxy_connect_timeout 5s;',
    '    proxy_send_timeout 60s;',
    '    proxy_read_timeout 60s;',
    '    proxy_http_version 1.1;',
    '',
    '    # The client address comes from the ingress (private range), never from 127.0.0.1.',
    '    set_real_ip_from 10.0.0.0/8;',
    '    set_real_ip_from 172.16.0.0/12;',
    '    set_real_ip_from 192.168.0.0/16;',
    '    set_real_ip_from 100.64.0.0/10;',
    '    real_ip_header X-Forwarded-For;',
    '    real_ip_recursive on;',
    '',
    `    location = ${ADMIN_RPC_PATH} {`,
    '        return 404;',
    '    }',
    '',
    ...webhookRoutes.flatMap((route) => [
      `    location ${route.location} {`,
      '        limit_except POST { deny all; }',
      `        proxy_pass ${route.upstream};`,
      ...FORWARD_HEADERS,
      '        proxy_set_header Connection "";',
      '    }',
      '',
    ]),
    '    location / {',
    `        proxy_pass ${gateway};`,
    ...FORWARD_HEADERS,
    '        proxy_set_header Upgrade $http_upgrade;',
    '        proxy_set_header Connection $connection_upgrade;',
    '        # Control UI WebSockets stay open; the gateway pings them.',
    '        proxy_read_timeout 3600s;',
    '        proxy_send_timeout 3600s;',
    '        proxy_buffering off;',
    '    }',
    '}',
    '',
  ];

  return Object.freeze({
    version: support.version,
    text: lines.join('\n'),
    listenPort,
    routes: Object.freeze([...webhookRoutes, { location: '/', upstream: gateway }]),
  });
}
