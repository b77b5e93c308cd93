/** The part of an SDK raw response the gate reads (`onResponse` hands one to every call). */
export interface ArmRawResponse {
  headers: { get(name: string): string | undefined };
}

export interface ArmWriteGateOptions {
  /** Writes to keep in ARM's bucket for everything else the broker does (provisioning, the API). */
  reserve: number;
  /** How fast ARM refills the bucket, per second (10 for writes). */
  refillPerSecond: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

const REMAINING_WRITES = 'x-ms-ratelimit-remaining-subscription-writes';

/**
 * Closed-loop pacing of maintenance's ARM writes. The sweeps pace the fleet's requests open-loop
 * (queue visibility); when work lags and then catches up, writes bunch and would drain ARM's
 * bucket. ARM reports what is left in it on every answer (`x-ms-ratelimit-remaining-subscription-
 * writes`, per principal, so it counts every instance of the broker); the gate remembers the last
 * figure, counts its own writes since, adds the refill, and holds a write while the estimate is
 * below the reserve. A 429 that still happens is retried by the SDK after its Retry-After.
 */
export class ArmWriteGate {
  #remaining = Number.POSITIVE_INFINITY;
  #at = 0;
  readonly #now: () => number;
  readonly #sleep: (ms: number) => Promise<void>;

  constructor(private readonly options: ArmWriteGateOptions) {
    this.#now = options.now ?? (() => performance.now());
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /** Pass as `onResponse` to the SDK call: reads ARM's remaining-writes figure. */
  readonly observe = (response: ArmRawResponse): void => {
    const remaining = Number(response.headers.get(REMAINING_WRITES));
    if (response.headers.get(REMAINING_WRITES) !== undefined && Number.isFinite(remaining)) {
      this.#remaining = remaining;
      this.#at = this.#now();
    }
  };

  /** Waits until ARM's bucket (as last reported, refilled since) holds more than the reserve, then takes one. */
  async beforeWrite(): Promise<void> {
    for (;;) {
      const estimate = this.#estimate();
      if (estimate > this.options.reserve) {
        this.#remaining = estimate - 1;
        this.#at = this.#now();
        return;
      }
      await this.#sleep(
        Math.ceil(((this.options.reserve + 1 - estimate) / this.options.refillPerSecond) * 1000),
      );
    }
  }

  #estimate(): number {
    return this.#remaining + ((this.#now() - this.#at) / 1000) * this.options.refillPerSecond;
  }
}
