import type { PipelinePolicy } from '@azure/core-rest-pipeline';

/** A token bucket: `burst` tokens when full, refilled at `perSecond`. */
export interface BucketSize {
  burst: number;
  perSecond: number;
}

/**
 * ARM's published per-principal limits (token buckets per subscription and principal): reads 250
 * burst and 25/s, writes and deletes 200 burst and 10/s each.
 */
export const ARM_LIMITS: Readonly<Record<'read' | 'write' | 'delete', BucketSize>> = {
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
 * A first-come, first-served token bucket: `take()` resolves in call order, each as soon as a
 * token is there.
 */
export class FifoTokenBucket {
  #tokens: number;
  #updatedAt: number;
  readonly #waiting: (() => void)[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly size: BucketSize,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.#tokens = size.burst;
    this.#updatedAt = now();
  }

  take(): Promise<void> {
    return new Promise((resolve) => {
      this.#waiting.push(resolve);
      this.#release();
    });
  }

  #release(): void {
    const now = this.now();
    this.#tokens = Math.min(
      this.size.burst,
      this.#tokens + ((now - this.#updatedAt) / 1000) * this.size.perSecond,
    );
    this.#updatedAt = now;
    while (this.#waiting.length > 0 && this.#tokens >= 1) {
      this.#tokens -= 1;
      this.#waiting.shift()!();
    }
    if (this.#waiting.length > 0 && this.#timer === undefined) {
      const waitMs = Math.ceil(((1 - this.#tokens) / this.size.perSecond) * 1000);
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#release();
      }, waitMs);
    }
  }
}

/**
 * Paces the broker's ARM requests to ARM's own per-principal limits, first come, first served.
 *
 * Why: when many provisions run at once they all wait on the same token buckets. Left to 429s
 * alone, every waiting request retries after `Retry-After` and the few fresh tokens go to whichever
 * arrives first: random service, where a few unlucky requests wait many times longer than the rest
 * and hold their whole slug back, so the fleet ends long after the throttle stopped being the limit.
 * Taking a token from a local bucket of (nearly) the same size before each try serves requests in order and
 * keeps 429s rare. 429s are still honoured (`Retry-After`, by the SDK's retry policy): this process
 * is not the only caller under the broker's principal when the app runs on several instances.
 */
export function armPacingPolicy(limits = ARM_LIMITS): PipelinePolicy {
  const bucket = (size: BucketSize) =>
    new FifoTokenBucket({ ...size, burst: Math.floor(size.burst * BURST_HEADROOM) });
  const buckets = {
    read: bucket(limits.read),
    write: bucket(limits.write),
    delete: bucket(limits.delete),
  };
  return {
    name: 'clawBrokerArmPacing',
    async sendRequest(request, next) {
      const kind =
        request.method === 'GET' || request.method === 'HEAD'
          ? 'read'
          : request.method === 'DELETE'
            ? 'delete'
            : 'write';
      await buckets[kind].take();
      return next(request);
    },
  };
}
