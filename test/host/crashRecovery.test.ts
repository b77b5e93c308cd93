import { describe, expect, it } from 'vitest';
import { startLocalHost, type LocalHost } from '../../sandbox/host/index.js';
import { activityRuns } from './apps/sequence.js';
import { CrashingStore } from './support/crashingStore.js';
import { start } from './support/management.js';

const cities = ['Oslo', 'Lima', 'Kyiv'];

function hostOn(store: CrashingStore): Promise<LocalHost> {
  return startLocalHost({
    app: () => import('./apps/sequence.js'),
    storage: store,
    port: 0,
    taskHub: 'CrashHub',
    hostJson: {},
  });
}

describe('a host that dies after any single write to its store', () => {
  it('recovers every time, finishes the orchestration and re-runs only an activity whose result was lost', async () => {
    const reference = new CrashingStore();
    const clean = await hostOn(reference);
    await start(clean, 'greetCities', 'crash', cities);
    await clean.waitForInstance('crash');
    await clean.stop();
    const totalWrites = reference.writes;
    expect(totalWrites).toBeGreaterThan(10);

    for (let crashAt = 1; crashAt < totalWrites; crashAt++) {
      activityRuns.clear();
      const store = new CrashingStore();
      store.crashAfter(crashAt);
      const doomed = await hostOn(store);
      // The start request itself may be what hangs when the crash hits one of its writes.
      const starting = start(doomed, 'greetCities', 'crash', cities).catch(() => undefined);
      await store.crashed;
      await doomed.stop();
      await starting;

      store.recover();
      const survivor = await hostOn(store);
      try {
        if (!survivor.getStatus('crash')) await start(survivor, 'greetCities', 'crash', cities);
        const status = await survivor.waitForInstance('crash', { timeoutMs: 10_000 });
        expect(status.output, `crash after write ${crashAt}`).toEqual(cities.map((city) => `Hello ${city}`));
        // Only an activity whose result write was lost may (and must) run again.
        const lostResult = store.victim?.startsWith('putMessage result:') === true;
        expect(activityRuns.get('greet'), `crash at ${store.victim}`).toBe(
          cities.length + (lostResult ? 1 : 0),
        );
      } finally {
        await survivor.stop();
      }
    }
  });
});
