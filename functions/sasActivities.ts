import * as df from 'durable-functions';
import { Orchestrations, SasActivities } from '../shared/functionNames.js';
import { renewSasOrchestration } from '../orchestrations/renewSas.js';
import { registerActivity, registerStep } from './registerStep.js';
import { services } from './services.js';

df.app.orchestration(Orchestrations.renewSas, renewSasOrchestration);

const steps = () => services().sasSteps;

/** Plans the renewal; reads only. */
registerActivity(SasActivities.plan, { run: (input) => steps().plan(input) });

/** The broker's blob roles on the slug's account; idempotent (read before written). */
registerStep(SasActivities.grant, {
  kind: 'sas',
  scope: (input) => ({ slug: input.target.slug, requestId: input.target.requestId }),
  run: (input) => steps().grant(input),
});

/** Issues and stores the SAS; safe to run twice (finds its own version, refuses to replace a newer one). */
registerStep(SasActivities.issue, {
  kind: 'sas',
  scope: (input) => ({ slug: input.target.slug, requestId: input.target.requestId }),
  run: (input) => steps().issue(input),
});

/** Records expiry and renewal time; safe to run twice (sets values, only forward). */
registerActivity(SasActivities.record, { run: (input) => steps().record(input) });

/** Counts a failure, sets the back-off and alerts; safe to run twice (once per request). */
registerActivity(SasActivities.recordFailure, { run: (input) => steps().recordFailure(input) });
