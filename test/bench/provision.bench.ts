import { readFileSync } from 'node:fs';
import type { RequestLogEntry } from '../../sandbox/sim/requestLog.js';
import type { SimSurface } from '../../sandbox/sim/surface.js';
import type { Simulator } from '../../sandbox/sim/simulator.js';
import type { TimelineEntry } from '../../sandbox/host/index.js';
import { armThrottleLimits } from '../../sandbox/sim/throttle.js';
import { STEP_DEPENDENCIES, type GraphStep } from '../../shared/provisioning/contracts.js';
import { ProvisionWorld } from '../scenario/provisionWorld.js';
import type { BenchResult } from './main.js';

/**
 * Provisioning against the simulator with realistic latencies, time-compressed: every ARM, Key
 * Vault and Graph request takes as long as it typically does in Azure, while long-running
 * operations and role propagation take seconds instead of minutes, in proportion to each other
 * (the Container Apps environment is by far the slowest, then the app, then RBAC propagation).
 *
 * Figures:
 * - one provision's wall time over the critical path of its steps: each step weighs the span of
 *   its activity executions (first start to last end, "not yet" waits included, since propagation
 *   is Azure's time, not the orchestration's); the critical path is prepare + the longest chain
 *   through STEP_DEPENDENCIES + finish. Target 1.1.
 * - ARM reads and writes of a fresh provision and of a re-run on the ready slug.
 * - 50 slugs provisioned at once under ARM's real per-principal throttle (writes 200 burst, 10/s;
 *   reads 250, 25/s), over the lower bound that throttle sets for the requests the fleet needed
 *   (or one provision's critical path, if longer), with the 429s received. Target 1.2. The host
 *   runs 256 activities and takes 32 queue messages at once (a Functions app scaled out to several
 *   instances); the broker paces its ARM requests to ARM's limits, first come, first served.
 */
const LATENCY_MS = { armRead: 80, armWrite: 200, keyVault: 35, graph: 120 };
const LRO_SECONDS: Record<string, number> = {
  '/managedEnvironments/cae-[^/]+$': 15,
  '/containerApps/ca-[^/]+$': 6,
  '/vaults/kv-[^/]+$': 2,
  '/storageAccounts/st[^/]+$': 1.5,
  '/workspaces/log-[^/]+$': 1,
};
const PROPAGATION_SECONDS = 8;
const FLEET = 50;
const GRAPH_STEPS = Object.keys(STEP_DEPENDENCIES) as GraphStep[];

