/** What one look at a gateway's readiness probe found. */
export type GatewayReadiness = { ready: true } | { ready: false; reason: string };

const PROBE_TIMEOUT_MS = 10_000;

/**
 * The URL the broker reaches a gateway's probe at: `template` (OPENCLAW_GATEWAY_URL_TEMPLATE, by
 * default `https://{fqdn}`) with `{fqdn}` and `{app}` filled in, plus the version's probe path.
 */
export function gatewayProbeUrl(template: string, app: { fqdn: string; name: string }, path: string): string {
  const base = template.replaceAll('{fqdn}', app.fqdn).replaceAll('{app}', encodeURIComponent(app.name));
  return `${base.replace(/\/+$/, '')}${path}`;
}

/**
 * Asks the gateway's readiness path once. Ready only on a 2xx whose JSON body says `ready: true`, as
 * the real gateway's `/readyz` does (`{"ready":true,"failing":[]}`): its Control UI answers 200 with
 * an HTML page on any path it does not know, so a status alone would pass a wrong path, a proxy or a
 * version without the probe. A 503 (`{"ready":false,"failing":["startup-sidecars"]}` while it starts,
 * a channel's name while that channel cannot reach its service), a redirect (the edge sign-in caught
 * the path) or a network error are "not ready" with the reason, for the caller to wait and ask
 * again. Reads no secret and sends no credential.
 */
export async function probeGateway(url: string): Promise<GatewayReadiness> {
  try {
    const response = await fetch(url, {
      redirect: 'manual',
      signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
      headers: { accept: 'application/json' },
    });
    const text = await response.text();
    let body: { ready?: unknown; failing?: unknown; reason?: unknown; error?: unknown } | undefined;
    try {
      const parsed: unknown = JSON.parse(text);
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed;
    } catch {
      // Not JSON (the Control UI's page, a sign-in page, a proxy error): never ready.
    }
    const ok = response.status >= 200 && response.status < 300;
    if (ok && body?.ready === true) return { ready: true };
    let reason = `HTTP ${response.status}`;
    if (ok) reason += body ? ' without ready: true' : ' without a JSON readiness body';
    const failing = Array.isArray(body?.failing)
      ? body.failing.filter((item): item is string => typeof item === 'string')
      : [];
    const detail = failing.length > 0 ? `failing ${failing.join(', ')}` : (body?.reason ?? body?.error);
    if (typeof detail === 'string' && detail !== '') reason += `: ${detail.slice(0, 300)}`;
    return { ready: false, reason };
  } catch (error) {
    return {
      ready: false,
      reason: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
    };
  }
}
