import { describe, expect, it } from 'vitest';
import { sandboxRetrySeconds } from '../../sandbox/world.js';

/**
 * `npm run sandbox -- --propagation <s>` must change how long a provision takes: the broker waits
 * for propagation on durable timers at PROVISION_RETRY_INTERVAL, whose 30 s default would round
 * any shorter propagation up to 30 s a wait. The sandbox polls at a sixth of the propagation.
 */
describe('the sandbox retry interval', () => {
  it('follows --propagation, within 1-30 s', () => {
    expect(sandboxRetrySeconds()).toBe(5);
    expect(sandboxRetrySeconds(30)).toBe(5);
    expect(sandboxRetrySeconds(5)).toBe(1);
    expect(sandboxRetrySeconds(0)).toBe(1);
    expect(sandboxRetrySeconds(120)).toBe(20);
    expect(sandboxRetrySeconds(600)).toBe(30);
  });
});
