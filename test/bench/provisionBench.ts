import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { teardownFleet } from './teardownFleet.js';
import type { RequestLogEntry } from '../../sandbox/sim/requestLog.js';
import type { SimSurface } from '../../sandbox/sim/surface.js';
import type { Simulator } from '../../sandbox/sim/simulator.js';
import type { TimelineEntry } from '../../sandbox/host/index.js';
import { armThrottleLimits } from '../../sandbox/sim/throttle.js';
import { STEP_DEPENDENCIES, type GraphStep } from '../../shared/provisioning/contracts.js';
import { ProvisionWorld } from '../scenario/provisionWorld.js';
import { formatResult, type BenchOptions, type BenchResult } from './runner.js';
import { setArmPacingTimeScale } from '../../shared/azure/armPacing.js';
import { azureLatencyProfile } from '../../sandbox/sim/latencyProfile.js';

/**
 * Provisioning against the simulator, in one of two modes (each its own bench module, so each runs
 * in its own process: the local host's registrations and the broker's pacers are per process):
 * - `instant` (provision.bench.ts): every long-running operation settles at its first poll and
 *   nothing takes time to propagate; what is left is the broker, the local host and ARM's throttle.
 * - `profile` (provision-latency.bench.ts): Azure's latencies (sandbox/sim/latencyProfile.ts, each
 *   figure with its source), time-compressed by TIME_SCALE: the simulator's operations and
 *   propagation take their Azure time divided by it, ARM's throttle and the broker's pacer refill
 *   that much faster, and the broker's own waits (retry and poll intervals) are their production
 *   defaults divided by it. Each ARM, Key Vault and Graph request also takes a typical round trip
 *   (REQUEST_MS, scaled the same way). Times are reported in Azure time (wall time x TIME_SCALE).
 *
 * Figures:
 * - one provision's wall time over the critical path of its steps: each step weighs the span of
 *   its activity executions (first start to last end, "not yet" waits included, since propagation
 *   is Azure's time, not the orchestration's); the critical path is prepare + the longest chain
 *   through STEP_DEPENDENCIES + finish. Target 1.1.
 * - ARM reads and writes of a fresh provision and of a re-run on the ready slug.
 * - the teardown of those N slugs: one request each through the API, each approved from the admin
 *   chat as soon as asked, until every outcome (and from the last approval on).
 * - N slugs (50; 5 at smoke size) provisioned at once under ARM's per-principal throttle (writes 200
 *   burst, 10/s; reads 250, 25/s), over the lower bound that throttle sets for the requests the
 *   fleet needed (or one provision's critical path, if longer), with the 429s received. Target 1.2.
 *   The host runs 256 activities and takes 32 queue messages at once (a Functions app scaled out to
 *   several instances); the broker paces its ARM requests to ARM's limits, first come, first served.
 */
/** Azure seconds per wall second under the profile; 10 keeps the broker's whole-second waits exact. */
const TIME_SCALE = { full: 10, smoke: 60 };
/** A typical round trip per request, in Azure milliseconds (no published figure; the earlier bench's). */
const REQUEST_MS = { armRead: 80, armWrite: 200, keyVault: 35, graph: 120 };
const FLEET = { full: 50, smoke: 5 };
const GRAPH_STEPS = Object.keys(STEP_DEPENDENCIES) as GraphStep[];

export type ProvisionBenchMode = 'instant' | 'profile';

