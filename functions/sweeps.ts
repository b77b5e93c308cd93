import { app, type InvocationContext, type Timer } from '@azure/functions';
import { Functions } from '../shared/functionNames.js';
import { createLogger } from '../shared/logger.js';
import { StorageNames } from '../shared/storage/brokerStorage.js';
import type { SweepKind } from '../shared/sweeps/sweepPlanner.js';
import { runSweep, type SweepReport } from '../shared/sweeps/sweepRunner.js';
import { occurrenceTime } from './timerOccurrence.js';
import { services, sweepControl } from './services.js';

/*
 * The sweeps' timer triggers. The HTTP endpoints that read and set the sweeps' switches are in
 * functions/api/sweeps.ts.
 */

async function sweep(kind: SweepKind, timer: Timer, context: InvocationContext): Promise<SweepReport> {
  const { config, registry, requests, storage } = services();
  const log = createLogger(context, { sweep: kind });
  const report = await runSweep(kind, occurrenceTime(timer), {
    config,
    registry,
    requests,
    control: sweepControl(),
    queue: () => storage.queue(StorageNames.lifecycleQueue),
    log,
  });
  if (report.paused) log.info('sweep paused: nothing enqueued', { reason: report.paused });
  return report;
}

/** Rotation sweep (ROTATION_SWEEP_SCHEDULE): enqueues rotate-secrets for slugs with a secret due. */
app.timer(Functions.rotationSweep, {
  schedule: '%ROTATION_SWEEP_SCHEDULE%',
  handler: async (timer: Timer, context: InvocationContext) => {
    await sweep('rotation', timer, context);
  },
});

/** SAS sweep (SAS_SWEEP_SCHEDULE): enqueues renew-sas for slugs whose SAS is due (or missing). */
app.timer(Functions.sasSweep, {
  schedule: '%SAS_SWEEP_SCHEDULE%',
  handler: async (timer: Timer, context: InvocationContext) => {
    await sweep('sas', timer, context);
  },
});
