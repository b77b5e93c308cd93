/** What a window of coalesced refusals of one kind adds up to. */
export interface CoalescedRefusals {
  key: string;
  /** Refusals after the first in the window: counted, not recorded one by one. */
  count: number;
  from: Date;
  to: Date;
}

interface Window {
  startedAt: number;
  count: number;
  lastAt: number;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/**
 * Coalesces a flood of refusals of one kind (a webhook hammered with forged calls): the first of
 * each kind in a window is recorded in full, the rest of the window only counted, and the count is
 * recorded once when the window ends, by a timer or, if the process slept through it, by the next
 * refusal. So a flood costs one write per kind per window instead of one per call, and no refusal
 * goes uncounted while the process lives.
 */
export class RefusalCoalescer {
  readonly #windows = new Map<string, Window>();

  constructor(
    private readonly writeSummary: (summary: CoalescedRefusals) => Promise<void>,
    private readonly options: {
      windowMs: number;
      now?: () => number;
      onError?: (error: unknown) => void;
    },
  ) {}

  /**
   * True when this refusal is the first of its kind in the current window (record it in full);
   * false when it was counted into the window.
   */
  async first(key: string): Promise<boolean> {
    const now = this.#now();
    const open = this.#windows.get(key);
    if (open && now - open.startedAt < this.options.windowMs) {
      open.count += 1;
      open.lastAt = now;
      return false;
    }
    if (open) await this.#close(key, open);
    const window: Window = { startedAt: now, count: 0, lastAt: now, timer: undefined };
    window.timer = setTimeout(() => {
      if (this.#windows.get(key) === window)
        this.#close(key, window).catch((error: unknown) => this.options.onError?.(error));
    }, this.options.windowMs);
    window.timer.unref?.();
    this.#windows.set(key, window);
    return true;
  }

  /** Records every open window's count now (at shutdown, or in tests). */
  async flush(): Promise<void> {
    for (const [key, window] of [...this.#windows]) await this.#close(key, window);
  }

  async #close(key: string, window: Window): Promise<void> {
    clearTimeout(window.timer);
    if (this.#windows.get(key) === window) this.#windows.delete(key);
    if (window.count === 0) return;
    await this.writeSummary({
      key,
      count: window.count,
      from: new Date(window.startedAt),
      to: new Date(window.lastAt),
    });
  }

  #now(): number {
    return (this.options.now ?? Date.now)();
  }
}
