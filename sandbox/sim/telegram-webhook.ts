import { request as httpRequest, type Agent } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** The part of `fetch` a webhook delivery needs; the global `fetch` fits. */
export type WebhookFetch = (
  url: string,
  init: { method: string; headers: Record<string, string>; body: string },
) => Promise<{ status: number; text(): Promise<string> }>;

/** How the simulated Telegram reaches the bot's webhook. */
export interface WebhookTransportOptions {
  /** Deliver through this fetch instead of node:http/node:https (e.g. one with a custom dispatcher). */
  fetch?: WebhookFetch;
  /** Agent for node:http/node:https deliveries (an https.Agent for https webhooks). */
  agent?: Agent;
  /** Trusted CA certificate(s) for an https webhook with a self-signed certificate. */
  ca?: string | Buffer | Array<string | Buffer>;
  /** Give up on a webhook that does not answer; defaults to 10 s. */
  timeoutMs?: number;
}

export interface WebhookAnswer {
  status: number;
  statusText: string;
  body: string;
}

const DEFAULT_TIMEOUT_MS = 10_000;

/** POSTs one JSON body to the webhook and reports its answer; rejects on a transport failure. */
export async function postToWebhook(
  url: string,
  headers: Record<string, string>,
  body: string,
  options: WebhookTransportOptions,
): Promise<WebhookAnswer> {
  if (options.fetch) {
    const response = await options.fetch(url, { method: 'POST', headers, body });
    return { status: response.status, statusText: '', body: await response.text() };
  }
  const target = new URL(url);
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<WebhookAnswer>((resolve, reject) => {
    const req = send(
      target,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        ...(options.agent ? { agent: options.agent } : {}),
        ...(options.ca ? { ca: options.ca } : {}),
        timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            statusText: res.statusMessage ?? '',
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('Read timeout expired')));
    req.on('error', reject);
    req.end(body);
  });
}
