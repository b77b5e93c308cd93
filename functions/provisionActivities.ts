import * as df from 'durable-functions';
import { Orchestrations, ProvisionActivities } from '../shared/functionNames.js';
import { STEP_DEPENDENCIES, type GraphStep } from '../shared/provisioning/contracts.js';
import { provisionOrchestration } from '../orchestrations/provision.js';
import { registerActivity, registerStep } from './registerStep.js';
import { services } from './services.js';

df.app.orchestration(Orchestrations.provision, provisionOrchestration);

const steps = () => services().provisionSteps;

/**
 * One activity per step of the graph. Each is safe to run twice (see the step's JSDoc in
 * shared/provisioning/provisionSteps.ts).
 */
for (const step of Object.keys(STEP_DEPENDENCIES) as GraphStep[]) {
  registerStep(ProvisionActivities[step], {
    kind: 'provision',
    label: step,
    scope: (input) => ({ slug: input.plan.slug, requestId: input.plan.requestId }),
    run: (input) => steps()[step](input),
  });
}

/** Plans the run and marks the environment busy; safe to run twice (reads, then sets values). */
registerActivity(ProvisionActivities.prepare, {
  run: (input) => steps().prepare(input),
  log: {
    kind: 'provision',
    label: 'prepare',
    scope: (input) => ({ slug: input.request.slug, requestId: input.request.requestId }),
    fields: (output) => ({ outcome: output.status }),
  },
});

/** Records `ready`; safe to run twice (sets values). */
registerActivity(ProvisionActivities.finish, {
  run: (input) => steps().finish(input),
  log: {
    kind: 'provision',
    label: 'finish',
    scope: (input) => ({ slug: input.plan.slug, requestId: input.plan.requestId }),
  },
});

/** Records `failed` and lists what exists; safe to run twice (sets values, reads). */
registerActivity(ProvisionActivities.recordFailure, { run: (input) => steps().recordFailure(input) });

/** Shows progress on the registry record; safe to run twice (only moves progress forward). */
registerActivity(ProvisionActivities.reportProgress, { run: (input) => steps().reportProgress(input) });
