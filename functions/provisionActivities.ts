import * as df from 'durable-functions';
import type { InvocationContext } from '@azure/functions';
import { AzureClients } from '../shared/azure/azureClients.js';
import { brokerCredential, brokerPrincipalId } from '../shared/azure/credential.js';
import { EntraClient } from '../shared/azure/entra.js';
import { probeGateway } from '../shared/azure/gatewayProbe.js';
import { Orchestrations, ProvisionActivities } from '../shared/functionNames.js';
import { createLogger } from '../shared/logger.js';
import {
  STEP_DEPENDENCIES,
  type FinishInput,
  type GraphStep,
  type PrepareInput,
  type RecordFailureInput,
  type ReportProgressInput,
  type StepInput,
  type StepOutcome,
} from '../shared/provisioning/contracts.js';
import { createProvisionSteps, type ProvisionSteps } from '../shared/provisioning/provisionSteps.js';
import { provisionOrchestration } from '../orchestrations/provision.js';
import { services } from './services.js';

df.app.orchestration(Orchestrations.provision, provisionOrchestration);

let steps: ProvisionSteps | undefined;

/** The provisioning steps over the app's Azure clients and registry, built on first use. */
function provisionSteps(): ProvisionSteps {
  if (!steps) {
    const { config, registry } = services();
    const credential = brokerCredential(config);
    steps = createProvisionSteps({
      config,
      registry,
      azure: new AzureClients(config, credential),
      entra: new EntraClient(credential, config.azure.graphEndpoint),
      brokerPrincipalId: () => brokerPrincipalId(config, credential),
      probe: probeGateway,
    });
  }
  return steps;
}

const GRAPH_STEPS = Object.keys(STEP_DEPENDENCIES) as GraphStep[];

/**
 * One activity per step. Each is safe to run twice (see the step's JSDoc in provisionSteps.ts) and
 * logs only the step, the slug and the outcome's status or Azure error code.
 */
for (const step of GRAPH_STEPS) {
  df.app.activity(ProvisionActivities[step], {
    handler: async (input: StepInput, context: InvocationContext): Promise<StepOutcome<unknown>> => {
      const log = createLogger(context, { step, slug: input.plan.slug, requestId: input.plan.requestId });
      log.info('provision step started');
      const outcome = await provisionSteps()[step](input);
      if (outcome.status === 'failed') log.warn('provision step failed', { code: outcome.error.code });
      else if (outcome.status === 'not-yet') log.info('provision step not yet done');
      else log.info('provision step done', { changes: outcome.changes.length });
      return outcome;
    },
  });
}

/** Plans the run and marks the environment busy; safe to run twice (reads, then sets values). */
df.app.activity(ProvisionActivities.prepare, {
  handler: async (input: PrepareInput, context: InvocationContext) => {
    const log = createLogger(context, {
      step: 'prepare',
      slug: input.request.slug,
      requestId: input.request.requestId,
    });
    log.info('provision step started');
    const outcome = await provisionSteps().prepare(input);
    log.info('provision step done', { outcome: outcome.status });
    return outcome;
  },
});

/** Records `ready`; safe to run twice (sets values). */
df.app.activity(ProvisionActivities.finish, {
  handler: async (input: FinishInput, context: InvocationContext) => {
    const log = createLogger(context, {
      step: 'finish',
      slug: input.plan.slug,
      requestId: input.plan.requestId,
    });
    log.info('provision step started');
    await provisionSteps().finish(input);
    log.info('provision step done');
  },
});

/** Records `failed` and lists what exists; safe to run twice (sets values, reads). */
df.app.activity(ProvisionActivities.recordFailure, {
  handler: (input: RecordFailureInput) => provisionSteps().recordFailure(input),
});

/** Shows progress on the registry record; safe to run twice (only moves progress forward). */
df.app.activity(ProvisionActivities.reportProgress, {
  handler: (input: ReportProgressInput) => provisionSteps().reportProgress(input),
});
