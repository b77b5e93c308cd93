import { createHash } from 'node:crypto';

/** Renewal at this fraction of the issued lifetime... */
export const RENEWAL_FRACTION = 2 / 3;
/** ...give or take this fraction of the lifetime, so a fleet issued together does not renew together. */
export const RENEWAL_JITTER = 0.05;

/**
 * When an issued SAS is due for renewal: `issuedAt + lifetime × (2/3 ± 5%)`, where the lifetime is
 * the one actually issued (`expiresAt − issuedAt`), never a configured margin. The result is
 * strictly after `issuedAt` and strictly before `expiresAt` for any positive lifetime, however
 * short, so renewal can neither loop (renew again at once) nor come after expiry. The jitter is
 * deterministic in (slug, expiresAt): computing it again gives the same time.
 */
export function sasRenewalDue(input: { slug: string; issuedAt: string; expiresAt: string }): string {
  const issued = Date.parse(input.issuedAt);
  const expires = Date.parse(input.expiresAt);
  const lifetime = expires - issued;
  if (!Number.isFinite(lifetime) || lifetime <= 0) {
    throw new RangeError(
      `a SAS must expire after it is issued (issued ${input.issuedAt}, expires ${input.expiresAt})`,
    );
  }
  const digest = createHash('sha256').update(`${input.slug}\n${input.expiresAt}`).digest();
  const unit = digest.readUInt32BE(0) / 0x1_0000_0000; // [0, 1)
  const fraction = RENEWAL_FRACTION + (unit * 2 - 1) * RENEWAL_JITTER;
  // Whole milliseconds, and at least one after issue and one before expiry, even for a 2 ms lifetime.
  const offset = Math.min(lifetime - 1, Math.max(1, Math.floor(lifetime * fraction)));
  return new Date(issued + offset).toISOString();
}

/**
 * When a failed renewal may be tried again: the wait doubles with each failure from `initialMs` up
 * to `maxMs`, but never beyond half the time the current SAS has left, so attempts keep coming
 * before it expires (and after expiry, every `initialMs`).
 */
export function sasRetryAt(input: {
  now: string;
  failures: number;
  initialMs: number;
  maxMs: number;
  currentExpiresAt?: string | undefined;
}): string {
  const now = Date.parse(input.now);
  let wait = Math.min(input.maxMs, input.initialMs * 2 ** Math.max(0, input.failures - 1));
  if (input.currentExpiresAt) {
    const left = Date.parse(input.currentExpiresAt) - now;
    wait = Math.min(wait, Math.max(input.initialMs, Math.floor(left / 2)));
  }
  return new Date(now + wait).toISOString();
}
