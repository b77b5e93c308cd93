import { CronExpressionParser } from 'cron-parser';
import type { HostClock } from '../clock.js';
import { parseTimeSpan } from '../hostConfig.js';
import type { HostLogger } from '../logger.js';
import { messageOf } from '../../../shared/errors.js';

export interface TimerSchedulerOptions {
  functionName: string;
  /** 6-field NCRONTAB ("{second} {minute} {hour} {day} {month} {day-of-week}") or a TimeSpan. */
  schedule: string;
  runOnStartup: boolean;
  clock: HostClock;
  log: HostLogger;
  invoke(input: TimerInput): Promise<void>;
}

/** The timer binding value after the worker camel-cases it. */
export interface TimerInput {
  schedule: { adjustForDST: boolean };
  scheduleStatus: { last: string; next: string; lastUpdated: string };
  isPastDue: boolean;
}

/**
 * A timer trigger driven by the host clock. Occurrences are computed in UTC from the previous due
 * time, so advancing a ManualClock past several occurrences fires each one in order; like the
 * Functions host, one invocation runs at a time.
 */
export class TimerTriggerScheduler {
  readonly #options: TimerSchedulerOptions;
  readonly #next: (after: number) => number;
  #cancel: (() => void) | undefined;
  #running = false;
  #stopped = false;
  #last: number;

  constructor(options: TimerSchedulerOptions) {
    this.#options = options;
    this.#next = nextOccurrenceFunction(options.schedule);
    this.#last = options.clock.now();
  }

  get busy(): boolean {
    return this.#running;
  }

  start(): void {
    const now = this.#options.clock.now();
    if (this.#options.runOnStartup) void this.#fire(now, false);
    else this.#arm(this.#next(now));
  }

  stop(): void {
    this.#stopped = true;
    this.#cancel?.();
  }

  #arm(due: number): void {
    if (this.#stopped) return;
    this.#cancel = this.#options.clock.schedule(due, () => void this.#fire(due, true));
  }

  async #fire(due: number, scheduled: boolean): Promise<void> {
    if (this.#stopped) return;
    this.#running = true;
    const now = this.#options.clock.now();
    const next = this.#next(Math.max(due, now));
    const input: TimerInput = {
      schedule: { adjustForDST: true },
      scheduleStatus: {
        last: new Date(this.#last).toISOString(),
        next: new Date(next).toISOString(),
        lastUpdated: new Date(now).toISOString(),
      },
      isPastDue: scheduled && now - due > 1000,
    };
    try {
      await this.#options.invoke(input);
    } catch (error) {
      this.#options.log({
        time: new Date(this.#options.clock.now()).toISOString(),
        level: 'error',
        category: 'timer',
        message: `${this.#options.functionName} failed: ${messageOf(error)}`,
      });
    } finally {
      this.#last = due;
      this.#running = false;
      this.#arm(next);
    }
  }
}

/** Returns a function giving the first occurrence strictly after a time (epoch ms). */
export function nextOccurrenceFunction(schedule: string): (after: number) => number {
  const trimmed = schedule.trim();
  if (/^\d/.test(trimmed) && trimmed.includes(':') && !trimmed.includes(' ')) {
    const interval = parseTimeSpan(trimmed);
    if (interval <= 0) throw new Error(`Timer schedule "${schedule}" must be a positive interval.`);
    return (after) => after + interval;
  }
  const fields = trimmed.split(/\s+/);
  if (fields.length !== 6) {
    throw new Error(
      `Timer schedule "${schedule}" must be a 6-field NCRONTAB expression ` +
        '("{second} {minute} {hour} {day} {month} {day-of-week}").',
    );
  }
  CronExpressionParser.parse(trimmed, { tz: 'UTC' });
  return (after) =>
    CronExpressionParser.parse(trimmed, { currentDate: new Date(after), tz: 'UTC' })
      .next()
      .getTime();
}
