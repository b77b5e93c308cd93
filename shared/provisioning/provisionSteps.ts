import type {
  FinishInput,
  PrepareInput,
  RecordFailureInput,
  ReportProgressInput,
  StepInput,
} from './contracts.js';
import { authConfigStep } from './steps/authConfig.js';
import { finishStep, recordFailureStep, reportProgressStep } from './steps/bookkeeping.js';
import { containerAppStep } from './steps/containerApp.js';
import { stepContext, type ProvisionDependencies } from './steps/context.js';
import { entraStep } from './steps/entra.js';
import { environmentStorageStep, managedEnvironmentStep } from './steps/environment.js';
import { identityStep } from './steps/identity.js';
import { keyVaultStep } from './steps/keyVault.js';
import { appInsightsStep, logAnalyticsStep } from './steps/monitoring.js';
import { prepareStep } from './steps/prepare.js';
import { readinessStep } from './steps/readiness.js';
import { resourceGroupStep } from './steps/resourceGroup.js';
import { roleAssignmentsStep } from './steps/roleAssignments.js';
import { secretsStep } from './steps/secrets.js';
import { storageStep } from './steps/storage.js';

export { asProvisionOutcome, type ProvisionDependencies } from './steps/context.js';

/**
 * The provisioning steps, each safe to run twice (it says how). Activities in
 * functions/provisionActivities.ts call these; the orchestration in orchestrations/provision.ts
 * decides the order. Each step is a named function in ./steps/, testable alone with a StepContext
 * (stepContext(deps)); this binds them to one set of dependencies.
 */
export function createProvisionSteps(deps: ProvisionDependencies) {
  const ctx = stepContext(deps);
  return {
    prepare: (input: PrepareInput) => prepareStep(ctx, input),
    resourceGroup: (input: StepInput) => resourceGroupStep(ctx, input),
    identity: (input: StepInput) => identityStep(ctx, input),
    keyVault: (input: StepInput) => keyVaultStep(ctx, input),
    storage: (input: StepInput) => storageStep(ctx, input),
    logAnalytics: (input: StepInput) => logAnalyticsStep(ctx, input),
    roleAssignments: (input: StepInput) => roleAssignmentsStep(ctx, input),
    appInsights: (input: StepInput) => appInsightsStep(ctx, input),
    managedEnvironment: (input: StepInput) => managedEnvironmentStep(ctx, input),
    environmentStorage: (input: StepInput) => environmentStorageStep(ctx, input),
    secrets: (input: StepInput) => secretsStep(ctx, input),
    entra: (input: StepInput) => entraStep(ctx, input),
    containerApp: (input: StepInput) => containerAppStep(ctx, input),
    authConfig: (input: StepInput) => authConfigStep(ctx, input),
    readiness: (input: StepInput) => readinessStep(ctx, input),
    finish: (input: FinishInput) => finishStep(ctx, input),
    recordFailure: (input: RecordFailureInput) => recordFailureStep(ctx, input),
    reportProgress: (input: ReportProgressInput) => reportProgressStep(ctx, input),
  };
}

export type ProvisionSteps = ReturnType<typeof createProvisionSteps>;
