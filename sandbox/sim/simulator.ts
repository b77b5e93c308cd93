import { randomUUID, X509Certificate } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createAdminSurface } from './admin.js';
import { ArmState, maxConcurrentMounts, type ReplicaRecord } from './arm/armState.js';
import { createArmSurface } from './arm/armSurface.js';
import { grantRole } from './arm/authorization.js';
import { deployedCondition, loadBrokerRoles, type BrokerRoles } from './brokerRoles.js';
import {
  containerAppRuntime,
  reconcileContainerApps,
  type ContainerAppRuntime,
} from './arm/containerApps.js';
import { defaultProviders } from './arm/providers.js';
import { findBuiltInRole } from './arm/roles.js';
import type { ArmContext, SimEndpoints } from './arm/resourceType.js';
import { createSimulatorCertificate, type SimulatorCertificate } from './certificate.js';
import { createSimClock, type ControllableSimClock, type SimClockOptions } from './clock.js';
import { FaultRegistry, type Fault, type FaultSpec } from './faults.js';
import { createIdentitySurface, decodeAccessToken, IdentityDirectory } from './identity.js';
import { createKeyVaultDataPlane } from './keyVaultDataPlane.js';
import { KeyVaultStore } from './keyVaultStore.js';
import {
  loadStateFile,
  moveStateFileAside,
  StateFileWriter,
  stateFileFormat,
  stateFileVersion,
  type SimulatorStateFile,
} from './persistence.js';
import { RequestLog, type RequestLogEntry } from './requestLog.js';
import {
  SimHttpError,
  type PersistentPart,
  type SimRequest,
  type SimResponse,
  type SimSurface,
} from './surface.js';
import { propagationMs, scaleOf, type LatencyOptions } from './latencyProfile.js';
import { ArmThrottle, type ThrottleClass, type ThrottleOptions } from './throttle.js';
import { BlobStore, createBlobDataPlane } from './blobDataPlane.js';
import { createFileDataPlane } from './fileDataPlane.js';
import { FileShareStore, type FileShareStoreData } from './fileShareStore.js';
import { messageOf } from '../../shared/errors.js';

/** What surface factories receive: the simulator's shared state, before the server listens. */
export interface SimulatorContext {
  clock: ControllableSimClock;
  arm: ArmState;
  identity: IdentityDirectory;
  faults: FaultRegistry;
  /** Azure Files content (what the Files data plane serves). */
  files: FileShareStore;
  /** The main listener's base URL; valid once startSimulator has resolved. */
  baseUrl(): string;
  /** The running view of a container app by ARM id or name (see Simulator.containerApp). */
  containerApp(idOrName: string): ContainerAppRuntime | undefined;
}

export type SurfaceInput = SimSurface | ((context: SimulatorContext) => SimSurface);

