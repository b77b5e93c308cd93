import * as df from 'durable-functions';
import { Orchestrations, RotationActivities } from '../shared/functionNames.js';
import type { StepBase } from '../shared/maintenance/contracts.js';
import { entraRetireInstanceId } from '../shared/rotation/rotationSteps.js';
import { rotateSecretsOrchestration } from '../orchestrations/rotateSecrets.js';
import { retireEntraSecretOrchestration } from '../orchestrations/retireEntraSecret.js';
import { isDurableNotFound } from './durableClient.js';
import { registerActivity, registerStep } from './registerStep.js';
import { services } from './services.js';

df.app.orchestration(Orchestrations.rotateSecrets, rotateSecretsOrchestration);
df.app.orchestration(Orchestrations.retireEntraSecret, retireEntraSecretOrchestration);

const steps = () => services().rotationSteps;
const scope = (input: Pick<StepBase, 'target'>) => ({
  slug: input.target.slug,
  requestId: input.target.requestId,
});

/** Plans the rotation; reads only. */
registerActivity(RotationActivities.plan, { run: (input) => steps().plan(input) });

// The guarded steps: each safe to run twice (see the step's JSDoc in shared/rotation/steps/ and shared/maintenance/deliver.ts).
registerStep(RotationActivities.gatewayWrite, {
  kind: 'maintenance',
  scope,
  run: (input) => steps().gatewayWrite(input),
});
registerStep(RotationActivities.deliver, {
  kind: 'maintenance',
  scope,
  run: (input) => steps().deliver(input),
});
registerStep(RotationActivities.gatewayVerify, {
  kind: 'maintenance',
  scope,
  run: (input) => steps().gatewayVerify(input),
});
registerStep(RotationActivities.retireVersions, {
  kind: 'maintenance',
  scope,
  run: (input) => steps().retireVersions(input),
});
registerStep(RotationActivities.storageMove, {
  kind: 'maintenance',
  scope,
  run: (input) => steps().storageMove(input),
});
registerStep(RotationActivities.storageVerify, {
  kind: 'maintenance',
  scope,
  run: (input) => steps().storageVerify(input),
});
registerStep(RotationActivities.storageRegenerate, {
  kind: 'maintenance',
  scope,
  run: (input) => steps().storageRegenerate(input),
});
registerStep(RotationActivities.entraAdd, {
  kind: 'maintenance',
  scope,
  run: (input) => steps().entraAdd(input),
});
registerStep(RotationActivities.entraVerify, {
  kind: 'maintenance',
  scope,
  run: (input) => steps().entraVerify(input),
});
registerStep(RotationActivities.entraRemove, {
  kind: 'maintenance',
  scope,
  run: (input) => steps().entraRemove(input),
});
registerStep(RotationActivities.flagSecret, {
  kind: 'maintenance',
  scope,
  run: (input) => steps().flagSecret(input),
});

/** Records a finished rotation; safe to run twice (sets values, only forward). */
registerActivity(RotationActivities.recordRotation, { run: (input) => steps().recordRotation(input) });

/** Records a skipped secret and why; safe to run twice (sets values). */
registerActivity(RotationActivities.recordSkip, { run: (input) => steps().recordSkip(input) });

/**
 * Starts the detached removal of a replaced Entra client secret (instance
 * `entra-retire:<slug>:<keyId>`). Safe to run twice: an instance of that id is left as it is.
 */
registerActivity(RotationActivities.entraScheduleRetire, {
  extraInputs: [df.input.durableClient()],
  run: async (input, context) => {
    const client = df.getClient(context);
    const instanceId = entraRetireInstanceId(input.target.slug, input.keyId);
    try {
      await client.getStatus(instanceId);
      return 'exists';
    } catch (error) {
      if (!isDurableNotFound(error)) throw error;
    }
    await client.startNew(Orchestrations.retireEntraSecret, { instanceId, input });
    return 'started';
  },
});
