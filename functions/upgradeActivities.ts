import * as df from 'durable-functions';
import { Orchestrations, UpgradeActivities } from '../shared/functionNames.js';
import { upgradeOrchestration } from '../orchestrations/upgrade.js';
import type { UpgradeStepInput } from '../shared/upgrades/contracts.js';
import { registerStep } from './registerStep.js';
import { services } from './services.js';

df.app.orchestration(Orchestrations.upgrade, upgradeOrchestration);

const steps = () => services().upgradeSteps;
const scope = (input: UpgradeStepInput) => ({
  slug: input.plan.target.slug,
  requestId: input.plan.target.requestId,
});

/** Reads the registry, the live app, npm and the image registry; writes nothing. */
registerStep(UpgradeActivities.plan, {
  kind: 'upgrade',
  label: 'plan',
  scope: (input) => ({ slug: input.request.slug, requestId: input.request.requestId }),
  run: (input) => steps().plan(input),
});

/** Renders and checks the target's config and body; writes nothing. */
registerStep(UpgradeActivities.preflight, {
  kind: 'upgrade',
  label: 'preflight',
  scope,
  run: (input) => steps().preflight(input),
});

/** Deactivates every active revision; "not yet" until none has a replica. Safe to run twice. */
registerStep(UpgradeActivities.stop, {
  kind: 'upgrade',
  label: 'stop',
  scope,
  run: (input) => steps().stop(input),
});

/** Snapshots the state share once per request (a second run answers the recorded snapshot). */
registerStep(UpgradeActivities.snapshot, {
  kind: 'upgrade',
  label: 'snapshot',
  scope,
  run: (input) => steps().snapshot(input),
});

/** Deploys the target under the request's revision name; a second run finds it. */
registerStep(UpgradeActivities.start, {
  kind: 'upgrade',
  label: 'start',
  scope,
  run: (input) => steps().start(input),
});

/** One look at a revision's replicas and the gateway's readiness; reads only. */
registerStep(UpgradeActivities.gate, {
  kind: 'upgrade',
  label: 'gate',
  scope,
  run: (input) => steps().gate(input),
});

/** Records the new release and prunes old snapshots; sets values, safe to run twice. */
registerStep(UpgradeActivities.commit, {
  kind: 'upgrade',
  label: 'commit',
  scope,
  run: (input) => steps().commit(input),
});

/** Makes the state share equal to the snapshot; converges when run again. */
registerStep(UpgradeActivities.restore, {
  kind: 'upgrade',
  label: 'rollback restore',
  scope,
  run: (input) => steps().restore(input),
});

/** Activates the previous revision and routes all traffic to it; no-op when already so. */
registerStep(UpgradeActivities.reactivate, {
  kind: 'upgrade',
  label: 'rollback reactivate',
  scope,
  run: (input) => steps().reactivate(input),
});

/** Records the rollback and tells the admin chat once. */
registerStep(UpgradeActivities.recordRollback, {
  kind: 'upgrade',
  label: 'rollback record',
  scope,
  run: (input) => steps().recordRollback(input),
});

/** Stops every revision, marks the slug needs-repair and tells the admin chat once. */
registerStep(UpgradeActivities.needsRepair, {
  kind: 'upgrade',
  label: 'needs repair',
  scope,
  run: (input) => steps().needsRepair(input),
});