export interface StartSimulatorOptions {
  /** Extra surfaces (Telegram, Graph, OpenClaw, ...), or factories receiving the shared context. */
  surfaces?: SurfaceInput[];
  /** Port of the main listener; 0 (default) picks a free one. */
  port?: number;
  clock?: SimClockOptions;
  tenantId?: string;
  subscriptionId?: string;
  subscriptionName?: string;
  /** The broker's service principal; it gets the roles of `brokerRoles` on the subscription. */
  broker?: { clientId?: string; clientSecret?: string; objectId?: string; displayName?: string };
  /**
   * The broker's roles at subscription scope, with their conditions. Defaults to
   * infra/brokerRoles.json, the file the deployment assigns them from: the simulated broker has
   * exactly the rights a deployed one has. Tests pass a changed copy to prove a role is needed.
   */
  brokerRoles?: BrokerRoles;
  /** ARM throttling; false disables it. Defaults to Azure's limits. */
  throttle?: false | ThrottleOptions;
  /** Simulated seconds before a new principal can be named in a role assignment without principalType. */
  principalPropagationSeconds?: number;
  /** Simulated seconds before Key Vault / Storage data planes honour a new role assignment (default 30). */
  dataPlanePropagationSeconds?: number;
  /**
   * How a container app write answers a Key Vault reference its identity cannot read (yet): Azure
   * shows two shapes, a synchronous 400 InvalidParameterValueInContainerTemplate or a Failed
   * operation (a failed revision). `alternate` (default) gives each in turn, so callers meet both.
   */
  keyVaultReferenceFailure?: 'invalidParameter' | 'failedRevision' | 'alternate';
  /**
   * Whether a container app's listSecrets returns the value fetched for a Key Vault reference.
   * Undocumented: the 2025-07-01 example shows names only, so the default (false) gives the name,
   * `keyVaultUrl` and `identity` without a value; inline secrets always come with theirs (azure-cli
   * re-sends them from listSecrets). Set true to run the other possible answer.
   */
  listSecretsKeyVaultValues?: boolean;
  /** Simulated seconds asynchronous provisioning takes (default 0: done at the first poll). */
  provisioningSeconds?: number;
  /**
   * Azure's latencies (latencyProfile.ts): each long-running operation and propagation delay takes
   * its profile figure divided by `timeScale`, and ARM's throttle refills `timeScale` times faster,
   * so a run of Azure minutes takes wall seconds with the ratios kept. Replaces
   * `principalPropagationSeconds` and `dataPlanePropagationSeconds`; `provisioningSeconds` stays the
   * time of operations the profile has no figure for.
   */
  latency?: LatencyOptions;
  /** Random source for fault probabilities; Math.random when omitted. */
  random?: () => number;
  /**
   * Keeps the simulated world in this JSON file (see README, "Persistence"): restored at start when
   * the file exists, saved after requests (at most once per `stateSaveIntervalMs`) and at stop.
   */
  statePath?: string;
  /** Ignores an existing state file: a fresh world, which then overwrites the file. */
  resetState?: boolean;
  /** The least time between two saves, in wall-clock ms (default 1000). */
  stateSaveIntervalMs?: number;
  /** Receives persistence messages (restored, fresh start, bad file moved aside, failed save); console.warn when omitted. */
  onStateMessage?: (message: string) => void;
  /** State the file keeps besides the surfaces' (e.g. the file share store), by unique name. */
  stateParts?: PersistentPart[];
}

export interface SimulatorAdmin {
  snapshot(): Record<string, unknown>;
  requests(afterSeq?: number): RequestLogEntry[];
  addFault(spec: FaultSpec): Fault;
  removeFault(id: string): boolean;
  clearFaults(): void;
  faults(): Fault[];
  /** Moves simulated time forward and settles what became due. */
  advance(milliseconds: number): void;
}

export interface Simulator {
  /** Base URL of the main listener, e.g. https://127.0.0.1:43123 (no trailing slash). */
  url: string;
  caCertPem: string;
  tenantId: string;
  subscriptionId: string;
  broker: { clientId: string; clientSecret: string; objectId: string; tenantId: string };
  clock: ControllableSimClock;
  arm: ArmState;
  identity: IdentityDirectory;
  keyVault: KeyVaultStore;
  blob: BlobStore;
  /** Files and directories on Azure Files shares: what the Files data plane serves and the OpenClaw stand-in reads. */
  files: FileShareStore;
  faults: FaultRegistry;
  state: SimulatorContext;
  admin: SimulatorAdmin;
  /**
   * The running view of a container app (by ARM id or name): image, env with secret references
   * resolved to the values the app holds, active revision and its running/health state.
   */
  containerApp(idOrName: string): ContainerAppRuntime | undefined;
  /**
   * Every container app replica that ever ran (of one app, by ARM id or name, when given): revision,
   * the Azure Files storages and shares it mounted, started and stopped in simulated ms.
   */
  replicaRecord(appIdOrName?: string): ReplicaRecord[];
  /**
   * The most replicas that ever ran at once with the same share mounted (`<account>/<share>`, or
   * any share): above 1 means two writers on one share.
   */
  maxConcurrentMounts(share?: string): number;
  /** Grants a built-in role directly (no ARM call), e.g. to seed fixtures. */
  grantRole(principalId: string, roleName: string, scope: string, options?: { createdAt?: number }): void;
  /** Adds a surface after start. */
  mount(surface: SimSurface): void;
  /** The state file: its path (when `statePath` was given), whether this start restored from it, and a save-now. */
  persistence: { path?: string; restored: boolean; save(): Promise<void> };
  /** Stops every listener, then saves the state file one last time (when there is one). */
  stop(): Promise<void>;
}

