import type { LocalHost } from '../../../sandbox/host/index.js';

/** Calls the Durable management API the way the durable client's webhook URLs do. */
export async function startInstance(
  host: LocalHost,
  name: string,
  instanceId: string,
  input?: unknown,
): Promise<Response> {
  return fetch(webhook(host, `/orchestrators/${name}/${encodeURIComponent(instanceId)}`), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    ...(input === undefined ? {} : { body: JSON.stringify(input) }),
  });
}

export async function raiseEvent(
  host: LocalHost,
  instanceId: string,
  eventName: string,
  data: unknown,
): Promise<Response> {
  return fetch(webhook(host, `/instances/${encodeURIComponent(instanceId)}/raiseEvent/${eventName}`), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(data),
  });
}

export function webhook(host: LocalHost, path: string): string {
  const separator = path.includes('?') ? '&' : '?';
  return `${host.baseUrl}/runtime/webhooks/durabletask${path}${separator}code=${host.systemKey}`;
}

/** Starts an instance and fails the test if the host refuses it. */
export async function start(
  host: LocalHost,
  name: string,
  instanceId: string,
  input?: unknown,
): Promise<void> {
  const response = await startInstance(host, name, instanceId, input);
  if (response.status !== 202)
    throw new Error(`start ${name} answered ${response.status}: ${await response.text()}`);
}
