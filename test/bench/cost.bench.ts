/**
 * The broker's own cost at rest: a fleet of N slugs (10, 100 and 1,000; 5 at smoke size), ready and
 * with nothing due, for one day of the broker's timers: the rotation sweep (once a day), the SAS
 * sweep (every hour: 24 runs) and housekeeping (once a day), each run through the host's admin
 * endpoint as its timer would, one after the other, each awaited until the host is idle again.
 * Then the same for one rotation that is due, to price the maintenance every slug needs.
 *
 * Counted in this process (the broker runs in-process on the local host):
 * - storage transactions by service (queues, tables, blobs): every HTTP request to Azurite's ports,
 *   seen on Node's `http.client.request.start` diagnostics channel (Azurite cannot count them);
 * - function executions and their time: the Functions programming model's pre/post invocation hooks;
 * - ARM reads and Key Vault operations: the simulator's request log.
 * Not counted: the durable task hub's own transactions (the bench keeps it in memory; in Azure the
 * Azure Storage provider polls its control and work-item queues) and the queue triggers' idle
 * polling. Both are per app, not per slug; the README gives them from host.json and the docs.
 */
import { app } from '@azure/functions';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { ClientRequest } from 'node:http';
import { performance } from 'node:perf_hooks';
import { readFileSync } from 'node:fs';
import type { RequestLogEntry } from '../../sandbox/sim/requestLog.js';
import { loadConfig } from '../../shared/config.js';
import { BrokerStorage } from '../../shared/storage/brokerStorage.js';
import { EnvironmentRegistry } from '../../shared/storage/environmentRegistry.js';
import { seedFleet } from '../rotation/fleet.js';
import { ProvisionWorld } from '../scenario/provisionWorld.js';
import type { BenchOptions, BenchResult, BenchSize } from './runner.js';

export const timeLimitMs = (size: BenchSize) => (size === 'smoke' ? 300_000 : 3_600_000);

const FLEETS = { full: [10, 100, 1000], smoke: [5] };
const VERSION = '2026.9.6';
const DAY = 86_400_000;
/** A day of the broker's timers at their default schedules (config.ts, functions/housekeeping.ts). */
const DAY_OF_TIMERS = [
  { fn: 'rotationSweep', runs: 1 },
  { fn: 'sasSweep', runs: 24 },
  { fn: 'housekeeping', runs: 1 },
];

interface Counts {
  storage: Record<'queue' | 'table' | 'blob', number>;
  /** Queue receives (GET .../messages): work taken, and the local host's idle polling, which follows wall time. */
  queueReceives: number;
  executions: number;
  executionMs: number;
  byFunction: Record<string, number>;
  armReads: number;
  armWrites: number;
  keyVault: number;
}

export async function run(options: BenchOptions): Promise<BenchResult[]> {
  const hostJson = JSON.parse(readFileSync('host.json', 'utf8')) as Record<string, unknown>;
  const world = await ProvisionWorld.start({
    settings: {
      DURABLE_TASK_HUB: 'clawcostbench',
      SWEEPS_PAUSED: 'false',
      // Once a year: the bench runs each timer itself, a day's worth.
      ROTATION_SWEEP_SCHEDULE: '0 0 0 1 1 *',
      SAS_SWEEP_SCHEDULE: '0 0 0 1 1 *',
      ROTATION_VERIFY_INTERVAL: '1s',
      AZURE_LRO_POLL_INTERVAL_MS: '50',
    },
    simulator: { provisioningSeconds: 0 },
    host: { storage: 'memory', hostJson },
  });
  const meter = startMeter(world);
  try {
    const config = loadConfig(world.settings);
    const registry = new EnvironmentRegistry(new BrokerStorage(config));
    const results: BenchResult[] = [];
    let seeded = 0;
    for (const size of FLEETS[options.size]) {
      const slugs = Array.from(
        { length: size - seeded },
        (_, i) => `rest-${(seeded + i).toString().padStart(4, '0')}`,
      );
      // A day-old gateway token: nothing is due, as on most days for most slugs.
      await seedFleet({
        sim: world.sim,
        registry,
        salt: config.nameSalt,
        slugs,
        openclawVersion: VERSION,
        gatewayTokenAgeMs: DAY,
        sasExpiresInMs: 6 * DAY,
      });
      seeded = size;
      await world.host.waitForIdle();
      const day = await meter.measure(async () => {
        for (const timer of DAY_OF_TIMERS)
          for (let i = 0; i < timer.runs; i++) await runTimer(world, timer.fn);
      });
      console.log(`${size} slugs, a day at rest: ${JSON.stringify(day)}`);
      results.push(...figures(`${size} slugs at rest, one day`, day, size));
    }
    // One rotation that is due: the maintenance each slug needs once per gateway-token lifetime.
    const due = ['due-0000', 'due-0001', 'due-0002'];
    await seedFleet({
      sim: world.sim,
      registry,
      salt: config.nameSalt,
      slugs: due,
      openclawVersion: VERSION,
      gatewayTokenAgeMs: 31 * DAY,
      sasExpiresInMs: 6 * DAY,
    });
    await world.host.waitForIdle();
    const rotation = await meter.measure(async () => {
      await runTimer(world, 'rotationSweep');
      await untilRotated(registry, due);
    });
    console.log(`${due.length} due rotations (sweep included): ${JSON.stringify(rotation)}`);
    results.push(
      ...figures(`one due gateway-token rotation (of ${due.length}, sweep included)`, rotation, due.length),
    );
    return results;
  } finally {
    meter.stop();
    await world.stop();
  }
}

