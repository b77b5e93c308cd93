import { ensureAppInsights, ensureLogAnalyticsWorkspace } from '../../azure/monitoring.js';
import type { StepInput } from '../contracts.js';
import { asProvisionOutcome, done, fresh, need, type StepContext } from './context.js';

export function logAnalyticsStep(ctx: StepContext, input: StepInput) {
  const { azure } = ctx;
  return asProvisionOutcome(async () => {
    const { plan } = input;
    const ensured = await ensureLogAnalyticsWorkspace(
      azure,
      {
        resourceGroup: plan.names.resourceGroup,
        name: plan.names.logAnalyticsWorkspace,
        slug: plan.slug,
        location: plan.location,
      },
      fresh(input),
    );
    return done(ensured.value, [ensured.change]);
  });
}

export function appInsightsStep(ctx: StepContext, input: StepInput) {
  const { azure } = ctx;
  return asProvisionOutcome(async () => {
    const { plan } = input;
    const ensured = await ensureAppInsights(
      azure,
      {
        resourceGroup: plan.names.resourceGroup,
        name: plan.names.applicationInsights,
        slug: plan.slug,
        location: plan.location,
        workspaceId: need(input, 'logAnalytics').id,
      },
      fresh(input),
    );
    return done(ensured.value, [ensured.change]);
  });
}
