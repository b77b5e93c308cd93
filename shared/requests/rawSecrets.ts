/**
 * The raw-secret detector: what a secret value pasted where a `{ secretRef }` belongs looks like.
 * Today that is a Telegram bot token (`<bot id>:<35 characters>`, https://core.telegram.org/bots/api#authorizing-your-bot).
 * It matches anywhere inside a string, not only a whole string, so a token inside a sentence
 * (`"reason": "token is 123456:AA..."`) is found too.
 *
 * The lookbehind lets a match start only at the beginning of a run of digits: without it, a long
 * run of digits makes the regex retry from every position (quadratic time on hostile input).
 */
const RAW_SECRET = /(?<!\d)\d{5,}:[A-Za-z0-9_-]{30,}/;
const RAW_SECRET_GLOBAL = new RegExp(RAW_SECRET.source, 'g');

/** What a masked secret is replaced with; it cannot itself match the detector. */
export const REDACTED = '[redacted]';

/** True when the text holds something that looks like a raw secret value. */
export function containsRawSecret(text: string): boolean {
  return RAW_SECRET.test(text);
}

/** The text with every raw-secret match replaced by `[redacted]`, and how many there were. */
export function redactRawSecrets(text: string): { text: string; masked: number } {
  let masked = 0;
  const redacted = text.replace(RAW_SECRET_GLOBAL, () => {
    masked += 1;
    return REDACTED;
  });
  return { text: redacted, masked };
}

/** The text with raw secrets masked (for reasons, paths and hints echoed from hostile input). */
export function redacted(text: string): string {
  return redactRawSecrets(text).text;
}