export async function runProvisionBench(
  mode: ProvisionBenchMode,
  options: BenchOptions,
): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  // Each figure is printed as it is measured too, so a later failure does not lose it.
  const push = results.push.bind(results);
  results.push = (...figures: BenchResult[]) => {
    for (const figure of figures) console.log(`measured: ${formatResult(figure)}`);
    return push(...figures);
  };
  const scale = mode === 'profile' ? TIME_SCALE[options.size] : 1;
  const fleetSize = FLEET[options.size];
  const label = mode === 'profile' ? `latency profile, x${scale}` : 'instant';
  const unit = mode === 'profile' ? 's Azure time' : 's';
  /** Wall milliseconds as the figure's unit: Azure seconds under the profile. */
  const time = (wallMs: number) => (wallMs * scale) / 1000;
  // One world for every figure: the broker's configuration is read once per process. Its task hub
  // is the host's in-memory one: the Azurite-backed one writes its blobs one at a time and, with 50
  // instances, would measure the local host rather than the broker (Azure's task hub is
  // partitioned across workers). Queues and tables (intake, registry) stay on Azurite.
  const single = await startWorld(mode, scale);
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
      name: `one provision (${label})`,
      value: time(timing.wallMs),
      unit,
      baseline: { name: 'critical path of its steps', value: time(timing.criticalMs) },
      target: 1.1,
    });
    console.log(`critical path: ${timing.path.join(' > ')}`);
    results.push({ name: `ARM reads per fresh provision (${label})`, value: fresh.reads, unit: 'requests' });
    results.push({
      name: `ARM writes per fresh provision (${label})`,
      value: fresh.writes,
      unit: 'requests',
    });
    const rerunFrom = single.lastSeq();
    const again = await single.provision('bench-one', 'bench-one-2');
    if (again.status !== 'succeeded') throw new Error(`bench re-run ${again.status}: ${again.reason ?? ''}`);
    const rerun = armCounts(single, rerunFrom);
    results.push({
      name: `ARM reads per re-run on a ready slug (${label})`,
      value: rerun.reads,
      unit: 'requests',
    });
    results.push({
      name: `ARM writes per re-run on a ready slug (${label})`,
      value: rerun.writes,
      unit: 'requests',
    });
    results.push({
      name: `re-run on a ready slug (${label})`,
      value: time(wallMs(single.host.timeline('op:bench-one-2'))),
      unit,
    });

    {
      const fleet = single;
      const slugs = Array.from({ length: fleetSize }, (_, index) => `fleet-${index + 1}`);
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
        .map((entry) => Math.floor(((Date.parse(entry.at) - started) * scale) / 10_000));
      const perTenSeconds = Array.from(
        { length: Math.ceil((elapsedMs * scale) / 10_000) },
        (_, window) => writesAt.filter((w) => w === window).length,
      );
      console.log(
        `ARM writes passed per 10 s window of Azure time (the throttle allows 100): ${perTenSeconds.join(' ')}`,
      );
      const startedAfter = outcomes
        .map((outcome) => (outcome as { startedAt?: string }).startedAt)
        .map((at) => (at ? Date.parse(at) - started : Number.NaN))
        .sort((a, b) => a - b);
      console.log(
        `operations started after (ms): first ${startedAfter[0]}, median ${startedAfter[fleetSize >> 1]}, last ${startedAfter.at(-1)}`,
      );
      const last = [...outcomes].sort(
        (a, b) =>
          Date.parse((b as { finishedAt?: string }).finishedAt ?? '') -
          Date.parse((a as { finishedAt?: string }).finishedAt ?? ''),
      )[0]!;
      console.log(`the last slug to finish, ${last.requestId}: ${stepSpans(fleet, last.requestId, started)}`);
      const reads = passed('read');
      const writes = passed('write');
      // In Azure seconds: the throttle refills at its Azure rate, the critical path is Azure time.
      const bound = Math.max(
        time(timing.criticalMs),
        (writes - armThrottleLimits.write.burst) / armThrottleLimits.write.perSecond,
        (reads - armThrottleLimits.read.burst) / armThrottleLimits.read.perSecond,
      );
      const throttled = log.filter((entry) => entry.status === 429).length;
      // At smoke size the fleet stays inside ARM's burst: the pacer lets no request meet a 429.
      if (options.size === 'smoke' && throttled > 0)
        throw new Error(
          `${throttled} ARM requests were throttled (429) at smoke size; the pacer should prevent every one`,
        );
      results.push({
        name: `${fleetSize} slugs at once (${label})`,
        value: time(elapsedMs),
        unit,
        baseline: { name: 'lower bound: ARM throttle or one critical path', value: bound },
        target: 1.2,
      });
      results.push({
        name: `${fleetSize} slugs: ARM reads / writes that passed (${label})`,
        value: reads,
        unit: `reads, ${writes} writes`,
      });
      const teardown = await teardownFleet(fleet, slugs, 1_800_000);
      results.push({
        name: `teardown of ${fleetSize} slugs, approvals included (${label})`,
        value: time(teardown.elapsedMs),
        unit,
        baseline: { name: 'from the last approval', value: time(teardown.afterApprovalMs) },
      });
      results.push({
        name: `${fleetSize} slugs: 429s received (${label})`,
        value: throttled,
        unit: 'responses',
      });
    }
  } finally {
    await single.stop();
  }
  return results;
}

