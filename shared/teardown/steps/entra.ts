import type { EntraOutcome, TeardownPlan } from '../contracts.js';
import type { TeardownStepsDeps } from './deps.js';

/** Removes the slug's Entra app registration and group. Safe to run twice: missing ones are skipped. */
export async function removeEntra(
  deps: Pick<TeardownStepsDeps, 'entra'>,
  plan: TeardownPlan,
): Promise<EntraOutcome> {
  const removed: string[] = [];
  if (plan.entra.application && (await deps.entra.deleteApplication(plan.entra.application.id))) {
    removed.push(`Entra application ${plan.entraNames.application}`);
  }
  if (plan.entra.group && (await deps.entra.deleteGroup(plan.entra.group.id))) {
    removed.push(`Entra group ${plan.entraNames.group}`);
  }
  return { removed };
}
