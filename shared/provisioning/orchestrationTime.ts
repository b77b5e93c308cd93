/**
 * `from` plus `ms`, as a new Date. Deterministic (no clock read), so orchestrations use it with
 * `context.df.currentUtcDateTime` to compute timer deadlines; they may not construct Dates
 * themselves (lint forbids `new Date` in orchestrations/).
 */
export function later(from: Date, ms: number): Date {
  return new Date(from.getTime() + ms);
}

/** Milliseconds from `earlier` to `later` (ISO strings or Dates). */
export function elapsedMs(earlier: Date | string, now: Date): number {
  return now.getTime() - (typeof earlier === 'string' ? Date.parse(earlier) : earlier.getTime());
}
