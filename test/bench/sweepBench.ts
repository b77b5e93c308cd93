/**
 * A rotation sweep over a fleet under Azure's real ARM write throttle (per principal: writes 200
 * burst, 10/s; reads 250 burst, 25/s), in the simulator, in one of two modes (each its own module
 * and process): `instant` (sweep.bench.ts: operations settle at their first poll) or `profile`
 * (sweep-latency.bench.ts: Azure's latencies from sandbox/sim/latencyProfile.ts; a container app
 * update takes 45 s, a revision restart 30 s). Under the profile the full-size run is not
 * time-compressed (scale 1): the sweep paces its enqueueing to ARM's write rate in real time
 * (SWEEP_ARM_WRITES_PER_SECOND), which a compressed clock would misreport; the script, which takes
 * minutes per slug, is timed on SCRIPT_SAMPLE slugs and extrapolated (one slug after the other is
 * linear in the slugs). At smoke size the profile runs 60 times faster than Azure.
 * The fleet (1,000 slugs by default, 5 at smoke size; BENCH_SWEEP_SLUGS overrides) is seeded straight into the simulator and the registry, because
 * provisioning 1,000 slugs under the throttle would take most of an hour; every gateway token is
 * 31 days old, so the sweep finds each due. Figures:
 * - the sweep: from the timer function's run to the last rotation's end, on the local host with the
 *   broker's real functions (Azurite for its queues and tables, the durable task hub in memory),
 *   over the lower bound the throttle sets for the ARM requests the sweep made;
 * - the 429 answers the broker got meanwhile;
 * - the same rotations run one slug at a time, as a script would (the same steps, called in
 *   sequence in-process, SDK retries honouring Retry-After), with its 429 count.
 */
import { performance } from 'node:perf_hooks';
import { readFileSync } from 'node:fs';
import { TableClient } from '@azure/data-tables';
import type { RequestLogEntry } from '../../sandbox/sim/requestLog.js';
import { armThrottleLimits } from '../../sandbox/sim/throttle.js';
import { AzureClients } from '../../shared/azure/azureClients.js';
import { EntraClient } from '../../shared/azure/entra.js';
import { probeGateway } from '../../shared/azure/gatewayProbe.js';
import { loadConfig } from '../../shared/config.js';
import type { RotateSecretsRequest } from '../../shared/rotation/contracts.js';
import { createRotationSteps } from '../../shared/rotation/rotationSteps.js';
import { BrokerStorage } from '../../shared/storage/brokerStorage.js';
import { EnvironmentRegistry } from '../../shared/storage/environmentRegistry.js';
import { seedFleet } from '../rotation/fleet.js';
import { ProvisionWorld } from '../scenario/provisionWorld.js';
import type { BenchOptions, BenchResult } from './runner.js';
import { setArmPacingTimeScale } from '../../shared/azure/armPacing.js';
import { azureLatencyProfile } from '../../sandbox/sim/latencyProfile.js';
import { SLUG_SECRET_NAMES } from '../../shared/domain/footprint.js';

const VERSION = '2026.9.6';
const DAY = 86_400_000;
/** Slugs the script is timed on under the full-size profile (minutes each). */
const SCRIPT_SAMPLE = 3;

export type SweepBenchMode = 'instant' | 'profile';

