/**
 * A rotation sweep over a fleet under Azure's real ARM write throttle (per principal: writes 200
 * burst, 10/s; reads 250 burst, 25/s), in the simulator. The fleet (1,000 slugs by default;
 * BENCH_SWEEP_SLUGS overrides) is seeded straight into the simulator and the registry, because
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
import { SLUG_SECRET_NAMES } from '../../shared/provisioning/contracts.js';
import type { RotateSecretsRequest } from '../../shared/rotation/contracts.js';
import { createRotationSteps } from '../../shared/rotation/rotationSteps.js';
import { BrokerStorage } from '../../shared/storage/brokerStorage.js';
import { EnvironmentRegistry } from '../../shared/storage/environmentRegistry.js';
import { seedFleet } from '../rotation/fleet.js';
import { ProvisionWorld } from '../scenario/provisionWorld.js';
import type { BenchOptions, BenchResult, BenchSize } from './runner.js';

const SLUGS = Number(process.env['BENCH_SWEEP_SLUGS'] ?? 1000);
const VERSION = '2026.9.6';
const DAY = 86_400_000;

export async function run(): Promise<BenchResult[]> {
  const hostJson = JSON.parse(readFileSync('host.json', 'utf8')) as Record<string, unknown>;
  const world = await ProvisionWorld.start({
    settings: {
      DURABLE_TASK_HUB: 'clawsweepbench',
      SWEEPS_PAUSED: 'false',
      // Once a year: the bench runs the rotation sweep itself, and no SAS sweep competes with it.
      ROTATION_SWEEP_SCHEDULE: '0 0 0 1 1 *',
      SAS_SWEEP_SCHEDULE: '0 0 0 1 1 *',
      ROTATION_VERIFY_INTERVAL: '1s',
      AZURE_LRO_POLL_INTERVAL_MS: '50',
    },
    // Long-running operations settle at their first poll (each still answers "in progress" once).
    simulator: { provisioningSeconds: 0 },
    host: { storage: 'memory', hostJson },
  });
  try {
    const config = loadConfig(world.settings);
    const registry = new EnvironmentRegistry(new BrokerStorage(config));
    const slugs = Array.from({ length: SLUGS }, (_, i) => `fleet-${i.toString().padStart(4, '0')}`);
    const seeding = performance.now();
    await seedFleet({
      sim: world.sim,
      registry,
      salt: config.nameSalt,
      slugs,
      openclawVersion: VERSION,
      gatewayTokenAgeMs: 31 * DAY,
    });
    console.log(`seeded ${SLUGS} slugs in ${((performance.now() - seeding) / 1000).toFixed(0)} s`);
    await refill();

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
    const sweepSeconds = (performance.now() - started) / 1000;
    const failed = outcomes.filter((status) => status !== 'succeeded').length;
    if (failed > 0) throw new Error(`${failed} of ${SLUGS} rotations did not succeed`);
    const broker = throttleFigures(sweepLog.stop(), world.sim.broker.objectId);
    await refill();

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
    for (const slug of slugs) await rotateLikeAScript(steps, slug);
    const scriptSeconds = (performance.now() - scriptStarted) / 1000;
    const script = throttleFigures(scriptLog.stop(), world.sim.broker.objectId);

    return [
      {
        name: `rotation sweep over ${SLUGS} slugs (gateway token each: ${broker.writes} ARM writes, ${broker.reads} reads)`,
        value: sweepSeconds,
        unit: 's',
        baseline: { name: 'lower bound set by the ARM throttle', value: broker.lowerBound },
        target: 1.2,
      },
      {
        name: `HTTP 429 answers during the sweep (${broker.throttledWrites} to writes, ${broker.throttled - broker.throttledWrites} to reads)`,
        value: broker.throttled,
        unit: 'responses',
      },
      {
        name: `the same rotations one slug at a time, as a script would (${script.writes} writes, ${script.reads} reads)`,
        value: scriptSeconds,
        unit: 's',
        baseline: { name: 'the broker’s sweep', value: sweepSeconds },
      },
      {
        name: `HTTP 429 answers during the script (${script.throttledWrites} to writes, ${script.throttled - script.throttledWrites} to reads)`,
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

/** Waits until ARM's token buckets for the broker are full again (writes refill 200 in 20 s). */
function refill(): Promise<void> {
  const seconds = Math.max(
    armThrottleLimits.write.burst / armThrottleLimits.write.perSecond,
    armThrottleLimits.read.burst / armThrottleLimits.read.perSecond,
  );
  return new Promise((resolve) => setTimeout(resolve, (seconds + 2) * 1000));
}

/** Polls the request store until every slug's rotation request has an outcome; returns them. */
async function untilRotated(world: ProvisionWorld, slugs: string[]): Promise<string[]> {
  const table = TableClient.fromConnectionString(world.azurite.connectionString, 'requests', {
    allowInsecureConnection: true,
  });
  const deadline = performance.now() + 30 * 60_000;
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
function throttleFigures(entries: RequestLogEntry[], principal: string) {
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
async function rotateLikeAScript(steps: ReturnType<typeof createRotationSteps>, slug: string): Promise<void> {
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
  for (let attempt = 0; ; attempt++) {
    const verified = await steps.gatewayVerify({
      target,
      now: now(),
      fromVersion: item.fromVersion,
      toVersion,
    });
    if (verified.status === 'done') break;
    if (verified.status !== 'not-yet' || attempt > 50)
      throw new Error(`${slug}: ${JSON.stringify(verified)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  await steps.retireVersions({
    target,
    now: now(),
    secretName: SLUG_SECRET_NAMES.gatewayToken,
    keepVersion: toVersion,
  });
  await steps.recordRotation({ target, now: now(), kind: 'gateway-token' });
}
