import { ensureKeyVault } from '../../azure/keyVault.js';
import type { StepInput } from '../contracts.js';
import { asProvisionOutcome, done, type StepContext } from './context.js';

export function keyVaultStep(ctx: StepContext, input: StepInput) {
  const { azure } = ctx;
  return asProvisionOutcome(async () => {
    const { plan } = input;
    const ensured = await ensureKeyVault(azure, {
      resourceGroup: plan.names.resourceGroup,
      name: plan.names.keyVault,
      slug: plan.slug,
      location: plan.location,
      tenantId: plan.tenantId,
    });
    return done(ensured.value, [ensured.change]);
  });
}
