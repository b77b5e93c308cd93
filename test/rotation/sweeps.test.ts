import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../shared/config.js';
import { createLogger } from '../../shared/logger.js';
import { rotationPolicy } from '../../shared/maintenance/rotationPolicy.js';
import type { EnvironmentRecord, EnvironmentRegistry } from '../../shared/storage/environmentRegistry.js';
import type { RequestStore } from '../../shared/storage/requestStore.js';
import type { SweepControl, SweepPause } from '../../shared/sweeps/sweepControl.js';
import {
  ARM_WRITES,
  paceRequests,
  planRotationSweep,
  planSasSweep,
  rotationRequestId,
  sasRequestId,
} from '../../shared/sweeps/sweepPlanner.js';
import { runSweep, withRetryAfter } from '../../shared/sweeps/sweepRunner.js';
import { testSettings } from '../support/settings.js';

const DAY = 86_400_000;
const NOW = new Date('2026-06-15T03:00:00.000Z');
const ago = (days: number) => new Date(NOW.getTime() - days * DAY).toISOString();
const config = loadConfig(testSettings());
const policy = rotationPolicy(config);

function record(slug: string, overrides: Partial<EnvironmentRecord> = {}): EnvironmentRecord {
  return {
    slug,
    state: 'ready',
    incarnation: 1,
    owners: [],
    secretAges: {
      'gateway-token': ago(1),
      'storage-key': ago(1),
      'entra-client-secret': ago(1),
      'telegram-bot-token': ago(1),
    },
    createdAt: ago(100),
    updatedAt: ago(1),
    etag: '*',
    ...overrides,
  };
}

describe('the rotation sweep plan', () => {
  it('enqueues one request per slug with a secret past its age, named by slug and day', () => {
    const plan = planRotationSweep(
      [
        record('fresh'),
        record('stale', {
          secretAges: { 'gateway-token': ago(31), 'storage-key': ago(91), 'entra-client-secret': ago(1) },
        }),
      ],
      NOW,
      policy,
    );
    expect(plan.due).toEqual([
      {
        requestId: 'rotate:stale:2026-06-15',
        op: 'rotate-secrets',
        slug: 'stale',
        reason: `gateway-token since ${ago(31)}, storage-key since ${ago(91)}`,
        armWrites: ARM_WRITES['gateway-token'] + ARM_WRITES['storage-key'],
      },
    ]);
    expect(plan.left).toEqual([{ slug: 'fresh', reason: 'nothing due' }]);
    expect(rotationRequestId('stale', new Date('2026-06-15T23:59:59Z'))).toBe('rotate:stale:2026-06-15');
  });

  it('leaves out environments that are not ready or opted out', () => {
    const old = { 'gateway-token': ago(40) };
    const plan = planRotationSweep(
      [
        record('busy', { state: 'updating', secretAges: old }),
        record('quiet', { secretAges: old, maintenance: { optOut: { at: ago(2), by: 'ops' } } }),
      ],
      NOW,
      policy,
    );
    expect(plan.due).toEqual([]);
    expect(plan.left).toEqual([
      { slug: 'busy', reason: 'environment is updating' },
      { slug: 'quiet', reason: `opted out of sweeps at ${ago(2)}` },
    ]);
  });

  it('flags a bot token once per age, and looks at a skipped secret again a policy period after the skip', () => {
    const flagged = record('bot', {
      secretAges: { 'telegram-bot-token': ago(200) },
      maintenance: { flags: { 'telegram-bot-token': { flaggedAt: ago(10), reason: 'old' } } },
    });
    const skipped = record('skip', {
      secretAges: { 'entra-client-secret': ago(400) },
      maintenance: { skipped: { 'entra-client-secret': { at: ago(20), reason: 'policy' } } },
    });
    expect(planRotationSweep([flagged, skipped], NOW, policy).due).toEqual([]);
    const unflagged = record('bot2', { secretAges: { 'telegram-bot-token': ago(200) } });
    expect(planRotationSweep([unflagged], NOW, policy).due.map((request) => request.reason)).toEqual([
      `telegram-bot-token since ${ago(200)}`,
    ]);
  });
});

