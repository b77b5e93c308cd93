import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventType } from '../../sandbox/host/index.js';
import type { Fault } from '../../sandbox/sim/faults.js';
import { ProvisionWorld } from './provisionWorld.js';

/**
 * Azure's bad days, injected with simulator faults: throttling storms, server errors, failed
 * long-running operations and slow (or stuck) role propagation. Each case converges or fails with a
 * reason that names the step, Azure's code and message, and what exists; a failed one converges on
 * the next request. The SDK pipelines here retry 3 times, so a long storm also exercises the
 * orchestration's own activity retry.
 */
let world: ProvisionWorld;
let tokens = 0;

beforeAll(async () => {
  world = await ProvisionWorld.start({
    settings: {
      AZURE_MAX_RETRIES: '3',
      PROVISION_PROPAGATION_TIMEOUT: '6s',
      PROVISION_READY_TIMEOUT: '4s',
    },
  });
});

afterAll(async () => {
  await world?.stop();
});

const tokensBySlug = new Map<string, string>();

/**
 * Provisions with the slug's bot token staged for this request, as the API does when an operator
 * resends it with a retry (a request may only refer to its own staged secret).
 */
async function provision(slug: string, requestId: string) {
  let token = tokensBySlug.get(slug);
  if (!token) {
    token = `7000000042:AAH0faults${(tokens++).toString().padStart(4, '0')}Token0123456789abcdef`;
    tokensBySlug.set(slug, token);
  }
  const ref = await world.stageSecret(requestId, token);
  return world.provision(slug, requestId, { telegramBotToken: { secretRef: ref } });
}

