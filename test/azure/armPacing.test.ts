import { createHttpHeaders, createPipelineRequest, type PipelineResponse } from '@azure/core-rest-pipeline';
import { afterAll, beforeAll, afterEach, describe, expect, it, vi } from 'vitest';
import { ArmPacer, FifoTokenBucket, type ArmPriority } from '../../shared/azure/armPacing.js';
import { startAzureFixture, type AzureFixture } from './azureFixture.js';

/**
 * Pacing the broker's ARM requests to ARM's per-principal limits: a first-come, first-served token
 * bucket with a background class (fake time); the pacer's closed loop on ARM's remaining figure;
 * and against the simulator's real throttle, no 429 where an unpaced client gets them.
 */
describe('the FIFO token bucket', () => {
  afterEach(() => vi.useRealTimers());

  const onFakeTime = (size: { burst: number; perSecond: number; reserve?: number }) => {
    vi.useFakeTimers();
    let now = 0;
    const bucket = new FifoTokenBucket(size, () => now);
    const served: [string, number][] = [];
    const take = (label: string, priority: ArmPriority = 'foreground') =>
      void bucket.take(priority).then(() => served.push([label, now]));
    const advance = async (ms: number) => {
      for (let step = 0; step < ms; step += 50) {
        now += 50;
        await vi.advanceTimersByTimeAsync(50);
      }
    };
    return { bucket, served, take, advance, settle: () => vi.advanceTimersByTimeAsync(0) };
  };

  it('lets a burst through at once, then one request per refill, in the order they asked', async () => {
    const { served, take, advance, settle } = onFakeTime({ burst: 2, perSecond: 4 });
    for (let index = 0; index < 5; index++) take(String(index));
    await settle();
    expect(served).toEqual([
      ['0', 0],
      ['1', 0],
    ]);
    await advance(750);
    expect(served).toEqual([
      ['0', 0],
      ['1', 0],
      ['2', 250],
      ['3', 500],
      ['4', 750],
    ]);
  });

  it('serves the background only above its reserve, and after every waiting foreground request', async () => {
    const { served, take, advance, settle } = onFakeTime({ burst: 4, perSecond: 4, reserve: 2 });
    take('b1', 'background');
    take('b2', 'background');
    take('b3', 'background'); // would leave fewer than the reserve of 2
    take('f1');
    await settle();
    expect(served).toEqual([
      ['b1', 0],
      ['b2', 0],
      ['f1', 0],
    ]);
    take('f2'); // one token left: the foreground may take it
    await settle();
    expect(served.map(([label]) => label)).toEqual(['b1', 'b2', 'f1', 'f2']);
    take('f3');
    await advance(1_000);
    // f3 at the first token (250 ms); b3 only once the bucket holds the reserve and one more.
    expect(served.slice(4)).toEqual([
      ['f3', 250],
      ['b3', 1_000],
    ]);
  });

  it('drops to what the service reports it has left, and never rises to it', async () => {
    const { bucket, served, take, advance, settle } = onFakeTime({ burst: 10, perSecond: 10 });
    bucket.lowerTo(0);
    take('a');
    await settle();
    expect(served).toEqual([]);
    await advance(100);
    expect(served).toEqual([['a', 100]]);
    bucket.lowerTo(1_000);
    for (const label of ['b', 'c']) take(label);
    await settle();
    expect(served).toEqual([['a', 100]]);
  });
});

describe('the ARM pacer', () => {
  const answering =
    (remaining: () => string | undefined) =>
    (request: ReturnType<typeof createPipelineRequest>): Promise<PipelineResponse> => {
      const value = remaining();
      return Promise.resolve({
        request,
        status: 200,
        headers: createHttpHeaders(
          value === undefined ? {} : { 'x-ms-ratelimit-remaining-subscription-writes': value },
        ),
      });
    };
  const put = () => createPipelineRequest({ url: 'https://management.example/x', method: 'PUT' });

  it('slows down when ARM reports its bucket drained by another caller under the same principal', async () => {
    const pacer = new ArmPacer();
    const policy = pacer.policy('foreground');
    await policy.sendRequest(
      put(),
      answering(() => '0'),
    );
    let sent = 0;
    const writes = Array.from({ length: 3 }, () =>
      policy.sendRequest(put(), (request) => (sent++, answering(() => undefined)(request))),
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(sent).toBe(0); // a local count alone would have had 179 writes left
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(sent).toBeGreaterThanOrEqual(2); // ARM refills 10 writes a second
    await Promise.all(writes);
  });

  it('counts what is still in flight against what ARM reports, and ignores answers without the figure', async () => {
    const pacer = new ArmPacer();
    const policy = pacer.policy('foreground');
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const slow = Array.from({ length: 5 }, () =>
      policy.sendRequest(put(), async (request) => {
        await held;
        return answering(() => undefined)(request);
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(pacer.inFlight('write')).toBe(5);
    // ARM says 5 are left, but the 5 in flight may not be in that figure: nothing is left.
    await policy.sendRequest(
      put(),
      answering(() => '5'),
    );
    let sent = false;
    const next = policy.sendRequest(put(), (request) => ((sent = true), answering(() => undefined)(request)));
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(sent).toBe(false);
    release();
    await Promise.all([...slow, next]);
    expect(sent).toBe(true);
    expect(pacer.inFlight('write')).toBe(0);
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

  it('learns from ARM’s figure that an unpaced caller drained the bucket, and meets no 429 after one read', async () => {
    // The unpaced burst above left ARM's bucket near empty while this process's count refilled.
    // The one read may itself meet a 429 (nothing told this process yet); its answer carries the figure.
    await t.azure.resources.resourceGroups.get('claw-paced');
    expect(await burstOfReads(t.azure, 60)).toBe(0);
  });
});
