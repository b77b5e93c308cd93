import { randomUUID } from 'node:crypto';

/** What the gateway said to a token: took it, refused it, or could not answer (restarting). */
export type GatewayTokenAnswer =
  { answer: 'accepted' } | { answer: 'refused' } | { answer: 'unavailable'; reason: string };

const RPC_TIMEOUT_MS = 15_000;

/**
 * Asks the gateway's admin RPC (`POST <gateway><admin RPC path>`, the read-only `device.pair.list`) with
 * `token` as the bearer: 2xx means the gateway accepts the token, 401/403 that it refuses it; a
 * 503 (not running, restarting) or a network error means it cannot tell yet. The token goes only
 * into the Authorization header; nothing of it is returned or thrown.
 */
export async function askGatewayWithToken(
  rpcUrl: string,
  token: string,
  fetchImpl: typeof fetch = globalThis.fetch,
): Promise<GatewayTokenAnswer> {
  let response: Response;
  try {
    response = await fetchImpl(rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ id: randomUUID(), method: 'device.pair.list', params: {} }),
      signal: AbortSignal.timeout(RPC_TIMEOUT_MS),
    });
  } catch (error) {
    return {
      answer: 'unavailable',
      reason: `unreachable (${error instanceof Error ? error.name : 'Error'})`,
    };
  }
  await response.arrayBuffer();
  if (response.status >= 200 && response.status < 300) return { answer: 'accepted' };
  if (response.status === 401 || response.status === 403) return { answer: 'refused' };
  return { answer: 'unavailable', reason: `HTTP ${response.status}` };
}
