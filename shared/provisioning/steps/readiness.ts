import { gatewayProbeUrl } from '../../azure/gatewayProbe.js';
import { openClawVersionSupport } from '../../openclaw/versions.js';
import type { StepInput } from '../contracts.js';
import { asProvisionOutcome, done, need, type StepContext } from './context.js';

/** One look at the gateway's readiness path; "not yet" until it answers 2xx. Reads only. */
export function readinessStep(ctx: StepContext, input: StepInput) {
  const { deps, config } = ctx;
  return asProvisionOutcome(async () => {
    const { plan } = input;
    const app = need(input, 'containerApp');
    const path = openClawVersionSupport(plan.openclawVersion).probes.readiness;
    const url = gatewayProbeUrl(
      config.openclaw.gatewayUrlTemplate,
      { fqdn: app.fqdn, name: plan.names.containerApp },
      path,
    );
    const answer = await deps.probe(url);
    if (!answer.ready) return { status: 'not-yet', reason: `${path} answered ${answer.reason}` };
    return done({ url });
  });
}
