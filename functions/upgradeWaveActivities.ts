import { app, type InvocationContext, type Timer } from '@azure/functions';
import * as df from 'durable-functions';
import { OrchestrationRuntimeStatus, type DurableClient } from 'durable-functions';
import { Functions, Orchestrations, UpgradeWaveActivities } from '../shared/functionNames.js';
import { createLogger } from '../shared/logger.js';
import type { RequestedBy } from '../shared/requests/lifecycleRequest.js';
import { waveInstanceId, type WaveInput } from '../shared/upgrades/waveContracts.js';
import type { StartOutcome } from '../shared/upgrades/waveSteps.js';
import { upgradeWaveOrchestration } from '../orchestrations/upgradeWave.js';
import { isDurableNotFound } from './durableClient.js';
import { registerActivity } from './registerStep.js';
import { services, sweepControl } from './services.js';
import { occurrenceTime } from './timerOccurrence.js';

/*
 * The fleet upgrade wave (issue 14, item 3): its orchestration and its activities. The work is in
 * shared/upgrades/waveSteps.ts; each activity is safe to run twice (see there).
 */

df.app.orchestration(Orchestrations.upgradeWave, upgradeWaveOrchestration);

const steps = () => services().waveSteps;
const scope = (input: { waveId: string }) => ({ requestId: input.waveId });

/** Plans the rings from the registry; a wave already planned answers its plan as written. */
registerActivity(UpgradeWaveActivities.plan, {
  run: (input) => steps().plan(input),
  log: { kind: 'wave', label: 'plan', scope, fields: (output) => ({ status: output.status }) },
});

/** Records and enqueues the ring's per-slug upgrades under deterministic ids; sends each once. */
registerActivity(UpgradeWaveActivities.enqueue, {
  run: (input) => steps().enqueue(input),
  log: {
    kind: 'wave',
    label: 'enqueue',
    scope,
    fields: (output) => ({
      enqueued: output.enqueued,
      known: output.known,
      skipped: output.skipped,
      failed: output.failed,
    }),
  },
});

/** Reads how the ring's upgrades ended (registry and request store); writes what changed. */
registerActivity(UpgradeWaveActivities.observe, { run: (input) => steps().observe(input) });

/** Records status and ring state, edits the chat message, answers the stored control. */
registerActivity(UpgradeWaveActivities.report, { run: (input) => steps().report(input) });

const STOPPED = new Set<OrchestrationRuntimeStatus>([
  OrchestrationRuntimeStatus.Completed,
  OrchestrationRuntimeStatus.Failed,
  OrchestrationRuntimeStatus.Terminated,
]);

/** A wave whose starter wrote nothing for this long, with no orchestration, is not starting any more. */
const START_GRACE_MS = 2 * 60_000;

/**
 * Starts a wave to `version` (the API and the timer): the wave steps check the version and take
 * the one running slot, then the orchestration starts under `wave:<waveId>`. A slot held by a wave
 * whose orchestration stopped (or never started) is taken over.
 */
export async function launchWave(
  client: DurableClient,
  version: string,
  requestedBy: RequestedBy,
  now: Date,
): Promise<StartOutcome> {
  const { waveSteps, upgradeWaves } = services();
  const outcome = await waveSteps.start({
    version,
    requestedBy,
    now,
    isOver: async (heldBy) => {
      try {
        const status = await client.getStatus(waveInstanceId(heldBy));
        return STOPPED.has(status.runtimeStatus);
      } catch (error) {
        if (!isDurableNotFound(error)) throw error;
        const record = await upgradeWaves.get(heldBy);
        return !record || now.getTime() - Date.parse(record.createdAt) > START_GRACE_MS;
      }
    },
  });
  if (outcome.kind === 'started') {
    const input: WaveInput = { waveId: outcome.wave.waveId };
    await client.startNew(Orchestrations.upgradeWave, {
      instanceId: waveInstanceId(outcome.wave.waveId),
      input,
    });
  }
  return outcome;
}

/**
 * The upgrade timer (UPGRADE_WAVE_SCHEDULE; it starts waves only with UPGRADE_AUTO_WAVES=true):
 * a wave to the newest eligible version above the oldest one a ready slug runs, when no wave runs,
 * the sweeps are not paused, and no wave to that version halted or was aborted.
 */
app.timer(Functions.upgradeWaveTimer, {
  schedule: '%UPGRADE_WAVE_SCHEDULE%',
  extraInputs: [df.input.durableClient()],
  handler: async (timer: Timer, context: InvocationContext) => {
    const { config, waveSteps } = services();
    const log = createLogger(context, { timer: Functions.upgradeWaveTimer });
    if (!config.waves.auto) return log.info('upgrade timer: UPGRADE_AUTO_WAVES is off; nothing started');
    const pause = await sweepControl().get();
    if (config.sweepsPaused || pause?.paused)
      return log.info('upgrade timer: sweeps are paused; nothing started');
    const now = occurrenceTime(timer);
    const target = await waveSteps.autoTarget(now);
    if ('nothing' in target) return log.info('upgrade timer: nothing to start', { reason: target.nothing });
    const outcome = await launchWave(
      df.getClient(context),
      target.version,
      { kind: 'timer', id: 'upgrade-timer' },
      now,
    );
    if (outcome.kind === 'started') log.info('upgrade timer started a wave', { waveId: outcome.wave.waveId });
    else
      log.info('upgrade timer: wave refused', { code: outcome.refusal.code, reason: outcome.refusal.detail });
  },
});
