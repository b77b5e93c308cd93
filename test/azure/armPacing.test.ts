import { afterAll, beforeAll, afterEach, describe, expect, it, vi } from 'vitest';
import { FifoTokenBucket } from '../../shared/azure/armPacing.js';
import { startAzureFixture, type AzureFixture } from './azureFixture.js';

/**
 * Pacing the broker's ARM requests to ARM's per-principal limits: a first-come, first-served token
 * bucket (fake time), and against the simulator's real throttle, no 429 where an unpaced client
 * gets them.
 */
describe('the FIFO token bucket', () => {
  afterEach(() => vi.useRealTimers());

  it('lets a burst through at once, then one request per refill, in the order they asked', async () => {
    vi.useFakeTimers();
    let now = 0;
    const bucket = new FifoTokenBucket({ burst: 2, perSecond: 4 }, () => now);
    const served: [number, number][] = [];
    for (let index = 0; index < 5; index++) void bucket.take().then(() => served.push([index, now]));
    await vi.advanceTimersByTimeAsync(0);
    expect(served).toEqual([
      [0, 0],
      [1, 0],
    ]);
    for (const step of [250, 250, 250]) {
      now += step;
      await vi.advanceTimersByTimeAsync(step);
    }
    expect(served).toEqual([
      [0, 0],
      [1, 0],
      [2, 250],
      [3, 500],
      [4, 750],
    ]);
  });
});

describe('ARM pacing against the simulated throttle', () => {
  let t: AzureFixture;

  beforeAll(async () => {
    t = await startAzureFixture();
    await t.azure.resources.resourceGroups.createOrUpdate('claw-paced', { location: 'westeurope' });
  });

  afterAll(async () => {
    await t?.sim.stop();
  });

  const burstOfReads = async (clients: AzureFixture['azure'], count: number) => {
    const before = t.lastSeq();
    await Promise.all(
      Array.from({ length: count }, () => clients.resources.resourceGroups.get('claw-paced')),
    );
    return t.requests(before).filter((entry) => entry.status === 429).length;
  };

  it('stays inside ARM’s read limit when asking for more than its burst, with no 429', async () => {
    expect(await burstOfReads(t.azure, 270)).toBe(0);
  });

  it('meets 429s without pacing (the throttle is real), and still gets every answer by honouring Retry-After', async () => {
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // let both buckets refill a little
    expect(
      await burstOfReads(t.clients({ AZURE_ARM_PACING: 'false', AZURE_MAX_RETRIES: '20' }), 280),
    ).toBeGreaterThan(0);
  });
});
