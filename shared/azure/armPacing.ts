import type { PipelinePolicy, PipelineResponse } from '@azure/core-rest-pipeline';

/** A token bucket: `burst` tokens when full, refilled at `perSecond`. */
export interface BucketSize {
  burst: number;
  perSecond: number;
}

export type ArmRequestKind = 'read' | 'write' | 'delete';

/**
 * Who is asking: the foreground (provisioning, teardown, the API, approvals) or the background
 * (maintenance: rotations and SAS renewals started by the sweeps, which come in fleets).
 */
export type ArmPriority = 'foreground' | 'background';

/**
 * ARM's published per-principal limits (token buckets per subscription and principal): reads 250
 * burst and 25/s, writes and deletes 200 burst and 10/s each.
 */
export const ARM_LIMITS: Readonly<Record<ArmRequestKind, BucketSize>> = {
  read: { burst: 250, perSecond: 25 },
  write: { burst: 200, perSecond: 10 },
  delete: { burst: 200, perSecond: 10 },
};

/**
 * The local buckets hold this share of ARM's burst. ARM's bucket for a principal sits full (its
 * refill wasted) until the first request arrives, while the local one starts refilling when the
 * first token is taken; a request takes a TLS handshake and a trip to reach ARM, so an exact copy
 * runs a few tokens ahead of ARM and draws a 429 at the end of every burst. A tenth of the burst
 * (25 reads, 20 writes) covers a first-request lag of a second; the refill rate stays ARM's, so
 * steady-state throughput is not given up.
 */
export const BURST_HEADROOM = 0.9;

/**
 * The share of the local burst the background may not take: a fleet of rotations leaves this
 * much for a provisioning or an operator's request that comes in meanwhile.
 */
export const BACKGROUND_RESERVE = 0.1;

/**
 * A first-come, first-served token bucket with two classes: `take('foreground')` resolves in call
 * order as soon as a token is there; `take('background')` also in call order, but only while no
 * foreground request waits and the bucket holds more than `reserve` tokens.
 */
export class FifoTokenBucket {
  #tokens: number;
  #updatedAt: number;
  readonly #waiting: Record<ArmPriority, (() => void)[]> = { foreground: [], background: [] };
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly size: BucketSize & { reserve?: number },
    private readonly now: () => number = () => performance.now(),
  ) {
    this.#tokens = size.burst;
    this.#updatedAt = now();
  }

  take(priority: ArmPriority = 'foreground'): Promise<void> {
    return new Promise((resolve) => {
      this.#waiting[priority].push(resolve);
      this.#release();
    });
  }

  /**
   * What the service reports it has left, less what it may not have counted yet: the count drops
   * to it when lower (another instance under the same principal used tokens), never rises (the
   * local count is the more careful one).
   */
  lowerTo(remaining: number): void {
    this.#refill();
    this.#tokens = Math.min(this.#tokens, Math.max(remaining, -this.size.burst));
    this.#release();
  }

  #refill(): void {
    const now = this.now();
    this.#tokens = Math.min(
      this.size.burst,
      this.#tokens + ((now - this.#updatedAt) / 1000) * this.size.perSecond,
    );
    this.#updatedAt = now;
  }

  #release(): void {
    this.#refill();
    const { foreground, background } = this.#waiting;
    const reserve = this.size.reserve ?? 0;
    while (foreground.length > 0 && this.#tokens >= 1) {
      this.#tokens -= 1;
      foreground.shift()!();
    }
    while (foreground.length === 0 && background.length > 0 && this.#tokens >= 1 + reserve) {
      this.#tokens -= 1;
      background.shift()!();
    }
    const needed = foreground.length > 0 ? 1 : background.length > 0 ? 1 + reserve : undefined;
    if (needed !== undefined && this.#timer === undefined) {
      const waitMs = Math.max(1, Math.ceil(((needed - this.#tokens) / this.size.perSecond) * 1000));
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#release();
      }, waitMs);
    }
  }
}

const REMAINING_HEADERS = (kind: ArmRequestKind) => [
  `x-ms-ratelimit-remaining-subscription-${kind}s`,
  `x-ms-ratelimit-remaining-subscription-global-${kind}s`,
];

function kindOf(method: string): ArmRequestKind {
  if (method === 'GET' || method === 'HEAD') return 'read';
  return method === 'DELETE' ? 'delete' : 'write';
}

