/**
 * A fleet upgrade wave (README "Fleet upgrade waves") from OpenClaw 2026.8.2 to 2026.9.6 in the
 * simulator, under ARM's real per-principal throttle (writes 200 burst, 10/s; reads 250 burst,
 * 25/s) and Azure's latencies (sandbox/sim/latencyProfile.ts: a revision deactivation drains in
 * 30 s, a container app update takes 45 s). The fleet (200 slugs, 6 at smoke size;
 * BENCH_UPGRADE_SLUGS overrides) is seeded straight into the simulator and the registry with what
 * an upgrade needs (test/rotation/fleet.ts, `upgradeable`). The wave is started through the API
 * (`POST /api/upgrades`) with three rings (the canary, 10% of the rest, the rest), each after a
 * bake of BAKE, and its last ring approved by an approver's Approve in the admin chat (the Telegram
 * stand-in) as soon as the wave asks (the API's operator started the wave and may not approve it).
 * Every slug runs the broker's real per-slug upgrade (stop, snapshot, start by digest, gate, soak, gate, commit).
 *
 * The full size is not time-compressed (scale 1): the wave paces its enqueueing to ARM's write rate
 * in real time (SWEEP_ARM_WRITES_PER_SECOND, at most 10), which a compressed clock would misreport.
 * At smoke size the profile, the throttle's refill and the broker's timers run 15 times faster.
 *
 * Figures: the wave's time from the start request to its end, over a lower bound made of
 * - the bakes between rings (the wave waits them out with nothing running), plus
 * - per ring, the larger of: one slug's critical path, which no parallelism shortens (its running
 *   revision's drain after deactivation, the container app update that starts the target's
 *   revision, and the soak; from the profile and the settings), and the time ARM's token buckets
 *   (full when the ring starts: a bake refills them) take to admit the ring's accepted ARM requests
 *   (attributed to the ring by their resource group).
 * It leaves out everything else a slug waits on (the wave noticing a ring ended, the gate's polls,
 * the snapshot, the registry), so it is below what any broker could reach.
 */
import { performance } from 'node:perf_hooks';
import { readFileSync } from 'node:fs';
import type { RequestLogEntry } from '../../sandbox/sim/requestLog.js';
import { azureLatencyProfile } from '../../sandbox/sim/latencyProfile.js';
import { setArmPacingTimeScale } from '../../shared/azure/armPacing.js';
import { loadConfig } from '../../shared/config.js';
import { footprintNames } from '../../shared/domain/footprint.js';
import { BrokerStorage } from '../../shared/storage/brokerStorage.js';
import { EnvironmentRegistry } from '../../shared/storage/environmentRegistry.js';
import { seedFleet } from '../rotation/fleet.js';
import { SANDBOX_TELEGRAM } from '../../sandbox/world.js';
import { ProvisionWorld } from '../scenario/provisionWorld.js';
import type { BenchOptions, BenchResult } from './runner.js';
import { collectRequests, refill, throttleFigures } from './sweepBench.js';

const FROM = '2026.8.2';
const TO = '2026.9.6';
const DAY = 86_400_000;
/** Azure seconds: each ring's bake, the soak, the gate's and the wave's polls. */
const BAKE = 120;
const SOAK = 60;
const POLL = 10;

interface WaveView {
  waveId: string;
  status: string;
  reason?: string;
  rings: {
    name: string;
    slugs: number;
    done: number;
    succeeded: number;
    failed: number;
    state: string;
    startedAt?: string;
    endedAt?: string;
  }[];
  slugs: { slug: string; ring: number; state: string; outcome?: string }[];
}