async function startWorld(mode: ProvisionBenchMode, scale: number): Promise<ProvisionWorld> {
  const hostJson = JSON.parse(readFileSync('host.json', 'utf8')) as {
    extensions: { durableTask: Record<string, unknown>; queues: Record<string, unknown> };
  };
  hostJson.extensions.durableTask['maxConcurrentActivityFunctions'] = 256;
  hostJson.extensions.durableTask['maxConcurrentOrchestratorFunctions'] = 256;
  // A scaled-out app takes queue messages on several instances at once.
  hostJson.extensions.queues['batchSize'] = 32;
  hostJson.extensions.queues['newBatchThreshold'] = 32;
  // The broker's waits: production defaults (config.ts) in Azure time, whole seconds at least.
  const seconds = (azureSeconds: number) => `${Math.max(1, Math.round(azureSeconds / scale))}s`;
  if (mode === 'profile') setArmPacingTimeScale(scale);
  const world = await ProvisionWorld.start({
    simulator:
      mode === 'profile'
        ? { latency: { profile: azureLatencyProfile, timeScale: scale }, provisioningSeconds: 0 }
        : { provisioningSeconds: 0, dataPlanePropagationSeconds: 0, principalPropagationSeconds: 0 },
    settings: {
      AZURE_LRO_POLL_INTERVAL_MS: String(Math.max(10, Math.round(2000 / scale))),
      AZURE_MAX_RETRIES: '20',
      PROVISION_RETRY_INTERVAL: seconds(30),
      PROVISION_READY_POLL_INTERVAL: seconds(10),
      PROVISION_PROPAGATION_TIMEOUT: seconds(30 * 60),
      PROVISION_READY_TIMEOUT: seconds(15 * 60),
    },
    host: { hostJson, storage: 'memory' },
    // The admin chat approves each teardown (teardownFleet.ts).
    telegram: { botToken: `7000000099:${randomBytes(24).toString('base64url')}` },
  });
  if (mode === 'profile') addLatency(world.sim, scale);
  return world;
}

/**
 * Adds service-side latency without changing the simulator: surfaces with longer prefixes than the
 * real ones (so the server offers requests to them first) that wait and then decline, passing the
 * request on. They carry the real surfaces' names, so throttling, faults and the request log treat
 * the requests as before.
 */
function addLatency(sim: Simulator, scale: number): void {
  const delay = (ms: number) =>
    new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), ms / scale));
  const passThrough = (name: string, prefix: string, ms: (method: string) => number): SimSurface => ({
    name,
    prefix,
    handle: (req) => delay(ms(req.method)),
    snapshot: () => ({}),
  });
  sim.mount(
    passThrough('arm', '/subscriptions/', (method) =>
      method === 'GET' ? REQUEST_MS.armRead : REQUEST_MS.armWrite,
    ),
  );
  sim.mount(passThrough('keyvault', '/keyvault/kv-', () => REQUEST_MS.keyVault));
  sim.mount(passThrough('graph', '/graph/v1.0/', () => REQUEST_MS.graph));
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