describe('the SAS sweep plan', () => {
  const lifetime = 7 * DAY;
  it('renews a missing SAS, one past its renewal time, and nothing else', () => {
    const plan = planSasSweep(
      [
        record('none'),
        record('due', { sasExpiresAt: ago(-2), maintenance: { sasRenewAt: ago(0.5) } }),
        record('early', { sasExpiresAt: ago(-5), maintenance: { sasRenewAt: ago(-1) } }),
      ],
      NOW,
      lifetime,
    );
    expect(plan.due.map((request) => [request.requestId, request.armWrites])).toEqual([
      ['sas:none:1:none:0', ARM_WRITES.firstSas],
      [
        `sas:due:1:${ago(-2)
          .replace(/[-:]/g, '')
          .replace(/\.\d+Z$/, 'Z')}:0`,
        ARM_WRITES.sasRenewal,
      ],
    ]);
    expect(plan.left).toEqual([{ slug: 'early', reason: 'not due' }]);
  });

  it('waits out a failed renewal’s back-off, then names the next attempt apart', () => {
    const failing = record('failing', {
      sasExpiresAt: ago(-1),
      maintenance: { sasRenewAt: ago(2), sasRenewal: { failures: 2, retryAt: ago(-0.1), lastError: 'x' } },
    });
    expect(planSasSweep([failing], NOW, lifetime).due).toEqual([]);
    const ready = {
      ...failing,
      maintenance: {
        ...failing.maintenance,
        sasRenewal: { failures: 2, retryAt: ago(0.01), lastError: 'x' },
      },
    };
    expect(planSasSweep([ready], NOW, lifetime).due.map((request) => request.requestId)).toEqual([
      sasRequestId(ready),
    ]);
    expect(sasRequestId(ready)).toMatch(/:2$/);
  });
});

describe('pacing under the ARM write budget', () => {
  it('lets the burst go at once and spaces the rest at the refill rate', () => {
    const requests = Array.from({ length: 6 }, () => ({ armWrites: 2 }));
    expect(paceRequests(requests, { burst: 5, writesPerSecond: 2 }).map((entry) => entry.delayMs)).toEqual([
      0, 0, 500, 1500, 2500, 3500,
    ]);
  });

  it('keeps every prefix of the fleet within the budget’s token bucket', () => {
    const requests = Array.from({ length: 1000 }, (_, i) => ({ armWrites: 1 + (i % 7) }));
    const budget = { burst: 180, writesPerSecond: 9 };
    let writes = 0;
    for (const { request, delayMs } of paceRequests(requests, budget)) {
      writes += request.armWrites;
      expect(writes).toBeLessThanOrEqual(budget.burst + (delayMs / 1000) * budget.writesPerSecond + 1e-9);
    }
  });
});