export async function runUpgradeBench(options: BenchOptions): Promise<BenchResult[]> {
  const smoke = options.size === 'smoke';
  const SLUGS = smoke ? 6 : Number(process.env['BENCH_UPGRADE_SLUGS'] ?? 200);
  const scale = smoke ? 15 : 1;
  const seconds = (azureSeconds: number) => `${Math.max(1, Math.round(azureSeconds / scale))}s`;
  const label = `latency profile${scale === 1 ? '' : `, x${scale}`}`;
  const hostJson = JSON.parse(readFileSync('host.json', 'utf8')) as {
    extensions: { durableTask: Record<string, unknown> };
  };
  // An activity holds its slot while it waits on a container app update (beginUpdateAndWait): a
  // Functions app scaled out to several instances runs many at once.
  hostJson.extensions.durableTask['maxConcurrentActivityFunctions'] = 256;
  hostJson.extensions.durableTask['maxConcurrentOrchestratorFunctions'] = 256;
  setArmPacingTimeScale(scale);
  const world = await ProvisionWorld.start({
    settings: {
      DURABLE_TASK_HUB: 'clawupgradebench',
      SWEEPS_PAUSED: 'false',
      // Once a year: no sweep and no timer wave competes with the bench's wave.
      ROTATION_SWEEP_SCHEDULE: '0 0 0 1 1 *',
      SAS_SWEEP_SCHEDULE: '0 0 0 1 1 *',
      UPGRADE_WAVE_SCHEDULE: '0 0 0 1 1 *',
      UPGRADE_CANARY_COUNT: '1',
      // The canary, 10% of the rest, the rest; minimum ages met (2026.9.6 is months old).
      UPGRADE_RINGS: JSON.stringify([
        { size: '10%', bake: seconds(BAKE), minAge: '1d', failureBudget: 0 },
        { size: 'rest', bake: seconds(BAKE), minAge: '1d', failureBudget: 0 },
      ]),
      UPGRADE_WAVE_POLL_INTERVAL: seconds(POLL),
      UPGRADE_POLL_INTERVAL: seconds(POLL),
      UPGRADE_SOAK: seconds(SOAK),
      UPGRADE_READY_TIMEOUT: seconds(600),
      UPGRADE_STOP_TIMEOUT: seconds(300),
      APPROVAL_POLICY: '{"upgrade":{"approvers":1}}',
      AZURE_LRO_POLL_INTERVAL_MS: String(Math.max(10, Math.round(2000 / scale))),
    },
    simulator: { provisioningSeconds: 0, latency: { profile: azureLatencyProfile, timeScale: scale } },
    // The approval and the wave's progress go to the admin chat (the Telegram stand-in), whose
    // buttons come back through the broker's webhook.
    telegram: {},
    host: { storage: 'memory', hostJson },
  });
  try {
    const config = loadConfig(world.settings);
    const registry = new EnvironmentRegistry(new BrokerStorage(config));
    const slugs = Array.from({ length: SLUGS }, (_, i) => `fleet-${i.toString().padStart(4, '0')}`);
    const seeding = performance.now();
    // The fleet exists before the bench starts: seeded without Azure's latencies, which then apply
    // to what the broker does.
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
      openclawVersion: FROM,
      gatewayTokenAgeMs: DAY,
      upgradeable: true,
    });
    for (const assignment of world.sim.arm.roleAssignments.values()) assignment.createdAt -= DAY;
    Object.assign(arm, profiled);
    console.log(`seeded ${SLUGS} slugs in ${((performance.now() - seeding) / 1000).toFixed(0)} s`);
    // ARM's buckets for the broker are full when the wave starts.
    await refill(scale);

    const log = collectRequests(world);
    const started = performance.now();
    const startedAt = Date.now();
    const answer = await world.api('POST', '/api/upgrades', { version: TO });
    if (answer.status !== 202)
      throw new Error(`starting the wave answered ${answer.status}: ${JSON.stringify(answer.body)}`);
    const waveId = answer.body['waveId'] as string;
    const wave = await untilEnded(world, waveId, scale);
    const waveSeconds = ((performance.now() - started) / 1000) * scale;
    const entries = log.stop();
    if (wave.status !== 'completed')
      throw new Error(`wave ${waveId} ended ${wave.status}: ${wave.reason ?? ''}`);

    // Every slug upgraded, and never two replicas on one state share.
    const upgraded = [];
    let maxMounts = 0;
    for (const slug of slugs) {
      const record = await registry.get(slug);
      if (record?.openclawVersion === TO && record.upgrades?.last?.outcome === 'upgraded')
        upgraded.push(slug);
      const names = footprintNames(slug, { salt: config.nameSalt, incarnation: 1 });
      maxMounts = Math.max(
        maxMounts,
        world.sim.maxConcurrentMounts(`${names.storageAccount}/${names.stateFileShare}`),
      );
    }
    if (upgraded.length !== SLUGS) throw new Error(`only ${upgraded.length} of ${SLUGS} slugs were upgraded`);
    if (maxMounts > 1) throw new Error(`a state share had ${maxMounts} replicas at once`);

    const broker = world.sim.broker.objectId;
    const total = throttleFigures(entries, broker);
    const ringOf = ringByResourceGroup(wave, config.nameSalt);
    const path = criticalPathSeconds();
    const rings = wave.rings.map((ring, index) => {
      const own = entries.filter((entry) => ringOf.get(resourceGroupOf(entry) ?? '') === index);
      const figures = throttleFigures(own, broker);
      return { name: ring.name, slugs: ring.slugs, path, throttle: figures.lowerBound };
    });
    const bakes = BAKE * (wave.rings.length - 1);
    const bound = bakes + rings.reduce((sum, ring) => sum + Math.max(ring.path, ring.throttle), 0);
    const at = (iso: string | undefined) => (iso ? ((Date.parse(iso) - startedAt) / 1000) * scale : NaN);
    wave.rings.forEach((ring, index) =>
      console.log(
        `${ring.name}: ${ring.slugs} slugs, ran ${at(ring.startedAt).toFixed(0)}-${at(ring.endedAt).toFixed(0)} s (${(at(ring.endedAt) - at(ring.startedAt)).toFixed(0)} s); critical path ${rings[index]!.path} s, ARM throttle ${rings[index]!.throttle.toFixed(0)} s`,
      ),
    );
    // Where the ARM requests went, for reading the figures (the throttle's bound is made of them).
    for (const [kind, count] of requestKinds(entries, broker).slice(0, 10))
      console.log(`  ${count} x ${kind} (${(count / SLUGS).toFixed(1)} per slug)`);
    if (smoke && total.throttled > 0)
      throw new Error(`${total.throttled} ARM requests were throttled (429) at smoke size`);

    return [
      {
        name: `upgrade wave over ${SLUGS} slugs in ${wave.rings.length} rings (${label}; ${total.writes} ARM writes, ${total.reads} reads; ${upgraded.length} upgraded, at most ${maxMounts} replica per share)`,
        value: waveSeconds,
        unit: 's Azure time',
        baseline: {
          name: `lower bound: ${bakes} s of bakes + per ring max(critical path ${path} s, ARM throttle)`,
          value: bound,
        },
        target: 1.2,
      },
      {
        name: `HTTP 429 answers during the wave (${label}; ${total.throttledWrites} to writes, ${total.throttled - total.throttledWrites} to reads)`,
        value: total.throttled,
        unit: 'responses',
      },
    ];
  } finally {
    await world.stop();
  }
}

