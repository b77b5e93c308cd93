import { BrokerError, ErrorCodes } from '../errors.js';

export const SLUG_MIN_LENGTH = 3;
export const SLUG_MAX_LENGTH = 20;

/**
 * Slugs that would make a derived name ambiguous or reserved: `admins` would make the customer
 * group `shire-admins`, the operators' group; the others are words Azure refuses in resource names
 * or that read as the platform's own.
 */
export const RESERVED_SLUGS: ReadonlySet<string> = new Set([
  'admins',
  'admin',
  'broker',
  'azure',
  'microsoft',
  'windows',
  'login',
  'system',
  'default',
]);

export type Slug = string & { readonly __brand: 'Slug' };

export type SlugCheck = { ok: true; slug: Slug } | { ok: false; reason: string };

/**
 * A slug names one customer. Rules: 3-20 characters; lowercase ASCII letters, digits and single
 * hyphens; starts with a letter; ends with a letter or digit; not reserved. These are the
 * intersection of every Azure naming rule a derived name must meet (container apps, Key Vault,
 * storage, Entra mail nicknames), so any valid slug yields valid names everywhere.
 */
export function checkSlug(value: unknown): SlugCheck {
  if (typeof value !== 'string') return { ok: false, reason: 'a slug must be a string' };
  if (value.length < SLUG_MIN_LENGTH || value.length > SLUG_MAX_LENGTH) {
    return {
      ok: false,
      reason: `a slug has ${SLUG_MIN_LENGTH}-${SLUG_MAX_LENGTH} characters; "${printable(value)}" has ${value.length}`,
    };
  }
  if (!/^[a-z0-9-]+$/.test(value)) {
    return {
      ok: false,
      reason: `a slug uses only lowercase letters, digits and hyphens; "${printable(value)}" does not`,
    };
  }
  if (!/^[a-z]/.test(value)) return { ok: false, reason: `a slug starts with a letter; "${value}" does not` };
  if (!/[a-z0-9]$/.test(value))
    return { ok: false, reason: `a slug ends with a letter or digit; "${value}" does not` };
  if (value.includes('--'))
    return { ok: false, reason: `a slug has no consecutive hyphens; "${value}" does` };
  if (RESERVED_SLUGS.has(value)) return { ok: false, reason: `"${value}" is reserved` };
  return { ok: true, slug: value as Slug };
}

/** Returns the slug, or throws a SlugInvalid BrokerError that states the rule it breaks. */
export function parseSlug(value: unknown): Slug {
  const result = checkSlug(value);
  if (!result.ok) throw new BrokerError(ErrorCodes.SlugInvalid, `Invalid slug: ${result.reason}`);
  return result.slug;
}

function printable(value: string): string {
  const shown = value.length > 40 ? `${value.slice(0, 40)}…` : value;
  return shown.replace(/[^\x20-\x7e]/g, '?');
}