const defaults = {
  tenantId: '72f9a8b1-0c2d-4e5f-8a9b-0c1d2e3f4a5b',
  subscriptionId: '3c1b6f4e-2a7d-4b8e-9c0f-1a2b3c4d5e6f',
  brokerClientId: '5b2e8c1a-7d3f-4a6b-9e0c-2f1d3a4b5c6d',
  brokerObjectId: '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d',
};

/** A state file that parsed but could not be applied: the file is moved aside and the world starts fresh. */
class StateRestoreError extends Error {
  override name = 'StateRestoreError';
}

/**
 * Starts the Azure simulator: one HTTPS listener on 127.0.0.1 for ARM, the token service, admin and
 * mounted surfaces; one listener per Key Vault (its vaultUri) and one for blob storage, all with a
 * certificate made now. Every request is parsed once, logged, checked against faults and (for ARM)
 * throttled, then offered to the surfaces by prefix.
 *
 * With `statePath`, the world is restored from that file when it exists (same certificate, ports,
 * clock, principals, resources, secrets, blobs and surface state). A file that cannot be read or
 * applied is renamed to `<file>.corrupt-<time>` and the world starts fresh, with a message saying so.
 */
export async function startSimulator(options: StartSimulatorOptions = {}): Promise<Simulator> {
  const log = options.onStateMessage ?? ((message: string) => console.warn(`[simulator] ${message}`));
  const path = options.statePath;
  let saved: SimulatorStateFile | undefined;
  if (path !== undefined && options.resetState) {
    log(`reset: starting a fresh simulated world; ${path} will be overwritten`);
  } else if (path !== undefined) {
    const load = await loadStateFile(path);
    if (load.kind === 'missing') {
      log(`no state file at ${path}: starting a fresh simulated world, saved there from now on`);
    } else if (load.kind === 'corrupt') {
      const moved = await moveStateFileAside(path);
      log(`the state file ${path} ${load.reason}; moved it to ${moved} and started a fresh simulated world`);
    } else {
      saved = load.state;
    }
  }
  try {
    return await launch(options, saved, log);
  } catch (error) {
    if (!(error instanceof StateRestoreError) || path === undefined) throw error;
    const moved = await moveStateFileAside(path);
    log(
      `the state file ${path} could not be restored (${error.message}); moved it to ${moved} and started a fresh simulated world`,
    );
    return launch(options, undefined, log);
  }
}

/** The saved certificate while it has more than a day left; otherwise a new one. */
async function restoreCertificate(
  saved: SimulatorStateFile | undefined,
  log: (message: string) => void,
): Promise<SimulatorCertificate> {
  if (saved) {
    try {
      const validTo = Date.parse(new X509Certificate(saved.certificate.certPem).validTo);
      if (validTo - Date.now() > 24 * 3600 * 1000) return saved.certificate;
      log(
        'the saved certificate expires within a day: made a new one (clients must trust the new caCertPem)',
      );
    } catch (error) {
      throw new StateRestoreError(`its certificate is unreadable: ${(error as Error).message}`);
    }
  }
  return createSimulatorCertificate();
}

