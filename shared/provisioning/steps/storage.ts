import { ensureStorage } from '../../azure/storage.js';
import type { StepInput } from '../contracts.js';
import { asProvisionOutcome, done, fresh, type StepContext } from './context.js';

export function storageStep(ctx: StepContext, input: StepInput) {
  const { azure } = ctx;
  return asProvisionOutcome(async () => {
    const { plan } = input;
    const ensured = await ensureStorage(
      azure,
      {
        resourceGroup: plan.names.resourceGroup,
        accountName: plan.names.storageAccount,
        shareName: plan.names.stateFileShare,
        containerName: plan.names.logContainer,
        slug: plan.slug,
        location: plan.location,
      },
      fresh(input),
    );
    return done(ensured.value, ensured.changes);
  });
}
