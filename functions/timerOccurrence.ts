import type { Timer } from '@azure/functions';

/**
 * The time a timer function runs for: the schedule's own record of this occurrence
 * (`lastUpdated`), never earlier than the wall clock. Request ids, due checks and cut-offs derive
 * from it, so a host on a manual clock (tests) moves them too.
 */
export function occurrenceTime(timer: Timer): Date {
  const updated = Date.parse(timer.scheduleStatus?.lastUpdated ?? '');
  return new Date(Number.isNaN(updated) ? Date.now() : Math.max(Date.now(), updated));
}
