import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkSlug, parseSlug, RESERVED_SLUGS } from '../../shared/domain/slug.js';
import { isBrokerError } from '../../shared/errors.js';
import { validSlug } from '../support/arbitraries.js';

describe('slug rules', () => {
  it('accepts every slug built by the rules', () => {
    fc.assert(fc.property(validSlug, (slug) => checkSlug(slug).ok));
  });

  it.each([
    ['ab', 'has 3-20 characters'],
    ['a'.repeat(21), 'has 3-20 characters'],
    ['Acme', 'only lowercase letters'],
    ['acme_co', 'only lowercase letters'],
    ['1acme', 'starts with a letter'],
    ['acme-', 'ends with a letter or digit'],
    ['ac--me', 'no consecutive hyphens'],
    ['admins', 'reserved'],
    ['acmé', 'only lowercase letters'],
  ])('rejects %j because a slug %s', (slug, reason) => {
    const result = checkSlug(slug);
    expect(result.ok).toBe(false);
    expect(result.ok ? '' : result.reason).toContain(reason);
  });

  it('rejects anything that is not a string', () => {
    expect(checkSlug(42)).toEqual({ ok: false, reason: 'a slug must be a string' });
  });

  it('rejects every string outside the rules with a reason', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 30 }), (text) => {
        const result = checkSlug(text);
        const byRules = /^[a-z](?!.*--)[a-z0-9-]{1,18}[a-z0-9]$/.test(text) && !RESERVED_SLUGS.has(text);
        return result.ok === byRules && (result.ok || result.reason.length > 0);
      }),
    );
  });

  it('throws a SlugInvalid broker error from parseSlug', () => {
    try {
      parseSlug('Bad Slug');
      expect.unreachable();
    } catch (error) {
      expect(isBrokerError(error) && error.code).toBe('SlugInvalid');
    }
  });
});
