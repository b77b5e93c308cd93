import * as df from 'durable-functions';
import { Orchestrations, TeardownActivities } from '../shared/functionNames.js';
import { done } from '../shared/operations/outcome.js';
import type { TeardownPlan } from '../shared/teardown/contracts.js';
import { teardownOrchestration } from '../orchestrations/teardown.js';
import { registerStep } from './registerStep.js';
import { services } from './services.js';

df.app.orchestration(Orchestrations.teardown, teardownOrchestration);

const steps = () => services().teardownSteps;
/** Teardown reads Entra objects provisioning may have created moments ago: replication lag is "not yet". */
const FRESH = { freshEntraObjects: true };
const planScope = (plan: TeardownPlan) => ({ slug: plan.slug, requestId: plan.requestId });

// Each step is safe to run twice; see the step's JSDoc in shared/teardown/steps/. The
// steps answer values or throw; registerStep makes that a StepOutcome like every other step's.
registerStep(TeardownActivities.inspect, {
  kind: 'teardown',
  outcome: FRESH,
  scope: (input) => ({ slug: input.slug, requestId: input.requestId }),
  run: async (input) => done(await steps().inspect(input)),
});
registerStep(TeardownActivities.markDeleting, {
  kind: 'teardown',
  outcome: FRESH,
  scope: (input) => ({ slug: input.slug, requestId: input.requestId }),
  run: async (input) => done(await steps().markDeleting(input)),
});
registerStep(TeardownActivities.backup, {
  kind: 'teardown',
  outcome: FRESH,
  scope: (input) => planScope(input.plan),
  run: async (input) => done(await steps().backup(input)),
});
registerStep(TeardownActivities.deleteResourceGroup, {
  kind: 'teardown',
  outcome: FRESH,
  scope: planScope,
  run: async (plan) => done(await steps().deleteResourceGroup(plan)),
});
registerStep(TeardownActivities.keyVault, {
  kind: 'teardown',
  outcome: FRESH,
  scope: planScope,
  run: async (plan) => done(await steps().handleKeyVault(plan)),
});
registerStep(TeardownActivities.entra, {
  kind: 'teardown',
  outcome: FRESH,
  scope: planScope,
  run: async (plan) => done(await steps().removeEntra(plan)),
});
registerStep(TeardownActivities.finish, {
  kind: 'teardown',
  outcome: FRESH,
  scope: (input) => planScope(input.plan),
  run: async (input) => done(await steps().finish(input)),
});
