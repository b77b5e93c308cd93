import type { SimClock } from './surface.js';

/** How simulated time moves: only when told (`manual`), or with the wall clock (`real`). */
export type SimClockMode = 'manual' | 'real';

export interface SimClockOptions {
  mode?: SimClockMode;
  /** Simulated epoch milliseconds at start; defaults to the wall clock at start. */
  startAt?: number;
}

/** A clock the simulator owns. `advance` moves it forward in both modes; it never goes back. */
export interface ControllableSimClock extends SimClock {
  readonly mode: SimClockMode;
  advance(milliseconds: number): number;
  /** The current simulated time as an ISO 8601 string. */
  isoNow(): string;
  /** How far `advance` has moved the clock in total, in milliseconds. */
  advancedMs(): number;
}

/**
 * Creates the simulator's clock. In `manual` mode time stands still until `advance` is called, so
 * tests decide exactly when provisioning finishes, a grant propagates or a SAS expires. In `real`
 * mode (the sandbox) it follows the wall clock plus whatever was advanced.
 */
export function createSimClock(options: SimClockOptions = {}): ControllableSimClock {
  const mode = options.mode ?? 'manual';
  const wallAtStart = Date.now();
  const startAt = options.startAt ?? wallAtStart;
  let advanced = 0;
  const now = () => startAt + advanced + (mode === 'real' ? Date.now() - wallAtStart : 0);
  return {
    mode,
    now,
    isoNow: () => new Date(now()).toISOString(),
    advancedMs: () => advanced,
    advance(milliseconds: number) {
      if (!Number.isFinite(milliseconds) || milliseconds < 0) {
        throw new RangeError(`The clock only moves forward; got ${String(milliseconds)} ms.`);
      }
      advanced += milliseconds;
      return now();
    },
  };
}
