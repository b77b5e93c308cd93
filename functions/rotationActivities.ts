import * as df from 'durable-functions';
import type { InvocationContext } from '@azure/functions';
import { Orchestrations, RotationActivities } from '../shared/functionNames.js';
import { createLogger } from '../shared/logger.js';
import type {
  DeliverInput,
  EntraAddInput,
  EntraRetireInput,
  EntraVerifyInput,
  FlagSecretInput,
  GatewayVerifyInput,
  GatewayWriteInput,
  MaintenanceOutcome,
  RecordRotationInput,
  RecordSkipInput,
  RetireVersionsInput,
  RotationPlanInput,
  StorageMoveInput,
  StorageRegenerateInput,
  StorageVerifyInput,
} from '../shared/rotation/contracts.js';
import { entraRetireInstanceId, type RotationSteps } from '../shared/rotation/rotationSteps.js';
import { rotateSecretsOrchestration } from '../orchestrations/rotateSecrets.js';
import { retireEntraSecretOrchestration } from '../orchestrations/retireEntraSecret.js';
import { maintenanceSteps } from './rotationServices.js';

df.app.orchestration(Orchestrations.rotateSecrets, rotateSecretsOrchestration);
df.app.orchestration(Orchestrations.retireEntraSecret, retireEntraSecretOrchestration);

const steps = (): RotationSteps => maintenanceSteps().rotation;

/**
 * Registers a guarded maintenance step as an activity. Each is safe to run twice (see the step's
 * JSDoc in shared/rotation/rotationSteps.ts) and logs only the step, the slug, the request and the
 * outcome's status (or Azure's error code), never a value.
 */
function guardedStep<I extends { target: { slug: string; requestId: string } }>(
  name: string,
  run: (input: I) => Promise<MaintenanceOutcome<unknown>>,
): void {
  df.app.activity(name, {
    handler: async (input: I, context: InvocationContext) => {
      const log = createLogger(context, {
        step: name,
        slug: input.target.slug,
        requestId: input.target.requestId,
      });
      const outcome = await run(input);
      if (outcome.status === 'failed') log.warn('maintenance step failed', { code: outcome.error.code });
      else log.info('maintenance step answered', { status: outcome.status });
      return outcome;
    },
  });
}

/** Plans the rotation; reads only. */
df.app.activity(RotationActivities.plan, {
  handler: (input: RotationPlanInput) => steps().plan(input),
});

guardedStep(RotationActivities.gatewayWrite, (input: GatewayWriteInput) => steps().gatewayWrite(input));
guardedStep(RotationActivities.deliver, (input: DeliverInput) => steps().deliver(input));
guardedStep(RotationActivities.gatewayVerify, (input: GatewayVerifyInput) => steps().gatewayVerify(input));
guardedStep(RotationActivities.retireVersions, (input: RetireVersionsInput) => steps().retireVersions(input));
guardedStep(RotationActivities.storageMove, (input: StorageMoveInput) => steps().storageMove(input));
guardedStep(RotationActivities.storageVerify, (input: StorageVerifyInput) => steps().storageVerify(input));
guardedStep(RotationActivities.storageRegenerate, (input: StorageRegenerateInput) =>
  steps().storageRegenerate(input),
);
guardedStep(RotationActivities.entraAdd, (input: EntraAddInput) => steps().entraAdd(input));
guardedStep(RotationActivities.entraVerify, (input: EntraVerifyInput) => steps().entraVerify(input));
guardedStep(RotationActivities.entraRemove, (input: EntraRetireInput) => steps().entraRemove(input));
guardedStep(RotationActivities.flagSecret, (input: FlagSecretInput) => steps().flagSecret(input));

/** Records a finished rotation; safe to run twice (sets values, only forward). */
df.app.activity(RotationActivities.recordRotation, {
  handler: (input: RecordRotationInput) => steps().recordRotation(input),
});

/** Records a skipped secret and why; safe to run twice (sets values). */
df.app.activity(RotationActivities.recordSkip, {
  handler: (input: RecordSkipInput) => steps().recordSkip(input),
});

/**
 * Starts the detached removal of a replaced Entra client secret (instance
 * `entra-retire:<slug>:<keyId>`). Safe to run twice: an instance of that id is left as it is.
 */
df.app.activity(RotationActivities.entraScheduleRetire, {
  extraInputs: [df.input.durableClient()],
  handler: async (input: EntraRetireInput, context: InvocationContext): Promise<'started' | 'exists'> => {
    const client = df.getClient(context);
    const instanceId = entraRetireInstanceId(input.target.slug, input.keyId);
    try {
      await client.getStatus(instanceId);
      return 'exists';
    } catch (error) {
      if (!/404/.test(error instanceof Error ? error.message : '')) throw error;
    }
    await client.startNew(Orchestrations.retireEntraSecret, { instanceId, input });
    return 'started';
  },
});
