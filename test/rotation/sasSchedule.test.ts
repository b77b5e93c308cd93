import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sasRenewalDue, sasRetryAt } from '../../shared/sas/sasSchedule.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

describe('when a SAS is renewed', () => {
  it('is about two thirds into the lifetime actually issued, give or take 5%', () => {
    const issuedAt = '2026-03-01T00:00:00.000Z';
    const expiresAt = new Date(Date.parse(issuedAt) + 7 * DAY).toISOString();
    const due = Date.parse(sasRenewalDue({ slug: 'acme', issuedAt, expiresAt }));
    const fraction = (due - Date.parse(issuedAt)) / (7 * DAY);
    expect(fraction).toBeGreaterThanOrEqual(2 / 3 - 0.05);
    expect(fraction).toBeLessThanOrEqual(2 / 3 + 0.05);
  });

  it('follows a shorter issued lifetime (a key that expired early), not the configured one', () => {
    const issuedAt = '2026-03-01T00:00:00.000Z';
    const expiresAt = '2026-03-02T00:00:00.000Z';
    const due = Date.parse(sasRenewalDue({ slug: 'acme', issuedAt, expiresAt }));
    expect(due - Date.parse(issuedAt)).toBeLessThan(DAY * 0.72);
    expect(due - Date.parse(issuedAt)).toBeGreaterThan(DAY * 0.6);
  });

  it('falls strictly between issue and expiry for every lifetime, however short, so renewal cannot loop', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 3, maxLength: 20 }),
        fc.integer({ min: Date.parse('2026-01-01T00:00:00Z'), max: Date.parse('2030-01-01T00:00:00Z') }),
        fc.integer({ min: 2, max: 7 * DAY }),
        (slug, issued, lifetime) => {
          const issuedAt = new Date(issued).toISOString();
          const expiresAt = new Date(issued + lifetime).toISOString();
          const due = Date.parse(sasRenewalDue({ slug, issuedAt, expiresAt }));
          return due > issued && due < issued + lifetime;
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('gives the same time when asked again, and spreads a fleet issued together', () => {
    const issuedAt = '2026-03-01T00:00:00.000Z';
    const expiresAt = '2026-03-08T00:00:00.000Z';
    const times = Array.from({ length: 50 }, (_, i) =>
      sasRenewalDue({ slug: `slug-${i}`, issuedAt, expiresAt }),
    );
    expect(sasRenewalDue({ slug: 'slug-7', issuedAt, expiresAt })).toBe(times[7]);
    expect(new Set(times).size).toBeGreaterThan(40);
  });

  it('refuses a SAS that expires before it is issued', () => {
    expect(() =>
      sasRenewalDue({ slug: 'acme', issuedAt: '2026-03-02T00:00:00Z', expiresAt: '2026-03-01T00:00:00Z' }),
    ).toThrow(/must expire after it is issued/);
  });
});

describe('when a failed renewal is tried again', () => {
  const base = { now: '2026-03-05T00:00:00.000Z', initialMs: 30 * MINUTE, maxMs: 12 * HOUR };
  const wait = (failures: number, currentExpiresAt?: string) =>
    Date.parse(sasRetryAt({ ...base, failures, currentExpiresAt })) - Date.parse(base.now);

  it('waits twice as long after each failure, up to the maximum', () => {
    expect([1, 2, 3, 4, 5, 6, 10].map((failures) => wait(failures) / MINUTE)).toEqual([
      30, 60, 120, 240, 480, 720, 720,
    ]);
  });

  it('never waits past half the time the current SAS has left, so attempts come before it expires', () => {
    const expiresIn4h = new Date(Date.parse(base.now) + 4 * HOUR).toISOString();
    expect(wait(6, expiresIn4h)).toBe(2 * HOUR);
    const expired = new Date(Date.parse(base.now) - HOUR).toISOString();
    expect(wait(6, expired)).toBe(30 * MINUTE);
  });
});
