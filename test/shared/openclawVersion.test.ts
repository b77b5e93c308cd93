import { describe, expect, it } from 'vitest';
import {
  compareCalendarVersions,
  isCalendarVersion,
  isStableOpenClawVersion,
  parseOpenClawVersion,
} from '../../shared/domain/openclawVersion.js';

describe("OpenClaw's version scheme", () => {
  it('accepts real published versions, including patch numbers past 31 and corrections', () => {
    // All from `npm view openclaw versions --json`.
    for (const version of ['2026.9.6', '2026.7.33', '2026.7.1-1', '2026.7.1-2', '2026.6.11-beta.2']) {
      expect(isCalendarVersion(version), version).toBe(true);
    }
  });

  it('refuses what is not a version', () => {
    for (const version of [
      'latest',
      '2026.09.6',
      '2026.13.1',
      '2026.9',
      'v2026.9.6',
      '2026.9.6-rc.1',
      '2026.9.6-0',
    ]) {
      expect(isCalendarVersion(version), version).toBe(false);
    }
  });

  it('parses corrections and pre-releases', () => {
    expect(parseOpenClawVersion('2026.7.1-2')).toEqual({ year: 2026, month: 7, patch: 1, correction: 2 });
    expect(parseOpenClawVersion('2026.9.1-beta.1')).toEqual({
      year: 2026,
      month: 9,
      patch: 1,
      correction: 0,
      prerelease: { channel: 'beta', number: 1 },
    });
    expect(isStableOpenClawVersion('2026.7.1-1')).toBe(true);
    expect(isStableOpenClawVersion('2026.8.1-alpha.3')).toBe(false);
  });

  it('orders alpha < beta < release < corrections, and patches numerically', () => {
    const ordered = [
      '2026.6.35',
      '2026.7.1-alpha.1',
      '2026.7.1-beta.2',
      '2026.7.1-beta.10',
      '2026.7.1',
      '2026.7.1-1',
      '2026.7.1-2',
      '2026.7.2',
      '2026.7.33',
      '2026.10.1',
    ];
    expect([...ordered].reverse().sort(compareCalendarVersions)).toEqual(ordered);
  });
});