export async function run(): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  // One world for every figure: the broker's configuration is read once per process. Its task hub
  // is the host's in-memory one: the Azurite-backed one writes its blobs one at a time and, with 50
  // instances, would measure the local host rather than the broker (Azure's task hub is
  // partitioned across workers). Queues and tables (intake, registry) stay on Azurite.
  const single = await startWorld();
  try {
    const token = await single.stageSecret('bench-one-1', botToken(0));
    const before = single.lastSeq();
    const view = await single.provision('bench-one', 'bench-one-1', {
      telegramBotToken: { secretRef: token },
    });
    if (view.status !== 'succeeded') throw new Error(`bench provision ${view.status}: ${view.reason ?? ''}`);
    const fresh = armCounts(single, before);
    const timing = criticalPath(single, 'bench-one-1');
    results.push({
      name: 'provision wall time',
      value: timing.wallMs / 1000,
      unit: 's',
      baseline: { name: 'critical path of its steps', value: timing.criticalMs / 1000 },
      target: 1.1,
    });
    console.log(`critical path: ${timing.path.join(' > ')}`);
    results.push({ name: 'ARM reads per fresh provision', value: fresh.reads, unit: 'requests' });
    results.push({ name: 'ARM writes per fresh provision', value: fresh.writes, unit: 'requests' });
    const rerunFrom = single.lastSeq();
    const again = await single.provision('bench-one', 'bench-one-2');
    if (again.status !== 'succeeded') throw new Error(`bench re-run ${again.status}: ${again.reason ?? ''}`);
    const rerun = armCounts(single, rerunFrom);
    results.push({ name: 'ARM reads per re-run on a ready slug', value: rerun.reads, unit: 'requests' });
    results.push({ name: 'ARM writes per re-run on a ready slug', value: rerun.writes, unit: 'requests' });
    results.push({
      name: 'provision wall time, re-run',
      value: wallMs(single.host.timeline('op:bench-one-2')) / 1000,
      unit: 's',
    });

    {
      const fleet = single;
      const slugs = Array.from({ length: FLEET }, (_, index) => `fleet-${index + 1}`);
      const refs = await Promise.all(
        slugs.map((slug, index) => fleet.stageSecret(`bench-${slug}`, botToken(index + 1))),
      );
      // The simulator keeps its last 5,000 requests; collect them as they come.
      const log: RequestLogEntry[] = [];
      let seen = fleet.lastSeq();
      const collect = () => {
        const fresh = fleet.requests(seen);
        log.push(...fresh.filter((entry) => entry.surface === 'arm'));
        seen = fresh.at(-1)?.seq ?? seen;
      };
      const collector = setInterval(collect, 500);
      const started = Date.now();
      await Promise.all(
        slugs.map((slug, index) =>
          fleet.requestProvision(slug, `bench-${slug}`, { telegramBotToken: { secretRef: refs[index]! } }),
        ),
      );
      const outcomes = await Promise.all(slugs.map((slug) => fleet.untilFinished(`bench-${slug}`, 900_000)));
      const elapsedMs = Date.now() - started;
      clearInterval(collector);
      collect();
      const failed = outcomes.filter((outcome) => outcome.status !== 'succeeded');
      if (failed.length > 0)
        throw new Error(`${failed.length} fleet provisions failed: ${failed[0]?.reason ?? ''}`);
      const passed = (kind: 'read' | 'write') =>
        log.filter(
          (entry) =>
            entry.status !== 429 && (kind === 'read') === (entry.method === 'GET' || entry.method === 'HEAD'),
        ).length;
      const writesAt = log
        .filter((entry) => entry.status !== 429 && entry.method !== 'GET' && entry.method !== 'HEAD')
        .map((entry) => Math.floor((Date.parse(entry.at) - started) / 10_000));
      const perTenSeconds = Array.from(
        { length: Math.ceil(elapsedMs / 10_000) },
        (_, window) => writesAt.filter((w) => w === window).length,
      );
      console.log(`ARM writes passed per 10 s window (the throttle allows 100): ${perTenSeconds.join(' ')}`);
      const startedAfter = outcomes
        .map((outcome) => (outcome as { startedAt?: string }).startedAt)
        .map((at) => (at ? Date.parse(at) - started : Number.NaN))
        .sort((a, b) => a - b);
      console.log(
        `operations started after (ms): first ${startedAfter[0]}, median ${startedAfter[FLEET >> 1]}, last ${startedAfter.at(-1)}`,
      );
      const last = [...outcomes].sort(
        (a, b) =>
          Date.parse((b as { finishedAt?: string }).finishedAt ?? '') -
          Date.parse((a as { finishedAt?: string }).finishedAt ?? ''),
      )[0]!;
      console.log(`the last slug to finish, ${last.requestId}: ${stepSpans(fleet, last.requestId, started)}`);
      const reads = passed('read');
      const writes = passed('write');
      const boundMs =
        Math.max(
          timing.criticalMs / 1000,
          (writes - armThrottleLimits.write.burst) / armThrottleLimits.write.perSecond,
          (reads - armThrottleLimits.read.burst) / armThrottleLimits.read.perSecond,
        ) * 1000;
      results.push({
        name: `${FLEET} slugs at once`,
        value: elapsedMs / 1000,
        unit: 's',
        baseline: { name: 'lower bound under the ARM throttle', value: boundMs / 1000 },
        target: 1.2,
      });
      results.push({
        name: `${FLEET} slugs: ARM reads / writes that passed`,
        value: reads,
        unit: `reads, ${writes} writes`,
      });
      results.push({
        name: `${FLEET} slugs: 429s received`,
        value: log.filter((entry) => entry.status === 429).length,
        unit: 'responses',
      });
    }
  } finally {
    await single.stop();
  }
  return results;
}

async function startWorld(): Promise<ProvisionWorld> {
  const hostJson = JSON.parse(readFileSync('host.json', 'utf8')) as {
    extensions: { durableTask: Record<string, unknown>; queues: Record<string, unknown> };
  };
  hostJson.extensions.durableTask['maxConcurrentActivityFunctions'] = 256;
  hostJson.extensions.durableTask['maxConcurrentOrchestratorFunctions'] = 256;
  // A scaled-out app takes queue messages on several instances at once.
  hostJson.extensions.queues['batchSize'] = 32;
  hostJson.extensions.queues['newBatchThreshold'] = 32;
  const world = await ProvisionWorld.start({
    simulator: { dataPlanePropagationSeconds: PROPAGATION_SECONDS, provisioningSeconds: 1 },
    settings: {
      // The production default: real long-running operations answer Retry-After, the simulator's do not.
      AZURE_LRO_POLL_INTERVAL_MS: '2000',
      AZURE_MAX_RETRIES: '20',
      PROVISION_PROPAGATION_TIMEOUT: '10m',
      PROVISION_READY_TIMEOUT: '10m',
    },
    host: { hostJson, storage: 'memory' },
  });
  for (const [path, seconds] of Object.entries(LRO_SECONDS)) {
    world.sim.admin.addFault({ kind: 'slowProvisioning', method: 'PUT', path, seconds });
  }
  addLatency(world.sim);
  return world;
}

