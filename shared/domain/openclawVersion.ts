/** OpenClaw uses calendar versions: year.month.day, without leading zeros (2026.9.6). */
const CALENDAR_VERSION = /^(20\d{2})\.([1-9]|1[0-2])\.([1-9]|[12]\d|3[01])$/;

export function isCalendarVersion(value: string): boolean {
  return CALENDAR_VERSION.test(value);
}

/** Orders two calendar versions; negative when a is older than b. */
export function compareCalendarVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const diff = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return 0;
}
