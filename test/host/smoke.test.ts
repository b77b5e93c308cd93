import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, startLocalHost, type LocalHost } from '../../sandbox/host/index.js';

describe('the local host runs a sequence', () => {
  let host: LocalHost;
  beforeAll(async () => {
    host = await startLocalHost({
      app: async () => {
        await import('./apps/clientApi.js');
        await import('./apps/sequence.js');
      },
      storage: 'memory',
      taskHub: 'SmokeHub',
      port: 0,
      clock: new ManualClock(),
    });
  });
  afterAll(async () => host.stop());

  it('completes an orchestration of three activities started over HTTP', async () => {
    const response = await fetch(`${host.baseUrl}/api/orchestrators/greetCities/smoke-1`, {
      method: 'POST',
      body: JSON.stringify(['Tokyo', 'Seattle', 'London']),
    });
    expect(response.status).toBe(202);
    const status = await host.waitForInstance('smoke-1');
    expect(status.runtimeStatus).toBe('Completed');
    expect(status.output).toEqual(['Hello Tokyo', 'Hello Seattle', 'Hello London']);
  });
});
