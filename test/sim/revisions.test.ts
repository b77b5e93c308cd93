import { ClientSecretCredential } from '@azure/identity';
import { ContainerAppsAPIClient, type ContainerApp } from '@azure/arm-appcontainers';
import { ResourceManagementClient } from '@azure/arm-resources';
import { afterEach, describe, expect, it } from 'vitest';
import {
  startFullSimulator,
  type FullSimulator,
  type FullSimulatorOptions,
} from '../../sandbox/sim/index.js';
import {
  parseStateSchemaMarker,
  SIMULATED_STATE_SCHEMA_PATH,
  startGatewayOnState,
} from '../../sandbox/sim/openclaw.js';
import { crashLoopBackOffMs } from '../../sandbox/sim/arm/containerApps.js';
import { trustSimulatorCertificate } from '../../sandbox/sim/trustSimulatorCertificate.js';

const rg = 'rg-revisions';
const account = 'stclawrev';
const share = 'state-alpha';
const shareKey = `${account}/${share}`;
const older = '2026.8.2';
const newer = '2026.9.6';
/** The state schemas the two releases migrate to (generated from their packages). */
const OLDER_SCHEMA = 15;
const NEWER_SCHEMA = 18;

/**
 * Container Apps revisions and replicas as the upgrade needs them faithful: single revision mode
 * overlaps two replicas on the share, multiple revision mode with deactivate-before-update does
 * not, a gateway refusing newer state crash-loops with Kubernetes' back-off.
 */