/**
 * One slug's upgrade, in Azure seconds, as far as nothing can overlap it: the running revision's
 * replica drains after the stop (deactivate), the update that starts the target's revision returns
 * when it is ready (update), then the soak.
 */
function criticalPathSeconds(): number {
  const profile = azureLatencyProfile.operations;
  const deactivate = profile['Microsoft.App/containerApps/revisions']!.deactivate!.seconds;
  const update = profile['Microsoft.App/containerApps']!.update!.seconds;
  return deactivate + update + SOAK;
}

function ringByResourceGroup(wave: WaveView, salt: string): Map<string, number> {
  return new Map(
    wave.slugs.map((slug) => [
      footprintNames(slug.slug, { salt, incarnation: 1 }).resourceGroup.toLowerCase(),
      slug.ring,
    ]),
  );
}

/** The broker's accepted ARM requests by method and resource type path, most first. */
function requestKinds(entries: RequestLogEntry[], principal: string): [string, number][] {
  const counts = new Map<string, number>();
  for (const entry of entries) {
    if (entry.surface !== 'arm' || entry.principal !== principal || entry.status === 429) continue;
    const kind = `${entry.method} ${typePath(entry.path)}`;
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1]);
}

/** An ARM path with its names left out: `/providers/Microsoft.App/containerApps/*\/revisions/*`. */
function typePath(path: string): string {
  const segments = path.split('/');
  const providers = segments.findIndex((segment) => segment.toLowerCase() === 'providers');
  return segments
    .map((segment, index) => {
      if (index === providers + 1 && providers >= 0) return segment;
      if (providers < 0 || index <= providers) return index % 2 === 0 && index > 0 ? '*' : segment;
      return (index - providers) % 2 === 1 ? '*' : segment;
    })
    .join('/');
}

function resourceGroupOf(entry: RequestLogEntry): string | undefined {
  return /\/resourceGroups\/([^/]+)/i.exec(entry.path)?.[1]?.toLowerCase();
}

/**
 * Presses Approve on the wave's approval message in the admin chat as an approver, once the message
 * is there (as upgradeWaves.test.ts does): the API's operator started the wave and may not approve
 * its own (ApprovalForbidden). Answers whether it pressed.
 */
async function pressApprove(world: ProvisionWorld, waveId: string): Promise<boolean> {
  const message = world.telegram
    .outbox(SANDBOX_TELEGRAM.adminChatId)
    .filter((entry) => entry.text.includes(`(request wave:${waveId})`))
    .at(-1);
  const data = message?.replyMarkup?.inline_keyboard
    .flat()
    .find((button) => button.text === 'Approve')?.callback_data;
  if (!message || !data) return false;
  await world.telegram.pressButton({
    chatId: message.chatId,
    messageId: message.messageId,
    fromUserId: SANDBOX_TELEGRAM.approvers[0].id,
    callbackData: data,
  });
  return true;
}

/** Polls the wave until it ends, approving its last ring in the admin chat when it asks. */
async function untilEnded(world: ProvisionWorld, waveId: string, scale: number): Promise<WaveView> {
  const deadline = performance.now() + (scale === 1 ? 55 : 10) * 60_000;
  let approved = false;
  for (;;) {
    const answer = await world.api('GET', `/api/upgrades/${encodeURIComponent(waveId)}`);
    const wave = answer.body as unknown as WaveView;
    if (answer.status === 200) {
      if (['completed', 'halted', 'aborted'].includes(wave.status)) return wave;
      if (wave.status === 'awaiting-approval' && !approved) approved = await pressApprove(world, waveId);
      if (process.env['BENCH_TRACE'])
        console.log(
          `${Math.round(performance.now() / 1000)} s: ${wave.status}; ${wave.rings.map((r) => `${r.name} ${r.state} ${r.done}/${r.slugs}`).join(', ')}`,
        );
    }
    if (performance.now() > deadline)
      throw new Error(`wave ${waveId} did not end: ${JSON.stringify(wave.rings)}`);
    await new Promise((resolve) => setTimeout(resolve, Math.max(50, 1_000 / scale)));
  }
}