/** Counts per slug (or per rotation) as figures. */
function figures(what: string, counts: Counts, per: number): BenchResult[] {
  const each = (value: number) => value / per;
  return [
    {
      name: `${what}: queue transactions per slug, receives apart (${counts.queueReceives} receives in all, the local host's idle polling included)`,
      value: each(counts.storage.queue),
      unit: 'transactions',
    },
    { name: `${what}: table transactions per slug`, value: each(counts.storage.table), unit: 'transactions' },
    { name: `${what}: blob transactions per slug`, value: each(counts.storage.blob), unit: 'transactions' },
    {
      name: `${what}: function executions per slug (${Object.entries(counts.byFunction)
        .map(([fn, n]) => `${fn} ${n}`)
        .join(', ')})`,
      value: each(counts.executions),
      unit: 'executions',
    },
    { name: `${what}: function execution time per slug`, value: each(counts.executionMs) / 1000, unit: 's' },
    {
      name: `${what}: ARM reads per slug (${counts.armWrites} writes in all)`,
      value: each(counts.armReads),
      unit: 'requests',
    },
    { name: `${what}: Key Vault operations per slug`, value: each(counts.keyVault), unit: 'operations' },
  ];
}

/** Runs a timer function through the admin endpoint and waits until the host is idle again. */
async function runTimer(world: ProvisionWorld, fn: string): Promise<void> {
  const answer = await fetch(`${world.host.baseUrl}/admin/functions/${fn}`, {
    method: 'POST',
    headers: { 'x-functions-key': world.host.masterKey, 'content-type': 'application/json' },
    body: JSON.stringify({ input: {} }),
  });
  if (answer.status !== 202) throw new Error(`running ${fn} answered ${answer.status}`);
  // The admin endpoint answers before the function has run; give it a moment to start.
  await new Promise((resolve) => setTimeout(resolve, 100));
  await world.host.waitForIdle();
}

async function untilRotated(registry: EnvironmentRegistry, slugs: string[]): Promise<void> {
  const deadline = performance.now() + 120_000;
  for (;;) {
    const records = await Promise.all(slugs.map((slug) => registry.get(slug)));
    const rotated = records.filter((record) => {
      const at = record?.secretAges['gateway-token'];
      return at !== undefined && Date.now() - Date.parse(at) < DAY;
    });
    if (rotated.length === slugs.length) return;
    if (performance.now() > deadline)
      throw new Error(`only ${rotated.length} of ${slugs.length} due rotations finished`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/**
 * Counts storage requests (by Azurite port), function executions (invocation hooks) and the
 * simulator's ARM and Key Vault requests while `measure` runs its work.
 */
function startMeter(world: ProvisionWorld) {
  const ports = new Map<string, 'queue' | 'table' | 'blob'>([
    [new URL(world.azurite.queueEndpoint).host, 'queue'],
    [new URL(world.azurite.tableEndpoint).host, 'table'],
    [new URL(world.azurite.blobEndpoint).host, 'blob'],
  ]);
  let current: Counts | undefined;
  const onRequest = (message: unknown) => {
    const request = (message as { request: ClientRequest }).request;
    const service = ports.get(String(request.getHeader('host') ?? ''));
    if (!current || !service) return;
    if (service === 'queue' && request.method === 'GET' && /\/messages(\?|$)/.test(request.path))
      current.queueReceives += 1;
    else current.storage[service] += 1;
  };
  subscribe('http.client.request.start', onRequest);
  const starts = new WeakMap<object, number>();
  const pre = app.hook.preInvocation((context) => {
    starts.set(context.invocationContext, performance.now());
  });
  const post = app.hook.postInvocation((context) => {
    if (!current) return;
    const started = starts.get(context.invocationContext);
    const name = context.invocationContext.functionName;
    current.executions += 1;
    current.byFunction[name] = (current.byFunction[name] ?? 0) + 1;
    if (started !== undefined) current.executionMs += performance.now() - started;
  });
  return {
    async measure(work: () => Promise<void>): Promise<Counts> {
      const counts: Counts = {
        storage: { queue: 0, table: 0, blob: 0 },
        queueReceives: 0,
        executions: 0,
        executionMs: 0,
        byFunction: {},
        armReads: 0,
        armWrites: 0,
        keyVault: 0,
      };
      const log = collectRequests(world);
      current = counts;
      try {
        await work();
      } finally {
        current = undefined;
      }
      for (const entry of log.stop()) {
        if (entry.surface === 'arm' && entry.principal === world.sim.broker.objectId) {
          if (entry.method === 'GET' || entry.method === 'HEAD') counts.armReads += 1;
          else counts.armWrites += 1;
        }
        if (entry.surface === 'keyvault') counts.keyVault += 1;
      }
      return counts;
    },
    stop() {
      unsubscribe('http.client.request.start', onRequest);
      pre.dispose();
      post.dispose();
    },
  };
}

/** The simulator's request log as it grows (it keeps only its newest 5,000 entries). */
function collectRequests(world: ProvisionWorld): { stop(): RequestLogEntry[] } {
  const seen: RequestLogEntry[] = [];
  let last = world.lastSeq();
  const take = () => {
    const fresh = world.requests(last);
    if (fresh.length > 0) {
      if (fresh[0]!.seq !== last + 1)
        throw new Error('the simulator request log overflowed between two reads');
      seen.push(...fresh);
      last = fresh.at(-1)!.seq;
    }
  };
  const timer = setInterval(take, 200);
  return {
    stop() {
      clearInterval(timer);
      take();
      return seen;
    },
  };
}
