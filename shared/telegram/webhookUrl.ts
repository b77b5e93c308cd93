/**
 * Why the broker will not register `url` as the webhook, or undefined: Telegram sends the webhook
 * secret to it with every update, so it must be https (Telegram itself requires that) and on this
 * app's own host or a host named in TELEGRAM_WEBHOOK_HOSTS (a proxy in front of the app), without
 * credentials in it.
 */
export function webhookUrlProblem(
  url: string,
  requestUrl: string,
  allowedHosts: readonly string[],
): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'the webhook URL is not a URL';
  }
  if (parsed.protocol !== 'https:')
    return 'the webhook URL must be https: the secret token travels with every update';
  if (parsed.username || parsed.password) return 'the webhook URL must not carry credentials';
  const own = new URL(requestUrl).host.toLowerCase();
  const host = parsed.host.toLowerCase();
  if (host !== own && !allowedHosts.includes(host)) {
    return `the webhook URL's host ${host.slice(0, 100)} is neither this app's host (${own}) nor in TELEGRAM_WEBHOOK_HOSTS`;
  }
  return undefined;
}
