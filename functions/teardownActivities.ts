import * as df from 'durable-functions';
import { AzureClients } from '../shared/azure/azureClients.js';
import { brokerCredential, brokerPrincipalId } from '../shared/azure/credential.js';
import { EntraClient } from '../shared/azure/entra.js';
import { Orchestrations, TeardownActivities } from '../shared/functionNames.js';
import type {
  BackupFacts,
  BackupInput,
  EntraOutcome,
  FinishInput,
  InspectInput,
  Inspection,
  MarkInput,
  TeardownPlan,
  VaultOutcome,
} from '../shared/teardown/contracts.js';
import { createTeardownSteps, type TeardownSteps } from '../shared/teardown/teardownSteps.js';
import { teardownOrchestration } from '../orchestrations/teardown.js';
import { services } from './services.js';

df.app.orchestration(Orchestrations.teardown, teardownOrchestration);

let steps: TeardownSteps | undefined;

/** The teardown steps over the app's Azure clients, Graph, registry and storage, built on first use. */
function teardownSteps(): TeardownSteps {
  if (!steps) {
    const { config, registry, storage } = services();
    const credential = brokerCredential(config);
    steps = createTeardownSteps({
      config,
      azure: new AzureClients(config, credential),
      entra: new EntraClient(credential, config.azure.graphEndpoint),
      registry,
      storage,
      brokerPrincipalId: () => brokerPrincipalId(config, credential),
    });
  }
  return steps;
}

/** Each activity is safe to run twice; see the step's JSDoc in shared/teardown/teardownSteps.ts. */
df.app.activity(TeardownActivities.inspect, {
  handler: (input: InspectInput): Promise<Inspection> => teardownSteps().inspect(input),
});

df.app.activity(TeardownActivities.markDeleting, {
  handler: (input: MarkInput): Promise<void> => teardownSteps().markDeleting(input),
});

df.app.activity(TeardownActivities.backup, {
  handler: (input: BackupInput): Promise<BackupFacts> => teardownSteps().backup(input),
});

df.app.activity(TeardownActivities.deleteResourceGroup, {
  handler: (plan: TeardownPlan): Promise<void> => teardownSteps().deleteResourceGroup(plan),
});

df.app.activity(TeardownActivities.keyVault, {
  handler: (plan: TeardownPlan): Promise<VaultOutcome> => teardownSteps().handleKeyVault(plan),
});

df.app.activity(TeardownActivities.entra, {
  handler: (plan: TeardownPlan): Promise<EntraOutcome> => teardownSteps().removeEntra(plan),
});

df.app.activity(TeardownActivities.finish, {
  handler: (input: FinishInput): Promise<void> => teardownSteps().finish(input),
});
