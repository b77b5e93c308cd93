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
 * Asks the gateway's readiness path once. Ready only on a 2xx; a 503 (channels not up yet), a
 * redirect (the edge sign-in caught the path) or a network error are "not ready" with the reason,
 * for the caller to wait and ask again. Reads no secret and sends no credential.
 */
export async function probeGateway(url: string): Promise<GatewayReadiness> {
  try {
    const response = await fetch(url, {
      redirect: 'manual',
      signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
      headers: { accept: 'application/json' },
    });
    const text = await response.text();
    if (response.status >= 200 && response.status < 300) return { ready: true };
    let reason = `HTTP ${response.status}`;
    try {
      const body = JSON.parse(text) as { reason?: unknown; error?: unknown };
      const detail = body.reason ?? body.error;
      if (typeof detail === 'string') reason += `: ${detail.slice(0, 300)}`;
    } catch {
      // Not JSON (an HTML sign-in page, a proxy error): the status says enough.
    }
    return { ready: false, reason };
  } catch (error) {
    return {
      ready: false,
      reason: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
    };
  }
}
