import { describe, expect, it } from 'vitest';
import { ArmWriteGate } from '../../shared/sweeps/armWriteGate.js';

/** A gate on a fake clock whose sleeps move time; records every wait. */
function gateOnFakeTime(reserve: number, refillPerSecond: number) {
  let now = 0;
  const waits: number[] = [];
  const gate = new ArmWriteGate({
    reserve,
    refillPerSecond,
    now: () => now,
    sleep: (ms) => {
      waits.push(ms);
      now += ms;
      return Promise.resolve();
    },
  });
  const answer = (remaining: number | undefined) =>
    gate.observe({
      headers: {
        get: (name) =>
          name === 'x-ms-ratelimit-remaining-subscription-writes' && remaining !== undefined
            ? String(remaining)
            : undefined,
      },
    });
  return { gate, waits, answer, advance: (ms: number) => (now += ms) };
}

describe('the ARM write gate', () => {
  it('lets writes through while ARM has not said anything about its bucket', async () => {
    const { gate, waits } = gateOnFakeTime(10, 10);
    for (let i = 0; i < 50; i++) await gate.beforeWrite();
    expect(waits).toEqual([]);
  });

  it('holds writes once ARM reports its bucket down to the reserve, for as long as the refill takes', async () => {
    const { gate, waits, answer } = gateOnFakeTime(10, 10);
    answer(12);
    await gate.beforeWrite(); // 11 left after it
    await gate.beforeWrite(); // 10 left: at the reserve
    expect(waits).toEqual([]);
    await gate.beforeWrite();
    expect(waits).toEqual([100]);
  });

  it('counts time: a bucket reported low an hour ago has refilled', async () => {
    const { gate, waits, answer, advance } = gateOnFakeTime(10, 10);
    answer(0);
    advance(3_600_000);
    await gate.beforeWrite();
    expect(waits).toEqual([]);
  });

  it('ignores answers without the figure (reads, other services)', async () => {
    const { gate, waits, answer } = gateOnFakeTime(10, 10);
    answer(0);
    answer(undefined);
    await gate.beforeWrite();
    expect(waits).toEqual([1_100]);
  });
});
