import { ensureManagedIdentity } from '../../azure/managedIdentity.js';
import type { StepInput } from '../contracts.js';
import { asProvisionOutcome, done, fresh, type StepContext } from './context.js';

export function identityStep(ctx: StepContext, input: StepInput) {
  const { azure } = ctx;
  return asProvisionOutcome(async () => {
    const { plan } = input;
    const ensured = await ensureManagedIdentity(
      azure,
      {
        resourceGroup: plan.names.resourceGroup,
        name: plan.names.managedIdentity,
        slug: plan.slug,
        location: plan.location,
      },
      fresh(input),
    );
    return done(ensured.value, [ensured.change]);
  });
}