describe('a sweep run', () => {
  const records = [
    record('due-a', { secretAges: { 'gateway-token': ago(40) } }),
    record('due-b', { secretAges: { 'gateway-token': ago(40) } }),
  ];
  function fakes(pause?: SweepPause, settings: Record<string, string> = {}) {
    const sent: { text: string; visibilityTimeout?: number | undefined }[] = [];
    const stored = new Map<string, { enqueued?: boolean; admitted: boolean }>();
    const deps = {
      config: loadConfig(testSettings(settings)),
      registry: { list: () => Promise.resolve(records) } as unknown as EnvironmentRegistry,
      requests: {
        record: (request: { requestId: string }) => {
          const existing = stored.get(request.requestId);
          if (existing)
            return Promise.resolve({
              kind: 'existing',
              record: { ...existing, requestId: request.requestId },
            });
          const created = { admitted: false };
          stored.set(request.requestId, created);
          return Promise.resolve({ kind: 'created', record: { ...created, requestId: request.requestId } });
        },
        update: (requestId: string, fields: { enqueued?: boolean }) => {
          stored.set(requestId, { ...stored.get(requestId)!, ...fields });
          return Promise.resolve();
        },
      } as unknown as RequestStore,
      control: { get: () => Promise.resolve(pause) } as unknown as SweepControl,
      queue: () =>
        Promise.resolve({
          sendMessage: (text: string, options?: { visibilityTimeout?: number }) => {
            sent.push({ text, visibilityTimeout: options?.visibilityTimeout });
            return Promise.resolve({});
          },
        }),
      log: createLogger({ log: () => undefined, warn: () => undefined, error: () => undefined }),
    };
    return { deps, sent };
  }

  it('enqueues each due request once as a timer request, and nothing when run again', async () => {
    const { deps, sent } = fakes();
    const first = await runSweep('rotation', NOW, deps);
    expect(first.enqueued.map((entry) => entry.requestId)).toEqual([
      'rotate:due-a:2026-06-15',
      'rotate:due-b:2026-06-15',
    ]);
    expect(JSON.parse(sent[0]!.text)).toMatchObject({
      schemaVersion: 1,
      op: 'rotate-secrets',
      slug: 'due-a',
      params: {},
      requestedBy: { kind: 'timer', id: 'rotation-sweep' },
      requestedAt: NOW.toISOString(),
    });
    const second = await runSweep('rotation', NOW, deps);
    expect(second.enqueued).toEqual([]);
    expect(second.known).toHaveLength(2);
    expect(sent).toHaveLength(2);
  });

  it('logs one environment snapshot per live slug on the SAS sweep, for the fleet workbook and the SAS alert', async () => {
    const { deps } = fakes();
    const lines: string[] = [];
    deps.log = createLogger({
      log: (line) => void lines.push(String(line)),
      warn: () => undefined,
      error: () => undefined,
    });
    deps.registry = {
      list: () =>
        Promise.resolve([
          record('live', { openclawVersion: '2026.9.6', sasExpiresAt: ago(-0.5) }),
          record('gone', { state: 'deleted' }),
        ]),
    } as unknown as EnvironmentRegistry;
    await runSweep('sas', NOW, deps);
    const snapshots = lines.filter((line) => line.startsWith('environment snapshot '));
    expect(snapshots).toHaveLength(1);
    expect(JSON.parse(snapshots[0]!.slice('environment snapshot '.length))).toEqual({
      slug: 'live',
      state: 'ready',
      openclawVersion: '2026.9.6',
      sasExpiresAt: ago(-0.5),
      sasHoursLeft: 12,
      oldestSecretDays: 1,
    });
    lines.length = 0;
    await runSweep('rotation', NOW, deps);
    expect(lines.filter((line) => line.startsWith('environment snapshot '))).toEqual([]);
  });

  it('enqueues nothing while paused by configuration or by the stored switch, and says why', async () => {
    const byConfig = fakes(undefined, { SWEEPS_PAUSED: 'true' });
    expect((await runSweep('sas', NOW, byConfig.deps)).paused).toBe('SWEEPS_PAUSED is set in configuration');
    const bySwitch = fakes({ paused: true, by: 'alice', at: ago(1), reason: 'freeze' });
    expect((await runSweep('rotation', NOW, bySwitch.deps)).paused).toBe(
      `paused by alice at ${ago(1)}: freeze`,
    );
    expect([...byConfig.sent, ...bySwitch.sent]).toEqual([]);
  });

  it('delays requests past the write budget with the queue’s visibility timeout', async () => {
    const { deps, sent } = fakes(undefined, {
      SWEEP_ARM_WRITE_BURST: '2',
      SWEEP_ARM_WRITES_PER_SECOND: '0.5',
    });
    const report = await runSweep('rotation', NOW, deps);
    expect(report.enqueued.map((entry) => entry.delaySeconds)).toEqual([0, 4]);
    expect(sent.map((message) => message.visibilityTimeout)).toEqual([undefined, 4]);
  });
});

describe('enqueueing under Storage throttling', () => {
  it('waits what Retry-After says before trying again', async () => {
    const waits: number[] = [];
    let calls = 0;
    const throttled = Object.assign(new Error('busy'), {
      statusCode: 503,
      response: { headers: { get: (name: string) => (name === 'retry-after' ? '3' : undefined) } },
    });
    const result = await withRetryAfter(
      () => (++calls < 3 ? Promise.reject(throttled) : Promise.resolve('sent')),
      (ms) => {
        waits.push(ms);
        return Promise.resolve();
      },
    );
    expect(result).toBe('sent');
    expect(waits).toEqual([3000, 3000]);
  });

  it('gives up on other errors at once', async () => {
    const refused = Object.assign(new Error('forbidden'), { statusCode: 403 });
    await expect(
      withRetryAfter(
        () => Promise.reject(refused),
        () => Promise.resolve(),
      ),
    ).rejects.toBe(refused);
  });
});