export async function runSweepBench(mode: SweepBenchMode, options: BenchOptions): Promise<BenchResult[]> {
  const SLUGS = options.size === 'smoke' ? 5 : Number(process.env['BENCH_SWEEP_SLUGS'] ?? 1000);
  const scale = mode === 'profile' && options.size === 'smoke' ? 60 : 1;
  const label = mode === 'profile' ? `latency profile${scale === 1 ? '' : `, x${scale}`}` : 'instant';
  const unit = mode === 'profile' ? 's Azure time' : 's';
  const smoke = options.size === 'smoke';
  const seconds = (azureSeconds: number) => `${Math.max(1, Math.round(azureSeconds / scale))}s`;
  const hostJson = JSON.parse(readFileSync('host.json', 'utf8')) as {
    extensions: { durableTask: Record<string, unknown> };
  };
  // An activity holds its slot while it waits on a container app update (beginUpdateAndWait): a
  // Functions app scaled out to several instances runs many at once.
  hostJson.extensions.durableTask['maxConcurrentActivityFunctions'] = 256;
  hostJson.extensions.durableTask['maxConcurrentOrchestratorFunctions'] = 256;
  if (mode === 'profile') setArmPacingTimeScale(scale);
  const world = await ProvisionWorld.start({
    settings: {
      DURABLE_TASK_HUB: 'clawsweepbench',
      SWEEPS_PAUSED: 'false',
      // Once a year: the bench runs the rotation sweep itself, and no SAS sweep competes with it.
      ROTATION_SWEEP_SCHEDULE: '0 0 0 1 1 *',
      SAS_SWEEP_SCHEDULE: '0 0 0 1 1 *',
      ROTATION_VERIFY_INTERVAL: mode === 'profile' ? seconds(10) : '1s',
      AZURE_LRO_POLL_INTERVAL_MS: mode === 'profile' ? String(Math.max(10, Math.round(2000 / scale))) : '50',
    },
    // Instant: long-running operations settle at their first poll (each still answers "in progress" once).
    simulator:
      mode === 'profile'
        ? { provisioningSeconds: 0, latency: { profile: azureLatencyProfile, timeScale: scale } }
        : { provisioningSeconds: 0 },
    host: { storage: 'memory', hostJson },
  });
  try {
    const config = loadConfig(world.settings);
    const registry = new EnvironmentRegistry(new BrokerStorage(config));
    const slugs = Array.from({ length: SLUGS }, (_, i) => `fleet-${i.toString().padStart(4, '0')}`);
    const seeding = performance.now();
    // The fleet exists before the bench starts: it is seeded without Azure's latencies (an
    // environment each at 3.5 minutes would take hours), which then apply to what the broker does.
    const arm = world.sim.arm.options;
    const profiled = {
      latency: arm.latency,
      dataPlanePropagationMs: arm.dataPlanePropagationMs,
      principalPropagationMs: arm.principalPropagationMs,
    };
    Object.assign(arm, { latency: undefined, dataPlanePropagationMs: 0, principalPropagationMs: 0 });
    await seedFleet({
      sim: world.sim,
      registry,
      salt: config.nameSalt,
      slugs,
      openclawVersion: VERSION,
      gatewayTokenAgeMs: 31 * DAY,
    });
    // ...and long enough ago that its role assignments have propagated.
    for (const assignment of world.sim.arm.roleAssignments.values()) assignment.createdAt -= DAY;
    Object.assign(arm, profiled);
    console.log(`seeded ${SLUGS} slugs in ${((performance.now() - seeding) / 1000).toFixed(0)} s`);
    if (!smoke) await refill(scale);

    // The broker: the timer function runs the sweep; the fleet's rotations follow from the queue.
    const sweepLog = collectRequests(world);
    const started = performance.now();
    const answer = await fetch(`${world.host.baseUrl}/admin/functions/rotationSweep`, {
      method: 'POST',
      headers: { 'x-functions-key': world.host.masterKey, 'content-type': 'application/json' },
      body: JSON.stringify({ input: {} }),
    });
    if (answer.status !== 202) throw new Error(`running the sweep answered ${answer.status}`);
    const outcomes = await untilRotated(world, slugs);
    const sweepSeconds = ((performance.now() - started) / 1000) * scale;
    const failed = outcomes.filter((status) => status !== 'succeeded').length;
    if (failed > 0) throw new Error(`${failed} of ${SLUGS} rotations did not succeed`);
    const broker = throttleFigures(sweepLog.stop(), world.sim.broker.objectId);
    if (!smoke) await refill(scale);

    // The script: the same steps, one slug after the other.
    const scriptLog = collectRequests(world);
    const scriptStarted = performance.now();
    const steps = createRotationSteps({
      config,
      registry,
      azure: new AzureClients(config),
      entra: new EntraClient(new AzureClients(config).credential, config.azure.graphEndpoint),
      chat: { tell: () => Promise.resolve() },
      probe: probeGateway,
    });
    const scripted = mode === 'profile' && !smoke ? slugs.slice(0, SCRIPT_SAMPLE) : slugs;
    for (const slug of scripted) await rotateLikeAScript(steps, slug, scale);
    const scriptSeconds = ((performance.now() - scriptStarted) / 1000) * scale * (SLUGS / scripted.length);
    const script = throttleFigures(scriptLog.stop(), world.sim.broker.objectId);
    // At smoke size the fleet stays inside ARM's burst: the pacer lets no request meet a 429.
    if (smoke && broker.throttled + script.throttled > 0)
      throw new Error(
        `${broker.throttled + script.throttled} ARM requests were throttled (429) at smoke size`,
      );
    const sampled = scripted.length < SLUGS ? `, timed on ${scripted.length} and extrapolated` : '';

    return [
      {
        name: `rotation sweep over ${SLUGS} slugs (${label}; gateway token each: ${broker.writes} ARM writes, ${broker.reads} reads)`,
        value: sweepSeconds,
        unit,
        // One rotation cannot go faster than the script does it alone; the fleet not faster than
        // the throttle lets its requests through.
        baseline: {
          name: 'lower bound: ARM throttle or one rotation alone',
          value: Math.max(broker.lowerBound, scriptSeconds / SLUGS),
        },
        target: 1.2,
      },
      {
        name: `HTTP 429 answers during the sweep (${label}; ${broker.throttledWrites} to writes, ${broker.throttled - broker.throttledWrites} to reads)`,
        value: broker.throttled,
        unit: 'responses',
      },
      {
        name: `the same rotations one slug at a time, as a script would (${label}${sampled}; ${script.writes} writes, ${script.reads} reads)`,
        value: scriptSeconds,
        unit,
        baseline: { name: 'the broker’s sweep', value: sweepSeconds },
      },
      {
        name: `HTTP 429 answers during the script (${label}; ${script.throttledWrites} to writes, ${script.throttled - script.throttledWrites} to reads)`,
        value: script.throttled,
        unit: 'responses',
      },
    ];
  } finally {
    await world.stop();
  }
}

