import fc from 'fast-check';
import { RESERVED_SLUGS } from '../../shared/domain/slug.js';

const LETTERS = 'abcdefghijklmnopqrstuvwxyz';
const ALNUM = `${LETTERS}0123456789`;

/** Slugs built by the slug rules, so properties cover the whole valid space. */
export const validSlug = fc
  .tuple(
    fc.constantFrom(...LETTERS),
    fc.array(fc.oneof(fc.constantFrom(...ALNUM), fc.constant('-')), { minLength: 1, maxLength: 18 }),
    fc.constantFrom(...ALNUM),
  )
  .map(([head, body, tail]) => `${head}${body.join('')}${tail}`.replace(/-{2,}/g, '-'))
  .filter((slug) => slug.length >= 3 && slug.length <= 20 && !RESERVED_SLUGS.has(slug));