async function launch(
  options: StartSimulatorOptions,
  saved: SimulatorStateFile | undefined,
  report: (message: string) => void,
): Promise<Simulator> {
  const statePath = options.statePath;
  const certificate = await restoreCertificate(saved, report);
  // Manual time resumes where it stopped. Real time keeps its offset from the wall clock, so the
  // simulator agrees with clients that sign with the wall clock (SAS start and expiry).
  const clock = createSimClock(
    saved
      ? {
          ...options.clock,
          startAt:
            (options.clock?.mode ?? 'manual') === 'real'
              ? Math.max(saved.clock.now, Date.now() + (saved.clock.now - saved.clock.wallAt))
              : saved.clock.now,
        }
      : options.clock,
  );
  const tenantId = options.tenantId ?? saved?.tenantId ?? defaults.tenantId;
  const subscriptionId = options.subscriptionId ?? saved?.subscriptionId ?? defaults.subscriptionId;
  if (saved && (saved.tenantId !== tenantId || saved.subscriptionId !== subscriptionId)) {
    throw new Error(
      `The state file ${statePath ?? ''} holds tenant ${saved.tenantId} and subscription ${saved.subscriptionId}, but the options ask for tenant ${tenantId} and subscription ${subscriptionId}. Use another state file, or resetState.`,
    );
  }
  let baseUrl = '';
  const identity = new IdentityDirectory(tenantId, clock, () => baseUrl);
  const keyVault = new KeyVaultStore();
  const arm = new ArmState(
    {
      subscriptionId,
      subscriptionName: options.subscriptionName ?? 'claw-broker simulated subscription',
      tenantId,
      principalPropagationMs: options.latency
        ? propagationMs(options.latency, 'entraReplication')
        : (options.principalPropagationSeconds ?? 0) * 1000,
      dataPlanePropagationMs: options.latency
        ? propagationMs(options.latency, 'dataPlanePropagation')
        : (options.dataPlanePropagationSeconds ?? 30) * 1000,
      provisioningMs: (options.provisioningSeconds ?? 0) * 1000,
      keyVaultReferenceFailure: options.keyVaultReferenceFailure ?? 'alternate',
      listSecretsKeyVaultValues: options.listSecretsKeyVaultValues ?? false,
      ...(options.latency ? { latency: options.latency } : {}),
    },
    clock,
    identity,
    keyVault,
  );
  const faults = new FaultRegistry(options.random);
  const log = new RequestLog();
  const throttle =
    options.throttle === false
      ? undefined
      : new ArmThrottle({
          ...options.throttle,
          ...(options.latency ? { timeScale: scaleOf(options.latency) } : {}),
        });
  const blob = new BlobStore();
  const files = new FileShareStore(() => clock.now());

  const servers: Server[] = [];
  const vaultListeners = new Map<string, Promise<string>>();
  /** Ports of the Key Vault listeners by lower-case vault name, for the state file. */
  const vaultPorts = new Map<string, number>();
  let writer: StateFileWriter | undefined;
  const hanging = new Set<ServerResponse>();
  let blobBase = '';
  let fileBase = '';

  const listen = async (rewritePrefix: string | undefined, port = 0): Promise<string> => {
    const server = createServer({ cert: certificate.certPem, key: certificate.keyPem }, (req, res) => {
      void handle(req, res, rewritePrefix).finally(() => writer?.schedule());
    });
    servers.push(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    return `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };

  const endpoints: SimEndpoints = {
    get baseUrl() {
      return baseUrl;
    },
    vaultUri(vaultName: string) {
      const key = vaultName.toLowerCase();
      let pending = vaultListeners.get(key);
      if (!pending) {
        pending = listen(`/keyvault/${key}`).then((url) => {
          vaultPorts.set(key, Number(new URL(url).port));
          return `${url}/`;
        });
        vaultListeners.set(key, pending);
      }
      return pending;
    },
    blobEndpoint: (account: string) => `${blobBase}/${account}/`,
    fileEndpoint: (account: string) => `${fileBase}/${account}/`,
  };
  const ctx: ArmContext = { state: arm, faults, endpoints, blobs: blob, files };
  arm.addReconciler(() => reconcileContainerApps(ctx));
  const context: SimulatorContext = {
    clock,
    arm,
    identity,
    faults,
    files,
    baseUrl: () => baseUrl,
    containerApp: (idOrName) => containerAppRuntime(ctx, idOrName),
  };

  const surfaces: SimSurface[] = [];
  const mount = (surface: SimSurface) => surfaces.push(surface);
  const snapshot = () => Object.fromEntries(surfaces.map((surface) => [surface.name, surface.snapshot()]));
  mount(
    createAdminSurface({
      clock,
      faults,
      log,
      snapshot,
      settle: () => arm.tick(),
    }),
  );
  for (const input of options.surfaces ?? []) mount(typeof input === 'function' ? input(context) : input);
  mount(createKeyVaultDataPlane({ state: arm, identity, faults, baseUrl: () => baseUrl }));
  mount(createBlobDataPlane({ state: arm, identity, faults, store: blob }));
  mount(createFileDataPlane({ state: arm, identity, store: files }));
  mount(createIdentitySurface(identity, () => baseUrl));
  mount(createArmSurface({ ctx, identity, providers: defaultProviders }));
  const stateParts = (): PersistentPart[] => [
    ...surfaces.flatMap((surface) =>
      surface.exportState && surface.importState
        ? [
            {
              name: surface.name,
              exportState: () => surface.exportState!(),
              importState: (state: unknown) => surface.importState!(state),
            },
          ]
        : [],
    ),
    // Under parts (not core) and by this name, as before the Files data plane existed.
    {
      name: 'files',
      exportState: () => files.exportState(),
      importState: (data: unknown) => files.importState(data as FileShareStoreData | [string, string][]),
    },
    ...(options.stateParts ?? []),
  ];

  if (saved) {
    // After the ARM surface exists: restored operations get their settle functions from it.
    try {
      identity.importState(saved.core.identity);
      keyVault.importState(saved.core.keyVault);
      blob.importState(saved.core.blob);
      arm.importState(saved.core.arm);
      for (const part of stateParts()) {
        if (saved.parts[part.name] !== undefined) part.importState(saved.parts[part.name]);
      }
    } catch (error) {
      throw new StateRestoreError(`its content does not fit: ${(error as Error).message}`);
    }
  }

  const candidates = (url: URL): SimSurface[] =>
    surfaces
      .map((surface, index) => ({ surface, index }))
      .filter(({ surface }) => url.pathname.startsWith(surface.prefix) && (surface.claims?.(url) ?? true))
      .sort((a, b) => b.surface.prefix.length - a.surface.prefix.length || a.index - b.index)
      .map(({ surface }) => surface);

  async function handle(
    req: IncomingMessage,
    res: ServerResponse,
    rewritePrefix: string | undefined,
  ): Promise<void> {
    const started = performance.now();
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const method = (req.method ?? 'GET').toUpperCase();
    // ARM clients join "{scope}" paths that start with a slash onto the host ("//subscriptions/..."),
    // which URL parsing would read as a host name; ARM collapses the slashes, and so does this.
    const rawPath = (req.url ?? '/').replace(/^\/{2,}/, '/');
    const url = new URL(`${rewritePrefix ?? ''}${rawPath}`, baseUrl || 'https://127.0.0.1');
    const simRequest: SimRequest = {
      method,
      url,
      rawUrl: req.url ?? '/',
      headers: req.headers,
      body,
      json<T>(): T {
        try {
          return JSON.parse(body.length === 0 ? 'null' : body.toString('utf8')) as T;
        } catch {
          throw new SimHttpError(400, {
            error: { code: 'InvalidRequestContent', message: 'The request content was not valid JSON.' },
          });
        }
      },
    };
    const owners = candidates(url);
    const surfaceName = owners[0]?.name ?? 'none';
    const token =
      typeof req.headers.authorization === 'string'
        ? decodeAccessToken(req.headers.authorization.replace(/^bearer\s+/i, ''))
        : undefined;
    const entry: Omit<RequestLogEntry, 'seq'> = {
      at: clock.isoNow(),
      method,
      path: redactPath(owners[0], url.pathname),
      status: 0,
      latencyMs: 0,
      surface: surfaceName,
      ...(url.searchParams.get('api-version') ? { apiVersion: url.searchParams.get('api-version')! } : {}),
      ...(token ? { principal: token.oid } : {}),
    };
    const finish = (status: number, extra: Partial<RequestLogEntry> = {}) => {
      if (surfaceName === 'admin') return;
      log.append({
        ...entry,
        ...extra,
        status,
        latencyMs: Math.round((performance.now() - started) * 100) / 100,
      });
    };

    let response: SimResponse | undefined;
    try {
      if (surfaceName !== 'admin') {
        const fault = faults.match(['http', 'reset', 'timeout'], {
          surface: surfaceName,
          method,
          path: url.pathname,
        });
        if (fault?.kind === 'reset') {
          finish(0, { fault: fault.id });
          req.socket.destroy();
          return;
        }
        if (fault?.kind === 'timeout') {
          hanging.add(res);
          res.once('close', () => {
            hanging.delete(res);
            finish(0, { fault: fault.id });
          });
          return;
        }
        if (fault?.kind === 'http') {
          const retryAfter =
            fault.retryAfterSeconds ?? (fault.status === 429 || fault.status === 503 ? 1 : undefined);
          send(res, method, {
            status: fault.status,
            headers: {
              'x-ms-request-id': randomUUID(),
              ...(retryAfter !== undefined ? { 'Retry-After': String(retryAfter) } : {}),
            },
            body: fault.body ?? {
              error: {
                code: fault.code ?? defaultFaultCode(fault.status),
                message: fault.message ?? `Injected fault ${fault.id}.`,
              },
            },
          });
          finish(fault.status, { fault: fault.id });
          return;
        }
      }
      let rateHeaders: Record<string, string> = {};
      if (surfaceName === 'arm' && throttle) {
        const kind: ThrottleClass =
          method === 'GET' || method === 'HEAD' ? 'read' : method === 'DELETE' ? 'delete' : 'write';
        const decision = throttle.take(token?.oid ?? 'anonymous', kind);
        const header = `x-ms-ratelimit-remaining-subscription-${kind}s`;
        if (!decision.allowed) {
          send(res, method, {
            status: 429,
            headers: {
              'Retry-After': String(decision.retryAfterSeconds),
              [header]: '0',
              'x-ms-request-id': randomUUID(),
            },
            body: {
              error: {
                code: 'TooManyRequests',
                message: `The request is being throttled as the limit has been reached for operation type - ${kind === 'read' ? 'Read' : kind === 'write' ? 'Write' : 'Delete'}. For more information, see - https://aka.ms/ARMThrottling`,
              },
            },
          });
          finish(429, { throttled: true });
          return;
        }
        rateHeaders = {
          [header]: String(decision.remaining),
          [`x-ms-ratelimit-remaining-subscription-global-${kind}s`]: String(decision.remaining),
        };
      }
      for (const surface of owners) {
        response = await surface.handle(simRequest);
        if (response) break;
      }
      response ??= {
        status: 404,
        body: {
          error: { code: 'NotFound', message: `No simulated service answers ${method} ${url.pathname}.` },
        },
      };
      response = { ...response, headers: { ...rateHeaders, ...response.headers } };
    } catch (error) {
      if (error instanceof SimHttpError) {
        response = { status: error.status, headers: error.headers, body: error.body };
      } else {
        console.error('[simulator] unhandled error', error);
        response = {
          status: 500,
          body: {
            error: {
              code: 'InternalServerError',
              message: messageOf(error),
            },
          },
        };
      }
    }
    send(res, method, response);
    finish(response.status);
  }

  const closeServers = () =>
    Promise.all(
      servers.map(
        (server) =>
          new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeAllConnections();
          }),
      ),
    );
  /** Listens on a port the state file names; a taken port is an error that says what to do. */
  const listenOn = async (rewritePrefix: string | undefined, port: number, what: string) => {
    try {
      return await listen(rewritePrefix, port);
    } catch (error) {
      await closeServers();
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
      throw new Error(
        `Port ${port} (${what}) is in use${saved ? `; the state file ${statePath ?? ''} needs it, because clients keep the URLs built on it` : ''}. Stop whatever listens there${saved ? ', or start with resetState (npm run sandbox -- --reset)' : ''}.`,
        { cause: error },
      );
    }
  };

  // An explicit port wins over the saved one; 0 or none means the saved one, else any free port.
  const mainPort = options.port || saved?.ports.main || 0;
  if (saved && mainPort !== saved.ports.main) {
    report(`the main listener moves from port ${saved.ports.main} (saved) to ${mainPort} (options)`);
  }
  baseUrl = await listenOn(undefined, mainPort, 'the main listener');
  blobBase = await listenOn('/blob', saved?.ports.blob ?? 0, 'the blob listener');
  fileBase = await listenOn('/file', saved?.ports.file ?? 0, 'the Azure Files listener');
  // Accounts saved before the Files listener existed (or whose address changed) point at it now.
  for (const account of arm.find('Microsoft.Storage/storageAccounts')) {
    const endpoints = (account.body['properties'] as Record<string, unknown> | undefined)?.[
      'primaryEndpoints'
    ] as Record<string, unknown> | undefined;
    if (endpoints) endpoints['file'] = `${fileBase}/${account.name}/`;
  }
  for (const [vault, port] of Object.entries(saved?.ports.vaults ?? {})) {
    const url = await listenOn(`/keyvault/${vault}`, port, `the Key Vault listener of ${vault}`);
    vaultPorts.set(vault, port);
    vaultListeners.set(vault, Promise.resolve(`${url}/`));
  }

  // A restored world keeps its broker (same client id and secret) unless the options name another.
  const broker = {
    clientId: options.broker?.clientId ?? saved?.broker.clientId ?? defaults.brokerClientId,
    clientSecret: options.broker?.clientSecret ?? saved?.broker.clientSecret ?? `sim-secret-${randomUUID()}`,
    objectId: options.broker?.objectId ?? saved?.broker.objectId ?? defaults.brokerObjectId,
    tenantId,
  };
  const restoredBroker = identity.get(broker.objectId);
  if (
    restoredBroker?.appId !== broker.clientId ||
    !identity.verifySecret(broker.clientId, broker.clientSecret) ||
    (options.broker?.displayName !== undefined && restoredBroker.displayName !== options.broker.displayName)
  ) {
    identity.register({
      objectId: broker.objectId,
      appId: broker.clientId,
      displayName: options.broker?.displayName ?? 'claw-broker',
      clientSecret: broker.clientSecret,
      createdAt: restoredBroker?.createdAt ?? clock.now() - 24 * 3600 * 1000,
    });
  }
  grantBrokerRoles(
    ctx,
    broker.objectId,
    options.brokerRoles ?? loadBrokerRoles(),
    clock.now() - 24 * 3600 * 1000,
  );

  if (statePath !== undefined) {
    const leftovers = saved?.parts ?? {};
    writer = new StateFileWriter(
      statePath,
      () => {
        const stable: Omit<SimulatorStateFile, 'clock' | 'savedAt'> = {
          format: stateFileFormat,
          version: stateFileVersion,
          tenantId,
          subscriptionId,
          broker: { clientId: broker.clientId, clientSecret: broker.clientSecret, objectId: broker.objectId },
          certificate,
          ports: {
            main: Number(new URL(baseUrl).port),
            blob: Number(new URL(blobBase).port),
            file: Number(new URL(fileBase).port),
            vaults: Object.fromEntries(vaultPorts),
          },
          core: {
            identity: identity.exportState(),
            arm: arm.exportState(),
            keyVault: keyVault.exportState(),
            blob: blob.exportState(),
          },
          // Parts saved by a surface that is not mounted this time are kept as they were.
          parts: {
            ...leftovers,
            ...Object.fromEntries(stateParts().map((part) => [part.name, part.exportState()])),
          },
        };
        const stableJson = JSON.stringify(stable);
        const wallAt = Date.now();
        const clockJson = JSON.stringify({ mode: clock.mode, now: clock.now(), wallAt });
        return {
          key: `${clock.advancedMs()}|${stableJson}`,
          text: `${stableJson.slice(0, -1)},"clock":${clockJson},"savedAt":"${new Date(wallAt).toISOString()}"}`,
        };
      },
      options.stateSaveIntervalMs ?? 1000,
      report,
    );
    if (saved) {
      report(`restored the simulated world from ${statePath} (saved ${saved.savedAt})`);
    }
    // Programmatic changes (sim.files, grantRole, Telegram helpers) reach the file within seconds;
    // the writer skips the write when nothing changed.
  }
  const autosave = writer ? setInterval(() => writer?.schedule(), 5000) : undefined;
  autosave?.unref();

  const ticker = clock.mode === 'real' ? setInterval(() => arm.tick(), 1000) : undefined;
  ticker?.unref();

  const admin: SimulatorAdmin = {
    snapshot,
    requests: (afterSeq) => log.list(afterSeq),
    addFault: (spec) => faults.add(spec),
    removeFault: (id) => faults.remove(id),
    clearFaults: () => faults.clear(),
    faults: () => faults.list(),
    advance(milliseconds) {
      clock.advance(milliseconds);
      arm.tick();
      writer?.schedule();
    },
  };

  return {
    url: baseUrl,
    caCertPem: certificate.certPem,
    tenantId,
    subscriptionId,
    broker,
    clock,
    arm,
    identity,
    keyVault,
    blob,
    files,
    faults,
    state: context,
    admin,
    containerApp: (idOrName) => containerAppRuntime(ctx, idOrName),
    replicaRecord(appIdOrName) {
      arm.tick();
      const key = appIdOrName?.toLowerCase();
      return structuredClone(
        arm.replicas.filter(
          (replica) =>
            key === undefined ||
            replica.appId.toLowerCase() === key ||
            replica.appId.toLowerCase().endsWith(`/containerapps/${key}`),
        ),
      );
    },
    maxConcurrentMounts(share) {
      arm.tick();
      return maxConcurrentMounts(arm.replicas, share);
    },
    grantRole(principalId, roleName, scope, grantOptions) {
      grantRole(ctx, principalId, roleName, scope, grantOptions?.createdAt);
    },
    mount,
    persistence: {
      ...(statePath !== undefined ? { path: statePath } : {}),
      restored: saved !== undefined,
      save: async () => writer?.save(),
    },
    async stop() {
      if (ticker) clearInterval(ticker);
      if (autosave) clearInterval(autosave);
      for (const res of hanging) res.destroy();
      await closeServers();
      await writer?.close();
    },
  };
}