/**
 * Collects the simulator's request log as it grows (the log keeps only its newest 5,000 entries,
 * fewer than a fleet sweep makes), until stopped.
 */
export function collectRequests(world: ProvisionWorld): { stop(): RequestLogEntry[] } {
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

/** Waits until ARM's token buckets for the broker are full again (writes refill 200 in 20 s). */
export function refill(scale: number): Promise<void> {
  const seconds = Math.max(
    armThrottleLimits.write.burst / armThrottleLimits.write.perSecond,
    armThrottleLimits.read.burst / armThrottleLimits.read.perSecond,
  );
  return new Promise((resolve) => setTimeout(resolve, ((seconds + 2) * 1000) / scale));
}

/** Polls the request store until every slug's rotation request has an outcome; returns them. */
async function untilRotated(world: ProvisionWorld, slugs: string[]): Promise<string[]> {
  const table = TableClient.fromConnectionString(world.azurite.connectionString, 'requests', {
    allowInsecureConnection: true,
  });
  const deadline = performance.now() + 55 * 60_000;
  for (;;) {
    const statuses = new Map<string, string>();
    try {
      for await (const entity of table.listEntities<{ op: string; slug: string; status: string }>()) {
        if (entity.op === 'rotate-secrets') statuses.set(entity.slug, entity.status);
      }
    } catch (error) {
      // The sweep creates the table with its first request.
      if ((error as { statusCode?: number }).statusCode !== 404) throw error;
    }
    const finished = slugs.filter((slug) =>
      ['succeeded', 'failed', 'rejected'].includes(statuses.get(slug) ?? ''),
    );
    if (finished.length === slugs.length) return slugs.map((slug) => statuses.get(slug)!);
    if (process.env['BENCH_TRACE'])
      console.log(
        `${Math.round(performance.now() / 1000)} s: ${finished.length} rotated, ${statuses.size} requested`,
      );
    if (performance.now() > deadline)
      throw new Error(`only ${finished.length} of ${slugs.length} rotations finished`);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}

/**
 * The broker's ARM requests in a window: the writes and reads ARM accepted, the 429s, and the least
 * time ARM's token buckets (full at the start) allow for those accepted requests.
 */
export function throttleFigures(entries: RequestLogEntry[], principal: string) {
  const arm = entries.filter((entry) => entry.surface === 'arm' && entry.principal === principal);
  const accepted = arm.filter((entry) => entry.status !== 429);
  const writes = accepted.filter((entry) => !['GET', 'HEAD'].includes(entry.method)).length;
  const reads = accepted.length - writes;
  const bound = (count: number, bucket: { burst: number; perSecond: number }) =>
    Math.max(0, count - bucket.burst) / bucket.perSecond;
  const throttledWrites = arm.filter(
    (entry) => entry.status === 429 && !['GET', 'HEAD'].includes(entry.method),
  ).length;
  return {
    writes,
    reads,
    throttled: arm.length - accepted.length,
    throttledWrites,
    lowerBound: Math.max(bound(writes, armThrottleLimits.write), bound(reads, armThrottleLimits.read)),
  };
}

/** One slug's gateway token rotation, step after step, polling the verify step like a script would. */
async function rotateLikeAScript(
  steps: ReturnType<typeof createRotationSteps>,
  slug: string,
  scale: number,
): Promise<void> {
  const now = () => new Date().toISOString();
  const request: RotateSecretsRequest = {
    schemaVersion: 1,
    requestId: `script-${slug}`,
    op: 'rotate-secrets',
    slug,
    params: { secrets: ['gateway-token'] },
    requestedBy: { kind: 'operator', id: 'script' },
    requestedAt: now(),
  };
  const plan = await steps.plan({ request, now: now() });
  if (plan.status !== 'planned') throw new Error(`${slug}: ${plan.reason}`);
  const item = plan.items[0];
  if (item?.kind !== 'gateway-token') throw new Error(`${slug}: nothing to rotate`);
  const target = plan.target;
  const written = await steps.gatewayWrite({ target, now: now(), fromVersion: item.fromVersion });
  if (written.status !== 'done') throw new Error(`${slug}: ${JSON.stringify(written)}`);
  const toVersion = written.value.toVersion;
  const delivered = await steps.deliver({
    target,
    now: now(),
    expect: { kind: 'secret-version', secretName: SLUG_SECRET_NAMES.gatewayToken, version: toVersion },
    restart: true,
  });
  if (delivered.status !== 'done') throw new Error(`${slug}: ${JSON.stringify(delivered)}`);
  // Polls every 10 s of Azure time for up to 15 minutes, as a careful script would.
  const deadline = performance.now() + (15 * 60_000) / scale;
  for (;;) {
    const verified = await steps.gatewayVerify({
      target,
      now: now(),
      fromVersion: item.fromVersion,
      toVersion,
    });
    if (verified.status === 'done') break;
    if (verified.status !== 'not-yet' || performance.now() > deadline)
      throw new Error(`${slug}: ${JSON.stringify(verified)}`);
    await new Promise((resolve) => setTimeout(resolve, 10_000 / scale));
  }
  await steps.retireVersions({
    target,
    now: now(),
    secretName: SLUG_SECRET_NAMES.gatewayToken,
    keepVersion: toVersion,
  });
  await steps.recordRotation({ target, now: now(), kind: 'gateway-token' });
}
