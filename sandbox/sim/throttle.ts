/** ARM's request classes; each principal has one bucket per class. */
export type ThrottleClass = 'read' | 'write' | 'delete';

export interface BucketSize {
  /** Tokens the bucket holds when full. */
  burst: number;
  /** Tokens added per second. */
  perSecond: number;
}

/** Azure Resource Manager's token-bucket limits per subscription and principal. */
export const armThrottleLimits: Readonly<Record<ThrottleClass, BucketSize>> = {
  read: { burst: 250, perSecond: 25 },
  write: { burst: 200, perSecond: 10 },
  delete: { burst: 200, perSecond: 10 },
};

export interface ThrottleOptions {
  /** Multiplies burst and refill rate of every bucket, e.g. 0.01 for fast tests. */
  scale?: number;
  /** Replaces individual buckets (after scaling is ignored for these). */
  buckets?: Partial<Record<ThrottleClass, BucketSize>>;
  /**
   * Azure seconds per wall second (latencyProfile.ts): refill rates (not bursts) are multiplied by
   * it, so a time-compressed run meets the throttle as an uncompressed one would.
   */
  timeScale?: number;
}

export type ThrottleDecision =
  { allowed: true; remaining: number } | { allowed: false; retryAfterSeconds: number; remaining: 0 };

interface Bucket {
  tokens: number;
  refilledAt: number;
}

/**
 * Token buckets per (principal, class). Refill follows a monotonic wall clock, not simulated time:
 * throttling limits how fast a real client calls, and the client waits Retry-After in real seconds.
 */
export class ArmThrottle {
  private readonly sizes: Record<ThrottleClass, BucketSize>;
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    options: ThrottleOptions = {},
    private readonly monotonicNow: () => number = () => performance.now(),
  ) {
    const scale = options.scale ?? 1;
    const timeScale = options.timeScale ?? 1;
    const scaled = (size: BucketSize): BucketSize => ({
      burst: Math.max(1, Math.round(size.burst * scale)),
      perSecond: size.perSecond * scale,
    });
    const inTime = (size: BucketSize): BucketSize => ({ ...size, perSecond: size.perSecond * timeScale });
    this.sizes = {
      read: inTime(options.buckets?.read ?? scaled(armThrottleLimits.read)),
      write: inTime(options.buckets?.write ?? scaled(armThrottleLimits.write)),
      delete: inTime(options.buckets?.delete ?? scaled(armThrottleLimits.delete)),
    };
  }

  /** Takes one token for the principal's bucket, or says how long to wait for the next one. */
  take(principal: string, kind: ThrottleClass): ThrottleDecision {
    const size = this.sizes[kind];
    const key = `${principal}|${kind}`;
    const now = this.monotonicNow();
    const bucket = this.buckets.get(key) ?? { tokens: size.burst, refilledAt: now };
    bucket.tokens = Math.min(size.burst, bucket.tokens + ((now - bucket.refilledAt) / 1000) * size.perSecond);
    bucket.refilledAt = now;
    this.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true, remaining: Math.floor(bucket.tokens) };
    }
    const seconds = size.perSecond > 0 ? (1 - bucket.tokens) / size.perSecond : 3600;
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(seconds)), remaining: 0 };
  }

  snapshot(): Record<string, { tokens: number }> {
    return Object.fromEntries([...this.buckets].map(([key, bucket]) => [key, { tokens: bucket.tokens }]));
  }
}