/** Polls until `check` returns a value; the bound is a safety net, not an assertion. */
async function eventually<T>(check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('gave up waiting');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const fired = (fault: Fault) =>
  world.sim.admin.faults().find((candidate) => candidate.id === fault.id)!.fired;

describe('provisioning through Azure faults', () => {
  it('rides out a 429 storm, waiting Retry-After between attempts, past the SDK retries into the activity retry', async () => {
    const path =
      '/resourceGroups/claw-f-storm/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-f-storm$';
    const storm = world.sim.admin.addFault({
      kind: 'http',
      status: 429,
      retryAfterSeconds: 1,
      method: 'PUT',
      path,
      count: 6,
    });
    const before = world.lastSeq();
    const view = await provision('f-storm', 'fault-storm');
    expect(view, JSON.stringify(view)).toMatchObject({ status: 'succeeded' });
    expect(fired(storm)).toBe(6);

    const puts = world
      .requests(before)
      .filter((entry) => entry.method === 'PUT' && new RegExp(path, 'i').test(entry.path));
    expect(puts.map((entry) => entry.status)).toEqual([429, 429, 429, 429, 429, 429, 201]);
    const gaps = puts.slice(1).map((entry, index) => Date.parse(entry.at) - Date.parse(puts[index]!.at));
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(1000);
  });

  it('rides out server errors from ARM and Key Vault', async () => {
    const arm = world.sim.admin.addFault({
      kind: 'http',
      status: 500,
      method: 'PUT',
      path: '/resourceGroups/claw-f-5xx/providers/Microsoft.Storage/storageAccounts/[^/]+$',
      count: 2,
    });
    const vault = world.sim.admin.addFault({
      kind: 'http',
      status: 503,
      path: '/keyvault/kv-f-5xx-[^/]+/secrets/gateway-token',
      count: 2,
    });
    const view = await provision('f-5xx', 'fault-5xx');
    expect(view, JSON.stringify(view)).toMatchObject({ status: 'succeeded' });
    expect([fired(arm), fired(vault)]).toEqual([2, 2]);
  });

  it('fails on a failed long-running operation with the step, Azure’s error and what exists, and converges on the next request', async () => {
    world.sim.admin.addFault({
      kind: 'lroFailed',
      method: 'PUT',
      path: '/resourceGroups/claw-f-lro/providers/Microsoft.App/managedEnvironments/cae-f-lro$',
      code: 'ManagedEnvironmentProvisioningError',
      message: 'The environment could not be provisioned in the region right now.',
      count: 1,
    });
    const failed = await provision('f-lro', 'fault-lro-1');
    expect(failed.status).toBe('failed');
    expect(failed.reason).toContain(
      'provisioning f-lro failed at step managedEnvironment: ManagedEnvironmentProvisioningError: The environment could not be provisioned in the region right now. Existing in claw-f-lro:',
    );
    expect(failed.reason).toMatch(/Existing in claw-f-lro: .*Microsoft\.KeyVault\/vaults\/kv-f-lro-/);
    expect(failed.reason).toContain('A new provision request resumes from here.');
    // The runner records the outcome on the request first, then on the environment.
    const recorded = await eventually(async () => {
      const environment = await world.environment('f-lro');
      return (environment['lastOperation'] as { requestId?: string } | undefined)?.requestId === 'fault-lro-1'
        ? environment
        : undefined;
    });
    expect(recorded).toMatchObject({
      state: 'failed',
      lastOperation: { requestId: 'fault-lro-1', outcome: 'failed', reason: failed.reason },
    });

    const retried = await provision('f-lro', 'fault-lro-2');
    expect(retried, JSON.stringify(retried)).toMatchObject({ status: 'succeeded' });
    expect(retried.summary).toContain(
      'Container Apps environment cae-f-lro updated (provisioningState (Failed))',
    );
    expect(await world.environment('f-lro')).toMatchObject({ state: 'ready' });
  });

  it('fails with the step’s reason when a retry timer of another step already fired (CI saw "Cannot cancel a completed task")', async () => {
    // roleAssignments keeps waiting on its 1 s retry timer while the slow environment LRO (3 s)
    // fails: by then the timer has fired, and cancelling a fired timer throws in durable-functions
    // (DFTimerTask.cancel), which replaced the step's reason with the library's error.
    world.sim.admin.addFault({
      kind: 'principalNotFound',
      method: 'PUT',
      path: '/resourceGroups/claw-f-fired/.*/roleAssignments/',
    });
    const slowFailure = {
      method: 'PUT',
      path: '/resourceGroups/claw-f-fired/providers/Microsoft.App/managedEnvironments/cae-f-fired$',
      count: 1,
    };
    world.sim.admin.addFault({ kind: 'slowProvisioning', seconds: 3, ...slowFailure });
    world.sim.admin.addFault({
      kind: 'lroFailed',
      code: 'ManagedEnvironmentProvisioningError',
      ...slowFailure,
    });
    const failed = await provision('f-fired', 'fault-fired');
    expect(failed.status).toBe('failed');
    expect(failed.reason).toContain(
      'provisioning f-fired failed at step managedEnvironment: ManagedEnvironmentProvisioningError',
    );
    const fired = world.host
      .history('op:fault-fired')
      .filter((event) => event.EventType === EventType.TimerFired);
    expect(fired.length).toBeGreaterThanOrEqual(1);
  });

  it('waits on durable timers while a new principal and the vault grant propagate slowly, then converges', async () => {
    const principal = world.sim.admin.addFault({
      kind: 'principalNotFound',
      method: 'PUT',
      path: '/resourceGroups/claw-f-slow/.*/roleAssignments/',
      count: 2,
    });
    const vault = world.sim.admin.addFault({
      kind: 'keyVaultForbidden',
      path: '/keyvault/kv-f-slow-',
      count: 3,
    });
    const view = await provision('f-slow', 'fault-slow');
    expect(view, JSON.stringify(view)).toMatchObject({ status: 'succeeded' });
    expect([fired(principal), fired(vault)]).toEqual([2, 3]);
    const timers = world.host
      .history('op:fault-slow')
      .filter((event) => event.EventType === EventType.TimerCreated);
    expect(timers.length).toBeGreaterThanOrEqual(2);
  });

  it('waits, instead of failing, while the app cannot read its Key Vault references yet, in either of Azure’s shapes', async () => {
    const app = '/resourceGroups/claw-f-kvref/providers/Microsoft.App/containerApps/ca-f-kvref$';
    // Azure's two answers to a reference the identity cannot read (yet), as public reports quote them.
    const refused = world.sim.admin.addFault({
      kind: 'http',
      method: 'PUT',
      path: app,
      status: 400,
      code: 'InvalidParameterValueInContainerTemplate',
      message:
        "The following field(s) are either invalid or missing. Field 'configuration.secrets' is invalid with details: 'Invalid value: \"gateway-token\": Unable to get value using Managed identity id-f-kvref for secret gateway-token.';.",
      count: 1,
    });
    const failedRevision = world.sim.admin.addFault({
      kind: 'lroFailed',
      method: 'PUT',
      path: app,
      code: 'ContainerAppOperationError',
      message:
        "Failed to provision revision for container app 'ca-f-kvref'. Error details: 'gateway-token' unable to get value using Managed identity id-f-kvref.",
      count: 1,
    });
    const view = await provision('f-kvref', 'fault-kvref');
    expect(view, JSON.stringify(view)).toMatchObject({ status: 'succeeded' });
    expect([fired(refused), fired(failedRevision)]).toEqual([1, 1]);
  });

  it('waits, instead of failing, while the gateway identity cannot pull its image yet', async () => {
    // The image the provision world deploys (IMAGE_REPOSITORY in provisionWorld.ts), pulled with the identity.
    const registry = 'ghcr.io';
    const pull = world.sim.admin.addFault({
      kind: 'lroFailed',
      method: 'PUT',
      path: '/resourceGroups/claw-f-pull/providers/Microsoft.App/containerApps/ca-f-pull$',
      code: 'ContainerAppOperationError',
      message: `Failed to provision revision for container app 'ca-f-pull'. Error details: image '${registry}/openclaw/openclaw' could not be pulled: UNAUTHORIZED: authentication required.`,
      count: 1,
    });
    const view = await provision('f-pull', 'fault-pull');
    expect(view, JSON.stringify(view)).toMatchObject({ status: 'succeeded' });
    expect(fired(pull)).toBe(1);
  });

  it('gives up on a grant that never propagates, naming the step and the refusal', async () => {
    world.sim.admin.addFault({ kind: 'keyVaultForbidden', path: '/keyvault/kv-f-stuck-' });
    const view = await provision('f-stuck', 'fault-stuck');
    expect(view.status).toBe('failed');
    expect(view.reason).toMatch(
      /failed at step secrets: PropagationTimeout: still not done after 6s: Key Vault 127\.0\.0\.1:\d+ does not grant the broker access yet \(403\)/,
    );
  });

  it('gives up on a gateway that never gets ready, with what /readyz answered', async () => {
    world.sim.admin.addFault({
      kind: 'http',
      status: 503,
      path: '/openclaw/ca-f-notready/readyz$',
      // The real gateway's /readyz body when a part is failing (test/openclaw-real/gateway.test.ts).
      body: { ready: false, failing: ['telegram'] },
    });
    const view = await provision('f-notready', 'fault-notready');
    expect(view.status).toBe('failed');
    expect(view.reason).toContain(
      'failed at step readiness: GatewayNotReady: still not done after 4s: /readyz answered HTTP 503: failing telegram',
    );
  });

  it('refuses a Telegram slug without a bot token before creating anything', async () => {
    const before = world.lastSeq();
    const view = await world.provision('f-notoken', 'fault-notoken');
    expect(view).toMatchObject({
      status: 'rejected',
      reason: expect.stringContaining('the telegram channel needs telegramBotToken') as unknown,
    });
    expect(world.requests(before).filter((entry) => entry.method !== 'GET')).toEqual([]);
  });

  it('leaves no secret value the simulator holds anywhere the broker writes', async () => {
    world.sim.admin.clearFaults();
    const secrets = world.secretValues();
    const places = [
      ...(await world.observableText()),
      ...world.instanceText(
        ['fault-storm', 'fault-5xx', 'fault-lro-1', 'fault-lro-2', 'fault-slow', 'fault-stuck'].map(
          (id) => `op:${id}`,
        ),
      ),
    ];
    const leaks = places.flatMap((place) =>
      secrets
        .filter((secret) => place.text.includes(secret))
        .map((secret) => `${place.where}: ${secret.slice(0, 4)}…`),
    );
    expect(leaks).toEqual([]);
  });
});