/** Paths in the request log never carry secrets: bot tokens are masked, surfaces may mask more. */
function redactPath(surface: SimSurface | undefined, path: string): string {
  const masked = path.replace(/\/bot(\d+):[^/]+/g, '/bot$1:***');
  return surface?.redactPath ? surface.redactPath(masked) : masked;
}

function defaultFaultCode(status: number): string {
  if (status === 429) return 'TooManyRequests';
  if (status === 503) return 'ServiceUnavailable';
  if (status === 500) return 'InternalServerError';
  return 'InjectedFault';
}

function send(res: ServerResponse, method: string, response: SimResponse): void {
  if (res.destroyed || res.headersSent) return;
  const headers: Record<string, string> = { ...response.headers };
  let payload: Buffer | undefined;
  if (response.body !== undefined && response.body !== null) {
    if (Buffer.isBuffer(response.body)) payload = response.body;
    else if (typeof response.body === 'string') payload = Buffer.from(response.body);
    else {
      payload = Buffer.from(JSON.stringify(response.body));
      if (!Object.keys(headers).some((key) => key.toLowerCase() === 'content-type'))
        headers['Content-Type'] = 'application/json; charset=utf-8';
    }
  }
  // One Content-Length (a surface may have set it under another spelling): the length of what is
  // sent, or, for a HEAD without a body, the length the surface says a GET would send.
  const declared = Object.keys(headers).find((key) => key.toLowerCase() === 'content-length');
  const length = payload?.length ?? (method === 'HEAD' && declared ? Number(headers[declared]) : 0);
  if (declared) delete headers[declared];
  headers['Content-Length'] = String(length);
  res.writeHead(response.status, headers);
  res.end(method === 'HEAD' ? undefined : payload);
}

/**
 * Gives the broker exactly `roles` on the subscription, at every start (a restored world too): the
 * broker's earlier subscription-scope assignments made by the simulator (an Owner grant from before
 * least privilege, or another role file) are replaced, so the rights always follow the file.
 */
function grantBrokerRoles(
  ctx: ArmContext,
  brokerObjectId: string,
  roles: BrokerRoles,
  createdAt: number,
): void {
  const subscriptionScope = `/subscriptions/${ctx.state.subscriptionId}`;
  for (const [key, assignment] of ctx.state.roleAssignments) {
    if (
      assignment.principalId === brokerObjectId &&
      assignment.createdBy === 'simulator' &&
      assignment.scope.toLowerCase() === subscriptionScope.toLowerCase()
    )
      ctx.state.roleAssignments.delete(key);
  }
  for (const role of roles.roles) {
    const builtIn = findBuiltInRole(role.roleDefinitionId);
    if (!builtIn) throw new Error(`broker role ${role.roleName} (${role.roleDefinitionId}) is not simulated`);
    grantRole(
      ctx,
      brokerObjectId,
      builtIn.roleName,
      subscriptionScope,
      createdAt,
      deployedCondition(role, brokerObjectId),
    );
  }
}
