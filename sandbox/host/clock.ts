/**
 * The host's notion of time. Durable timers, timer triggers, queue retry delays and the
 * `OrchestratorStarted` timestamps (hence `context.df.currentUtcDateTime`) all read it, so a test can
 * skip hours in microseconds with a {@link ManualClock}; the sandbox uses the {@link SystemClock}.
 */
export interface HostClock {
  now(): number;
  /** Calls `callback` once the clock reaches `at` (epoch ms). Returns a function that cancels it. */
  schedule(at: number, callback: () => void): () => void;
}

/** Real time. Long delays are chained so timers beyond setTimeout's 24.8-day limit still fire. */
export class SystemClock implements HostClock {
  now(): number {
    return Date.now();
  }

  schedule(at: number, callback: () => void): () => void {
    let handle: NodeJS.Timeout | undefined;
    let cancelled = false;
    const arm = () => {
      if (cancelled) return;
      const delay = at - Date.now();
      if (delay <= 0) {
        handle = setTimeout(callback, 0);
      } else {
        handle = setTimeout(arm, Math.min(delay, 2 ** 31 - 1));
      }
      handle.unref();
    };
    arm();
    return () => {
      cancelled = true;
      if (handle) clearTimeout(handle);
    };
  }
}

interface ScheduledCallback {
  at: number;
  seq: number;
  callback: () => void;
}

/**
 * Simulated time that only moves when a test says so. `advance` walks through every callback due in
 * the window in time order, moving `now()` to each one's due time and letting the attached hosts
 * settle (finish the work the callback caused) before the next one, so a retry timer created by a
 * failure inside the window also fires inside it. Results do not depend on machine speed.
 */
export class ManualClock implements HostClock {
  #now: number;
  #seq = 0;
  #pending: ScheduledCallback[] = [];
  #settlers = new Set<() => Promise<void>>();

  constructor(start: number | Date | string = '2026-01-01T00:00:00.000Z') {
    this.#now = typeof start === 'number' ? start : new Date(start).getTime();
  }

  now(): number {
    return this.#now;
  }

  schedule(at: number, callback: () => void): () => void {
    const entry: ScheduledCallback = { at, seq: this.#seq++, callback };
    this.#pending.push(entry);
    return () => {
      this.#pending = this.#pending.filter((candidate) => candidate !== entry);
    };
  }

  /** Moves time forward by `ms`, firing due callbacks in order and letting hosts settle after each. */
  async advance(ms: number): Promise<void> {
    if (ms < 0) throw new RangeError('ManualClock cannot go backwards.');
    await this.advanceTo(this.#now + ms);
  }

  /** Moves time to `time` (epoch ms, Date or ISO string); see {@link advance}. */
  async advanceTo(time: number | Date | string): Promise<void> {
    const target = typeof time === 'number' ? time : new Date(time).getTime();
    if (target < this.#now) throw new RangeError('ManualClock cannot go backwards.');
    await this.#settle();
    for (;;) {
      const next = this.#nextDue(target);
      if (!next) break;
      this.#pending = this.#pending.filter((candidate) => candidate !== next);
      this.#now = Math.max(this.#now, next.at);
      next.callback();
      await this.#settle();
    }
    this.#now = target;
    await this.#settle();
  }

  /** Number of callbacks waiting (timers, schedules, retry delays). */
  get pendingCount(): number {
    return this.#pending.length;
  }

  /** Due time of the earliest waiting callback, if any. */
  get nextDueTime(): number | undefined {
    return this.#pending.reduce<number | undefined>(
      (earliest, entry) => (earliest === undefined || entry.at < earliest ? entry.at : earliest),
      undefined,
    );
  }

  /** @internal Hosts attach their waitForIdle so advance() lets work finish between callbacks. */
  attachSettler(settle: () => Promise<void>): () => void {
    this.#settlers.add(settle);
    return () => this.#settlers.delete(settle);
  }

  #nextDue(target: number): ScheduledCallback | undefined {
    let best: ScheduledCallback | undefined;
    for (const entry of this.#pending) {
      if (entry.at > target) continue;
      if (!best || entry.at < best.at || (entry.at === best.at && entry.seq < best.seq)) best = entry;
    }
    return best;
  }

  async #settle(): Promise<void> {
    for (const settle of [...this.#settlers]) await settle();
  }
}

export function isManualClock(clock: HostClock): clock is ManualClock {
  return clock instanceof ManualClock;
}