describe('container app revisions, replicas and the gateway on its state share', () => {
  let sim: FullSimulator;
  let apps: ContainerAppsAPIClient;
  let environmentId: string;
  const poll = { updateIntervalInMs: 5 };

  async function start(options: FullSimulatorOptions = {}): Promise<void> {
    sim = await startFullSimulator({ throttle: false, ...options });
    trustSimulatorCertificate(sim.caCertPem);
    const credential = new ClientSecretCredential(
      sim.tenantId,
      sim.broker.clientId,
      sim.broker.clientSecret,
      {
        authorityHost: sim.url,
        disableInstanceDiscovery: true,
      },
    );
    const clientOptions = {
      endpoint: sim.url,
      retryOptions: { maxRetries: 3, retryDelayInMs: 50, maxRetryDelayInMs: 200 },
    };
    await new ResourceManagementClient(
      credential,
      sim.subscriptionId,
      clientOptions,
    ).resourceGroups.createOrUpdate(rg, { location: 'westeurope' });
    apps = new ContainerAppsAPIClient(credential, sim.subscriptionId, clientOptions);
    environmentId = (
      await advanceUntil(
        apps.managedEnvironments.beginCreateOrUpdateAndWait(
          rg,
          'cae-revisions',
          { location: 'westeurope' },
          poll,
        ),
      )
    ).id!;
    await apps.managedEnvironmentsStorages.createOrUpdate(rg, 'cae-revisions', 'state', {
      properties: {
        azureFile: { accountName: account, shareName: share, accountKey: 'a2V5', accessMode: 'ReadWrite' },
      },
    });
  }

  /** Moves simulated time in steps until the client's operation is done (its polls need real turns). */
  async function advanceUntil<T>(work: Promise<T>, stepMs = 1000): Promise<T> {
    let done = false;
    const tracked = work.finally(() => {
      done = true;
    });
    // Awaited after the loop; until then a rejection must not count as unhandled.
    tracked.catch(() => undefined);
    while (!done) {
      await new Promise((resolve) => setTimeout(resolve, 2));
      if (!done) sim.admin.advance(stepMs);
    }
    return tracked;
  }

  afterEach(async () => {
    await sim?.stop();
  });

  const envelope = (
    version: string,
    mode: 'Single' | 'Multiple',
    extra: {
      revisionSuffix?: string;
      traffic?: { revisionName?: string; latestRevision?: boolean; weight: number }[];
    } = {},
  ): ContainerApp => ({
    location: 'westeurope',
    managedEnvironmentId: environmentId,
    configuration: {
      activeRevisionsMode: mode,
      ingress: {
        external: true,
        targetPort: 18789,
        traffic: extra.traffic ?? [{ latestRevision: true, weight: 100 }],
      },
    },
    template: {
      ...(extra.revisionSuffix ? { revisionSuffix: extra.revisionSuffix } : {}),
      containers: [
        {
          name: 'openclaw',
          image: `ghcr.io/openclaw/openclaw:${version}`,
          env: [{ name: 'OPENCLAW_STATE_DIR', value: '/home/node/.openclaw' }],
          volumeMounts: [{ volumeName: 'openclaw-state', mountPath: '/home/node/.openclaw' }],
        },
      ],
      volumes: [{ name: 'openclaw-state', storageType: 'AzureFile', storageName: 'state' }],
      scale: { minReplicas: 1, maxReplicas: 1 },
    },
  });

  const put = (name: string, body: ContainerApp) =>
    advanceUntil(apps.containerApps.beginCreateOrUpdateAndWait(rg, name, body, poll));
  /** Starts an update and returns once ARM accepted it, with its poller. */
  const begin = (name: string, body: ContainerApp) =>
    apps.containerApps.beginCreateOrUpdate(rg, name, body, poll);
  const revision = (app: string, name: string) => apps.containerAppsRevisions.getRevision(rg, app, name);
  const marker = () => parseStateSchemaMarker(sim.files.read(account, share, SIMULATED_STATE_SCHEMA_PATH));

  it('single revision mode: a template change runs the new replica while the old one still runs, so two mount the share', async () => {
    await start({ provisioningSeconds: 20 });
    await put('ca-single', envelope(older, 'Single', { revisionSuffix: 'v1' }));
    expect(marker()).toMatchObject({ schemaVersion: OLDER_SCHEMA, appVersion: older });

    const update = await begin('ca-single', envelope(newer, 'Single', { revisionSuffix: 'v2' }));
    // The update is under way: the new revision's replica starts while the old one serves everything.
    await expect(revision('ca-single', 'ca-single--v2')).resolves.toMatchObject({
      provisioningState: 'Provisioning',
      replicas: 1,
      trafficWeight: 0,
    });
    await expect(revision('ca-single', 'ca-single--v1')).resolves.toMatchObject({
      active: true,
      replicas: 1,
      runningState: 'Running',
      trafficWeight: 100,
    });
    await advanceUntil(update.pollUntilDone());
    // Ready now: the old revision is deactivated and stops after its drain time.
    await expect(revision('ca-single', 'ca-single--v1')).resolves.toMatchObject({ active: false });
    sim.admin.advance(20_000);
    await expect(revision('ca-single', 'ca-single--v1')).resolves.toMatchObject({
      replicas: 0,
      runningState: 'Stopped',
    });

    const record = sim.replicaRecord('ca-single');
    expect(record.map((replica) => replica.revisionName)).toEqual(['ca-single--v1', 'ca-single--v2']);
    expect(record.every((replica) => replica.storageNames.join() === 'state')).toBe(true);
    expect(record[1]!.startedAt).toBeLessThan(record[0]!.stoppedAt!);
    expect(sim.maxConcurrentMounts(shareKey)).toBe(2);
    expect(marker()).toMatchObject({ schemaVersion: NEWER_SCHEMA });
  });

  it('multiple revision mode, deactivate before update: one replica on the share at any time; the deactivation takes time', async () => {
    await start({ provisioningSeconds: 20 });
    await put('ca-multi', envelope(older, 'Multiple', { revisionSuffix: 'v1' }));

    await apps.containerAppsRevisions.deactivateRevision(rg, 'ca-multi', 'ca-multi--v1');
    // Still stopping: inactive, but its replica is there.
    await expect(revision('ca-multi', 'ca-multi--v1')).resolves.toMatchObject({
      active: false,
      replicas: 1,
      runningState: 'Processing',
    });
    sim.admin.advance(20_000);
    await expect(revision('ca-multi', 'ca-multi--v1')).resolves.toMatchObject({
      active: false,
      replicas: 0,
      runningState: 'Stopped',
    });

    await put(
      'ca-multi',
      envelope(newer, 'Multiple', {
        revisionSuffix: 'v2',
        traffic: [{ revisionName: 'ca-multi--v2', weight: 100 }],
      }),
    );
    await expect(revision('ca-multi', 'ca-multi--v2')).resolves.toMatchObject({
      active: true,
      replicas: 1,
      runningState: 'Running',
      healthState: 'Healthy',
      trafficWeight: 100,
    });
    expect(sim.maxConcurrentMounts(shareKey)).toBe(1);
    expect(sim.replicaRecord('ca-multi')).toHaveLength(2);

    // Multiple mode keeps older active revisions running: activating v1 again overlaps the two.
    await apps.containerAppsRevisions.activateRevision(rg, 'ca-multi', 'ca-multi--v1');
    expect(sim.maxConcurrentMounts(shareKey)).toBe(2);
  });

  it('multiple revision mode, deactivate without waiting for the replica to stop: the stopping replica still overlaps the new one', async () => {
    await start({ provisioningSeconds: 20 });
    await put('ca-hasty', envelope(older, 'Multiple', { revisionSuffix: 'v1' }));
    await apps.containerAppsRevisions.deactivateRevision(rg, 'ca-hasty', 'ca-hasty--v1');
    const update = await begin(
      'ca-hasty',
      envelope(newer, 'Multiple', {
        revisionSuffix: 'v2',
        traffic: [{ revisionName: 'ca-hasty--v2', weight: 100 }],
      }),
    );
    await advanceUntil(update.pollUntilDone());
    expect(sim.maxConcurrentMounts(shareKey)).toBe(2);
  });

  it('checks ingress traffic: weights add up to 100, named revisions exist, none are named in single revision mode', async () => {
    await start();
    await put('ca-traffic', envelope(older, 'Multiple', { revisionSuffix: 'v1' }));
    const refused = (body: ContainerApp) =>
      put('ca-traffic', body).then(
        () => undefined,
        (error: { statusCode?: number; code?: string; message?: string }) => error,
      );
    await expect(
      refused(
        envelope(older, 'Multiple', {
          traffic: [
            { revisionName: 'ca-traffic--v1', weight: 60 },
            { latestRevision: true, weight: 30 },
          ],
        }),
      ),
    ).resolves.toMatchObject({ statusCode: 400, code: 'ContainerAppInvalidIngressTraffic' });
    await expect(
      refused(envelope(older, 'Multiple', { traffic: [{ revisionName: 'ca-traffic--nope', weight: 100 }] })),
    ).resolves.toMatchObject({ statusCode: 400, message: expect.stringContaining('does not exist') });
    await expect(
      refused(envelope(older, 'Single', { traffic: [{ revisionName: 'ca-traffic--v1', weight: 100 }] })),
    ).resolves.toMatchObject({ statusCode: 400, message: expect.stringContaining('single revision mode') });
    // A revision the same request creates may be named.
    await put(
      'ca-traffic',
      envelope(newer, 'Multiple', {
        revisionSuffix: 'v2',
        traffic: [
          { revisionName: 'ca-traffic--v1', weight: 50 },
          { revisionName: 'ca-traffic--v2', weight: 50 },
        ],
      }),
    );
    await expect(revision('ca-traffic', 'ca-traffic--v2')).resolves.toMatchObject({ trafficWeight: 50 });
  });

  it('an older gateway refuses state a newer one migrated: exit 78, restarts with 10 s doubling back-off, Unhealthy, probes never pass', async () => {
    await start();
    await put('ca-crash', envelope(newer, 'Multiple', { revisionSuffix: 'v1' }));
    expect(marker()).toMatchObject({ schemaVersion: NEWER_SCHEMA });
    await apps.containerAppsRevisions.deactivateRevision(rg, 'ca-crash', 'ca-crash--v1');
    sim.admin.advance(1000);
    await put(
      'ca-crash',
      envelope(older, 'Multiple', {
        revisionSuffix: 'v0',
        traffic: [{ revisionName: 'ca-crash--v0', weight: 100 }],
      }),
    );

    const replicas = async () =>
      (await apps.containerAppsRevisionReplicas.listReplicas(rg, 'ca-crash', 'ca-crash--v0')).value ?? [];
    const [replica] = await replicas();
    expect(replica).toMatchObject({ runningState: 'NotRunning' });
    expect(replica!.containers![0]).toMatchObject({
      name: 'openclaw',
      restartCount: 0,
      started: false,
      ready: false,
      runningState: 'Waiting',
    });
    expect(replica!.containers![0]!.runningStateDetails).toContain('exit code 78');
    // 10 s, 20 s, 40 s, ... capped at 300 s (Kubernetes' CrashLoopBackOff).
    expect([0, 1, 2, 3, 4, 5, 6].map(crashLoopBackOffMs)).toEqual([
      10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000,
    ]);
    const counts: number[] = [];
    for (const step of [10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000]) {
      sim.admin.advance(step);
      const fetched = await apps.containerAppsRevisionReplicas.getReplica(
        rg,
        'ca-crash',
        'ca-crash--v0',
        replica!.name!,
      );
      counts.push(fetched.containers![0]!.restartCount!);
    }
    expect(counts).toEqual([1, 2, 3, 4, 5, 6, 7]);
    await expect(revision('ca-crash', 'ca-crash--v0')).resolves.toMatchObject({
      active: true,
      healthState: 'Unhealthy',
      runningState: 'Degraded',
      replicas: 1,
    });
    const startup = await fetch(`${sim.url}/openclaw/ca-crash/startupz`);
    expect(startup.status).toBe(503);
    expect(await startup.json()).toMatchObject({
      status: 'starting',
      pendingReason: expect.stringContaining('keeps exiting (exit code 78'),
    });
    const ready = await fetch(`${sim.url}/openclaw/ca-crash/readyz`);
    expect(await ready.json()).toMatchObject({ ready: false });
    // Refusing changes nothing on the share.
    expect(marker()).toMatchObject({ schemaVersion: NEWER_SCHEMA, appVersion: newer });

    // Back to the revision that wrote the state: it starts.
    await apps.containerAppsRevisions.deactivateRevision(rg, 'ca-crash', 'ca-crash--v0');
    await apps.containerAppsRevisions.activateRevision(rg, 'ca-crash', 'ca-crash--v1');
    sim.admin.advance(1000);
    await expect(revision('ca-crash', 'ca-crash--v1')).resolves.toMatchObject({
      healthState: 'Healthy',
      runningState: 'Running',
    });
    // (No openclaw.json in this test, so the gateway still says why it is not ready; no longer the exit.)
    const started = await fetch(`${sim.url}/openclaw/ca-crash/startupz`);
    expect(await started.json()).toMatchObject({
      pendingReason: expect.not.stringContaining('keeps exiting'),
    });
  });

  it('a containerExit fault crash-loops a replica until it stops firing; the restarts stay counted', async () => {
    await start();
    sim.admin.addFault({
      kind: 'containerExit',
      surface: 'containerapps',
      path: '/revisions/ca-fault--v1/',
      count: 3,
    });
    await put('ca-fault', envelope(older, 'Single', { revisionSuffix: 'v1' }));
    await expect(revision('ca-fault', 'ca-fault--v1')).resolves.toMatchObject({ healthState: 'Unhealthy' });
    sim.admin.advance(10_000 + 20_000 + 40_000);
    const [replica] = (await apps.containerAppsRevisionReplicas.listReplicas(rg, 'ca-fault', 'ca-fault--v1'))
      .value;
    expect(replica!.containers![0]).toMatchObject({
      restartCount: 3,
      started: true,
      ready: true,
      runningState: 'Running',
    });
    await expect(revision('ca-fault', 'ca-fault--v1')).resolves.toMatchObject({ healthState: 'Healthy' });
  });

  it('takes the state schema of each version from stateSchemaOf: versions sharing a schema start on each other’s state', () => {
    const files = new Map<string, string>();
    const on = (version: string, stateSchemaOf?: (version: string) => number | string) =>
      startGatewayOnState({
        version,
        ...(stateSchemaOf ? { stateSchemaOf } : {}),
        readMarker: () => files.get('marker'),
        writeMarker: (content) => files.set('marker', content),
      });
    expect(on(newer)).toEqual({ state: 'running' });
    // By default each release's own state schema, generated from its package (15 and 18).
    expect(on(older)).toMatchObject({ state: 'exited', exitCode: 78 });
    const shared = () => 17;
    files.clear();
    expect(on(newer, shared)).toEqual({ state: 'running' });
    expect(on(older, shared)).toEqual({ state: 'running' });
    expect(on(newer, (version) => (version === newer ? 18 : 17))).toEqual({
      state: 'running',
      migratedFrom: 17,
    });
    expect(on(older, shared)).toMatchObject({ state: 'exited', exitCode: 78 });
  });
});