function remainingIn(response: PipelineResponse, kind: ArmRequestKind): number | undefined {
  for (const name of REMAINING_HEADERS(kind)) {
    const value = response.headers.get(name);
    if (value !== undefined && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  }
  return undefined;
}

/**
 * Paces one principal's ARM requests to ARM's own per-principal limits, first come, first served,
 * the foreground before the background.
 *
 * Why: when many provisions or a sweep's rotations run at once they all wait on the same token
 * buckets. Left to 429s alone, every waiting request retries after `Retry-After` and the few fresh
 * tokens go to whichever arrives first: random service, where a few unlucky requests wait many
 * times longer than the rest and hold their whole slug back, so the fleet ends long after the
 * throttle stopped being the limit. Taking a token from a local bucket of (nearly) ARM's size
 * before each try serves requests in order and keeps 429s rare.
 *
 * Closed loop: ARM reports on every answer what is left in the principal's bucket
 * (`x-ms-ratelimit-remaining-subscription-<kind>s`), which counts every instance of the broker and
 * anything else under its identity. The local count drops to that figure, less the requests still
 * in flight (ARM may not have counted them yet), so a second instance or a script under the same
 * principal slows this one down instead of meeting 429s. 429s are still honoured (`Retry-After`,
 * by the SDK's retry policy).
 */
export class ArmPacer {
  readonly #buckets: Record<ArmRequestKind, FifoTokenBucket>;
  readonly #inFlight: Record<ArmRequestKind, number> = { read: 0, write: 0, delete: 0 };

  constructor(limits: Readonly<Record<ArmRequestKind, BucketSize>> = ARM_LIMITS, now?: () => number) {
    const bucket = (size: BucketSize) => {
      const burst = Math.floor(size.burst * BURST_HEADROOM);
      return new FifoTokenBucket(
        { burst, perSecond: size.perSecond, reserve: Math.floor(burst * BACKGROUND_RESERVE) },
        now,
      );
    };
    this.#buckets = { read: bucket(limits.read), write: bucket(limits.write), delete: bucket(limits.delete) };
  }

  /** Requests of this kind sent and not yet answered. */
  inFlight(kind: ArmRequestKind): number {
    return this.#inFlight[kind];
  }

  /** A pipeline policy (per retry) that paces every try of a request at `priority`. */
  policy(priority: ArmPriority): PipelinePolicy {
    return {
      name: `clawBrokerArmPacing-${priority}`,
      sendRequest: async (request, next) => {
        const kind = kindOf(request.method);
        await this.#buckets[kind].take(priority);
        this.#inFlight[kind] += 1;
        try {
          const response = await next(request);
          const remaining = remainingIn(response, kind);
          // This request is counted in ARM's figure; the others in flight may not be yet.
          if (remaining !== undefined) this.#buckets[kind].lowerTo(remaining - (this.#inFlight[kind] - 1));
          return response;
        } finally {
          this.#inFlight[kind] -= 1;
        }
      },
    };
  }
}

const pacers = new Map<string, ArmPacer>();
let pacingTimeScale = 1;

/**
 * Runs this process's pacers `scale` times faster (refill rates, not bursts). Only for a simulated
 * Azure whose clock runs that much faster than the wall clock, throttle included (the benches,
 * sandbox/sim/latencyProfile.ts); Azure's own limits are in real time. Forgets existing pacers.
 */
export function setArmPacingTimeScale(scale: number): void {
  if (!Number.isFinite(scale) || scale <= 0)
    throw new RangeError(`The pacing time scale must be a positive number; got ${String(scale)}.`);
  pacingTimeScale = scale;
  pacers.clear();
}

/**
 * The process's pacer for one principal at one ARM endpoint and subscription: ARM's buckets are
 * per principal, so every client this process builds for the same identity shares one.
 */
export function armPacerFor(principal: string): ArmPacer {
  let pacer = pacers.get(principal);
  if (!pacer) {
    pacer = new ArmPacer(
      pacingTimeScale === 1
        ? ARM_LIMITS
        : {
            read: { ...ARM_LIMITS.read, perSecond: ARM_LIMITS.read.perSecond * pacingTimeScale },
            write: { ...ARM_LIMITS.write, perSecond: ARM_LIMITS.write.perSecond * pacingTimeScale },
            delete: { ...ARM_LIMITS.delete, perSecond: ARM_LIMITS.delete.perSecond * pacingTimeScale },
          },
    );
    pacers.set(principal, pacer);
  }
  return pacer;
}
