import { ensureEnvironmentStorage, ensureManagedEnvironment } from '../../azure/containerApps.js';
import type { StepInput } from '../contracts.js';
import { asProvisionOutcome, done, fresh, need, type StepContext } from './context.js';

/** The environment, shipping its logs to the workspace. Idempotent: read first. */
export function managedEnvironmentStep(ctx: StepContext, input: StepInput) {
  const { azure } = ctx;
  return asProvisionOutcome(async () => {
    const { plan } = input;
    const { names } = plan;
    const ensured = await ensureManagedEnvironment(
      azure,
      {
        resourceGroup: names.resourceGroup,
        name: names.managedEnvironment,
        slug: plan.slug,
        location: plan.location,
        workspace: {
          resourceGroup: names.resourceGroup,
          name: names.logAnalyticsWorkspace,
          customerId: need(input, 'logAnalytics').customerId,
        },
      },
      fresh(input),
    );
    return done(ensured.value, [ensured.change]);
  });
}

/** The state share registered on the environment, for the app to mount. Idempotent: read first. */
export function environmentStorageStep(ctx: StepContext, input: StepInput) {
  const { azure } = ctx;
  return asProvisionOutcome(async () => {
    const { names } = input.plan;
    need(input, 'managedEnvironment');
    const change = await ensureEnvironmentStorage(
      azure,
      {
        resourceGroup: names.resourceGroup,
        environmentName: names.managedEnvironment,
        storageName: names.environmentStorage,
        accountName: need(input, 'storage').accountName,
        shareName: names.stateFileShare,
      },
      fresh(input),
    );
    return done({ storageName: names.environmentStorage }, [change]);
  });
}
