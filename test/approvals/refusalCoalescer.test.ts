import { afterEach, describe, expect, it, vi } from 'vitest';
import { RefusalCoalescer, type CoalescedRefusals } from '../../shared/approvals/refusalCoalescer.js';

/** A flood of refusals of one kind costs one full record and one count per window (fake time). */
describe('the refusal coalescer', () => {
  afterEach(() => vi.useRealTimers());

  const onFakeTime = () => {
    vi.useFakeTimers({ now: 0 });
    const summaries: CoalescedRefusals[] = [];
    const coalescer = new RefusalCoalescer(
      (summary) => {
        summaries.push(summary);
        return Promise.resolve();
      },
      { windowMs: 60_000 },
    );
    return { coalescer, summaries };
  };

  it('records the first of a kind in full, counts the rest of the window, and records the count when it ends', async () => {
    const { coalescer, summaries } = onFakeTime();
    expect(await coalescer.first('wrong secret token')).toBe(true);
    expect(await coalescer.first('missing secret token')).toBe(true);
    for (let i = 0; i < 40; i++) {
      vi.setSystemTime(1_000 + i * 100);
      expect(await coalescer.first('wrong secret token')).toBe(false);
    }
    expect(summaries).toEqual([]);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(summaries).toEqual([
      { key: 'wrong secret token', count: 40, from: new Date(0), to: new Date(4_900) },
    ]);
    // A kind with nothing counted after its first adds no summary; the next window starts afresh.
    expect(await coalescer.first('wrong secret token')).toBe(true);
  });

  it('records a window the process slept through when the next refusal of its kind comes', async () => {
    const { coalescer, summaries } = onFakeTime();
    await coalescer.first('wrong secret token');
    await coalescer.first('wrong secret token');
    // The clock jumps without the timer running (an instance frozen between invocations).
    vi.setSystemTime(10 * 60_000);
    expect(await coalescer.first('wrong secret token')).toBe(true);
    expect(summaries).toEqual([{ key: 'wrong secret token', count: 1, from: new Date(0), to: new Date(0) }]);
    await coalescer.first('wrong secret token');
    await coalescer.flush();
    expect(summaries.map((summary) => summary.count)).toEqual([1, 1]);
  });
});
