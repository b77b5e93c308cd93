import * as df from 'durable-functions';
import type { InvocationContext } from '@azure/functions';
import { Orchestrations, SasActivities } from '../shared/functionNames.js';
import { createLogger } from '../shared/logger.js';
import type { MaintenanceOutcome } from '../shared/rotation/contracts.js';
import type {
  SasFailureInput,
  SasGrantInput,
  SasIssueInput,
  SasPlanInput,
  SasRecordInput,
} from '../shared/sas/contracts.js';
import type { SasSteps } from '../shared/sas/sasSteps.js';
import { renewSasOrchestration } from '../orchestrations/renewSas.js';
import { maintenanceSteps } from './rotationServices.js';

df.app.orchestration(Orchestrations.renewSas, renewSasOrchestration);

const steps = (): SasSteps => maintenanceSteps().sas;

function logged<I extends { target: { slug: string; requestId: string } }>(
  name: string,
  run: (input: I) => Promise<MaintenanceOutcome<unknown>>,
) {
  return async (input: I, context: InvocationContext) => {
    const log = createLogger(context, {
      step: name,
      slug: input.target.slug,
      requestId: input.target.requestId,
    });
    const outcome = await run(input);
    if (outcome.status === 'failed') log.warn('sas step failed', { code: outcome.error.code });
    else log.info('sas step answered', { status: outcome.status });
    return outcome;
  };
}

/** Plans the renewal; reads only. */
df.app.activity(SasActivities.plan, { handler: (input: SasPlanInput) => steps().plan(input) });

/** The broker's blob roles on the slug's account; idempotent (read before written). */
df.app.activity(SasActivities.grant, {
  handler: logged(SasActivities.grant, (input: SasGrantInput) => steps().grant(input)),
});

/** Issues and stores the SAS; safe to run twice (finds its own version, refuses to replace a newer one). */
df.app.activity(SasActivities.issue, {
  handler: logged(SasActivities.issue, (input: SasIssueInput) => steps().issue(input)),
});

/** Records expiry and renewal time; safe to run twice (sets values, only forward). */
df.app.activity(SasActivities.record, { handler: (input: SasRecordInput) => steps().record(input) });

/** Counts a failure, sets the back-off and alerts; safe to run twice (once per request). */
df.app.activity(SasActivities.recordFailure, {
  handler: (input: SasFailureInput) => steps().recordFailure(input),
});
