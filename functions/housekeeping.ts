import { app, type InvocationContext, type Timer } from '@azure/functions';
import { Functions } from '../shared/functionNames.js';
import { runHousekeeping } from '../shared/housekeeping/housekeeping.js';
import { createLogger } from '../shared/logger.js';
import { NonceStore } from '../shared/storage/nonceStore.js';
import { SeenUpdateStore } from '../shared/storage/seenUpdateStore.js';
import { TeardownBackupStore } from '../shared/storage/teardownBackupStore.js';
import { services } from './services.js';
import { drainUnreadableIntake } from './intake.js';
import { occurrenceTime } from './timerOccurrence.js';

/**
 * Housekeeping, daily at 02:30 UTC: deletes expired chat button nonces, old seen Telegram update
 * ids and teardown backups past their retention (shared/housekeeping), and records the intake
 * messages the host could not deliver to either queue trigger (functions/intake.ts). The schedule
 * is fixed: it is not a policy anyone tunes, and a daily run keeps each run small.
 */
app.timer(Functions.housekeeping, {
  schedule: '0 30 2 * * *',
  handler: async (timer: Timer, context: InvocationContext) => {
    const { storage, config, upgradeWaves } = services();
    await runHousekeeping(
      {
        nonces: new NonceStore(storage),
        seenUpdates: new SeenUpdateStore(storage),
        teardownBackups: new TeardownBackupStore(storage),
        upgradeWaves: { store: upgradeWaves, retentionMs: config.waves.retentionMs },
      },
      occurrenceTime(timer),
      createLogger(context, { function: Functions.housekeeping }),
    );
    await drainUnreadableIntake(context);
  },
});
