import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ADMIN_RPC_PATH, renderNginxConfig } from '../../../shared/openclaw/nginxConfig.js';
import type { OpenClawChannel } from '../../../shared/openclaw/renderConfig.js';
import { channels, SECRET_VALUES, version } from './fixtures.js';

interface Location {
  exact: boolean;
  path: string;
  body: string;
}

/** The server's location blocks (the rendered file nests no deeper than location > limit_except). */
function locations(text: string): Location[] {
  return [...text.matchAll(/^ {4}location (=\s+)?(\S+) \{\n([\s\S]*?)^ {4}\}$/gm)].map((match) => ({
    exact: match[1] !== undefined,
    path: match[2] ?? '',
    body: match[3] ?? '',
  }));
}

/** NGINX's choice for a URI among exact and plain prefix locations: exact first, then longest prefix. */
function route(text: string, uri: string): Location | undefined {
  const all = locations(text);
  return (
    all.find((location) => location.exact && location.path === uri) ??
    all
      .filter((location) => !location.exact && uri.startsWith(location.path))
      .sort((a, b) => b.path.length - a.path.length)[0]
  );
}

const upstreamOf = (location: Location | undefined) => /proxy_pass (\S+);/.exec(location?.body ?? '')?.[1];
const render = (wanted: OpenClawChannel[], v = '2026.8.2') =>
  renderNginxConfig({ version: v, channels: wanted }).text;

describe('renderNginxConfig', () => {
  it('listens on the ingress port 8080 and hides its version', () => {
    const text = render([]);
    expect(text).toMatch(/^ {4}listen 8080;$/m);
    expect(text).toMatch(/^ {4}server_tokens off;$/m);
  });

  it('bounds body size and every timeout', () => {
    const text = render(['telegram']);
    for (const directive of [
      'client_max_body_size 25m',
      'client_body_timeout 30s',
      'client_header_timeout 30s',
      'proxy_connect_timeout 5s',
      'proxy_read_timeout 60s',
    ]) {
      expect(text).toContain(`${directive};`);
    }
  });

  it("routes the Telegram webhook path to OpenClaw's Telegram listener when Telegram is on", () => {
    expect(upstreamOf(route(render(['telegram']), '/telegram-webhook'))).toBe('http://127.0.0.1:8787');
  });

  it("routes Teams' /api/messages to the Bot Framework listener when Teams is on", () => {
    expect(upstreamOf(route(render(['teams']), '/api/messages'))).toBe('http://127.0.0.1:3978');
  });

  it('accepts only POST on the webhook paths', () => {
    const webhook = route(render(['telegram', 'teams']), '/api/messages');
    expect(webhook?.body).toContain('limit_except POST { deny all; }');
  });

  it('sends a webhook path to the gateway when its channel is off', () => {
    const text = render([]);
    expect(upstreamOf(route(text, '/telegram-webhook'))).toBe('http://127.0.0.1:18789');
    expect(upstreamOf(route(text, '/api/messages'))).toBe('http://127.0.0.1:18789');
  });

  it('sends every other path to the gateway, including paths that only start like a webhook path', () => {
    fc.assert(
      fc.property(version, channels, fc.webPath(), (v, wanted, path) => {
        const text = render(wanted, v);
        const uri = path === '' ? '/' : path;
        fc.pre(uri !== '/telegram-webhook' && uri !== '/api/messages' && uri !== ADMIN_RPC_PATH);
        expect(upstreamOf(route(text, uri))).toBe('http://127.0.0.1:18789');
      }),
      { numRuns: 200 },
    );
    expect(upstreamOf(route(render(['telegram']), '/telegram-webhook/x'))).toBe('http://127.0.0.1:18789');
  });

  it('passes WebSocket upgrades through to the gateway with long-lived timeouts', () => {
    const text = render([]);
    const gateway = route(text, '/');
    expect(text).toMatch(/map \$http_upgrade \$connection_upgrade \{\s+default upgrade;\s+'' +close;\s+\}/);
    expect(gateway?.body).toContain('proxy_set_header Upgrade $http_upgrade;');
    expect(gateway?.body).toContain('proxy_set_header Connection $connection_upgrade;');
    expect(text).toContain('proxy_http_version 1.1;');
    expect(gateway?.body).toContain('proxy_read_timeout 3600s;');
  });

  it('keeps the admin RPC route off the internet', () => {
    const admin = route(render(['telegram', 'teams'], '2026.9.6'), ADMIN_RPC_PATH);
    expect(admin?.body.trim()).toBe('return 404;');
  });

  it('replaces, never appends to, the forwarded client address in every proxied location', () => {
    const text = render(['telegram', 'teams']);
    const proxied = locations(text).filter((location) => location.body.includes('proxy_pass'));
    expect(proxied).toHaveLength(3);
    for (const location of proxied) {
      expect(location.body).toContain('proxy_set_header X-Forwarded-For $remote_addr;');
    }
    expect(text).not.toContain('$proxy_add_x_forwarded_for');
    expect(text).not.toMatch(/set_real_ip_from 127\./);
  });

  it('holds no secret and no env reference', () => {
    fc.assert(
      fc.property(version, channels, (v, wanted) => {
        const text = render(wanted, v);
        for (const secret of Object.values(SECRET_VALUES)) expect(text).not.toContain(secret);
        expect(text.replace('server_tokens', '')).not.toMatch(/\$\{|token|secret|password|authorization/i);
      }),
    );
  });

  it("refuses to listen on the gateway's own port", () => {
    expect(() => renderNginxConfig({ version: '2026.8.2', channels: [], listenPort: 18789 })).toThrow(
      /18789/,
    );
  });
});