/**
 * Adds service-side latency without changing the simulator: surfaces with longer prefixes than the
 * real ones (so the server offers requests to them first) that wait and then decline, passing the
 * request on. They carry the real surfaces' names, so throttling, faults and the request log treat
 * the requests as before.
 */
function addLatency(sim: Simulator): void {
  const delay = (ms: number) => new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), ms));
  const passThrough = (name: string, prefix: string, ms: (method: string) => number): SimSurface => ({
    name,
    prefix,
    handle: (req) => delay(ms(req.method)),
    snapshot: () => ({}),
  });
  sim.mount(
    passThrough('arm', '/subscriptions/', (method) =>
      method === 'GET' ? LATENCY_MS.armRead : LATENCY_MS.armWrite,
    ),
  );
  sim.mount(passThrough('keyvault', '/keyvault/kv-', () => LATENCY_MS.keyVault));
  sim.mount(passThrough('graph', '/graph/v1.0/', () => LATENCY_MS.graph));
}

function armCounts(world: ProvisionWorld, afterSeq: number): { reads: number; writes: number } {
  const arm = world.requests(afterSeq).filter((entry) => entry.surface === 'arm');
  return {
    reads: arm.filter((entry) => entry.method === 'GET').length,
    writes: arm.filter((entry) => entry.method !== 'GET').length,
  };
}

function wallMs(timeline: TimelineEntry[]): number {
  const start = timeline.find((entry) => entry.eventType === 'ExecutionStarted');
  const end = timeline.find((entry) => entry.eventType === 'ExecutionCompleted');
  if (!start || !end) throw new Error('the instance has not completed');
  return Date.parse(end.time) - Date.parse(start.time);
}

/**
 * Wall time (the instance's timeline) and the critical path over the steps' activity spans: from
 * the first "provision step started" to the last "provision step done" the step's activities
 * logged (host logs, stamped by the host when the activity body runs).
 */
function criticalPath(
  world: ProvisionWorld,
  requestId: string,
): { wallMs: number; criticalMs: number; path: string[] } {
  const spans = new Map<string, { start: number; end: number }>();
  for (const entry of world.host.logs) {
    const match = /^provision step (started|done) (\{.*\})$/.exec(entry.message);
    if (!match) continue;
    const fields = JSON.parse(match[2]!) as { step: string; requestId: string };
    if (fields.requestId !== requestId) continue;
    const at = Date.parse(entry.time);
    const span = spans.get(fields.step) ?? { start: at, end: at };
    spans.set(fields.step, { start: Math.min(span.start, at), end: Math.max(span.end, at) });
  }
  const weight = (step: string) => {
    const span = spans.get(step);
    if (!span) throw new Error(`no activity of step ${step} in the host logs`);
    return span.end - span.start;
  };
  const longest = new Map<GraphStep, { ms: number; path: GraphStep[] }>();
  const visit = (step: GraphStep): { ms: number; path: GraphStep[] } => {
    const known = longest.get(step);
    if (known) return known;
    const before = STEP_DEPENDENCIES[step]
      .map(visit)
      .reduce((best, candidate) => (candidate.ms > best.ms ? candidate : best), {
        ms: 0,
        path: [] as GraphStep[],
      });
    const result = { ms: before.ms + weight(step), path: [...before.path, step] };
    longest.set(step, result);
    return result;
  };
  const chain = GRAPH_STEPS.map(visit).reduce((best, candidate) =>
    candidate.ms > best.ms ? candidate : best,
  );
  return {
    wallMs: wallMs(world.host.timeline(`op:${requestId}`)),
    criticalMs: weight('prepare') + chain.ms + weight('finish'),
    path: ['prepare', ...chain.path, 'finish'],
  };
}

/** `step start–end` in seconds from `origin`, from the steps' host logs, in start order. */
function stepSpans(world: ProvisionWorld, requestId: string, origin: number): string {
  const spans = new Map<string, { start: number; end: number }>();
  for (const entry of world.host.logs) {
    const match = /^provision step (started|done|not yet done) (\{.*\})$/.exec(entry.message);
    if (!match) continue;
    const fields = JSON.parse(match[2]!) as { step: string; requestId: string };
    if (fields.requestId !== requestId) continue;
    const at = (Date.parse(entry.time) - origin) / 1000;
    const span = spans.get(fields.step) ?? { start: at, end: at };
    spans.set(fields.step, { start: Math.min(span.start, at), end: Math.max(span.end, at) });
  }
  return [...spans]
    .sort((a, b) => a[1].start - b[1].start)
    .map(([step, span]) => `${step} ${span.start.toFixed(1)}–${span.end.toFixed(1)}`)
    .join(', ');
}

function botToken(index: number): string {
  return `7000000042:AAH0bench${index.toString().padStart(4, '0')}FakeToken0123456789abcdef`;
}
