import { ensureResourceGroup } from '../../azure/resourceGroups.js';
import type { StepInput } from '../contracts.js';
import { asProvisionOutcome, done, type StepContext } from './context.js';

/** Idempotent: ensureResourceGroup reads first and refuses a group it does not own. */
export function resourceGroupStep(ctx: StepContext, input: StepInput) {
  const { azure } = ctx;
  return asProvisionOutcome(async () => {
    const { plan } = input;
    const ensured = await ensureResourceGroup(azure, {
      name: plan.names.resourceGroup,
      slug: plan.slug,
      location: plan.location,
    });
    return done(ensured.value, [ensured.change]);
  });
}
