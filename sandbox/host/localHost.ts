import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Cookie } from '@azure/functions';
import { HttpRequest, HttpResponse } from './azureFunctions.js';
import { QueueClient } from '@azure/storage-queue';
import { ManualClock, SystemClock, type HostClock } from './clock.js';
import {
  installFunctionsCoreShim,
  registeredFunctions,
  registeredHooks,
  type CoreBinding,
  type FunctionRegistration,
} from './coreShim.js';
import { BlobDurableStore } from './durable/blobStore.js';
import { RPC_PATH, WEBHOOK_PATH, clientBindingData, type ClientEndpoints } from './durable/clientBinding.js';
import { DurableEngine } from './durable/engine.js';
import { handleManagementRequest, type ApiResponse } from './durable/managementApi.js';
import { MemoryDurableStore, type DurableStore } from './durable/store.js';
import type { HistoryEvent, InstanceStatusJson, TimelineEntry } from './durable/types.js';
import { loadHostJson, resolveSettingTokens, type HostJsonSettings } from './hostConfig.js';
import { compileRoute, type CompiledRoute } from './http/routeTemplate.js';
import {
  invokeRegistration,
  queueOutputs,
  triggerOf,
  unsupportedOutputs,
  type InvocationOutcome,
} from './invoke.js';
import { LogBuffer, type HostLogEntry, type HostLogLevel, type HostLogger } from './logger.js';
import { QueueTriggerListener, encodeQueueMessage } from './triggers/queueTrigger.js';
import { TimerTriggerScheduler } from './triggers/timerTrigger.js';

export interface LocalHostOptions {
  /** Loads the app module; its app.* / df.app.* calls are captured by the functions-core shim. */
  app: () => Promise<unknown>;
  /** App settings, applied to process.env before the app loads (as the Functions host does). */
  settings?: Record<string, string>;
  /**
   * Durable state: in memory (fast unit tests), an Azure Storage account (survives restarts), or any
   * DurableStore (e.g. a fault-injecting one in tests).
   */
  storage?: 'memory' | { connectionString: string } | DurableStore;
  clock?: HostClock;
  /** Default 7071; 0 picks a free port. */
  port?: number;
  /** host.json path or content; default `<cwd>/host.json`. */
  hostJson?: string | object;
  /** Overrides extensions.durableTask.hubName. */
  taskHub?: string;
  functionKey?: string;
  masterKey?: string;
  /**
   * Emulates App Service authentication (Easy Auth) in front of the HTTP routes, as configured in
   * infra/modules/broker.bicep: see EasyAuthEmulation.
   */
  easyAuth?: EasyAuthEmulation;
  /** Receives every log entry (user logs included); all entries are also kept in `host.logs`. */
  log?: HostLogger;
  durable?: {
    /** Sent to the library as the extension does; longer timers are split. Default '6.00:00:00'. */
    maximumShortTimerDuration?: string;
    /** Length of each segment of a long timer. Default '3.00:00:00'. */
    longRunningTimerIntervalDuration?: string;
    timelineCapacity?: number;
    /**
     * Fail an orchestration that yields an already-scheduled task inside a new Task.any / Task.all
     * (the extension would schedule it again, durable-js#574). Off by default, as in Azure; the
     * sandbox and the broker's tests turn it on.
     */
    rejectRepeatedTasks?: boolean;
  };
}

/** A principal the emulated Easy Auth knows, by the bearer token that signs it in. */
export interface EmulatedPrincipal {
  /** Entra object id (`oid`), sent as x-ms-client-principal-id. */
  objectId: string;
  /** User principal name, sent as x-ms-client-principal-name. */
  name: string;
  /** Group object ids, sent as `groups` claims. */
  groups?: readonly string[];
}

/**
 * App Service authentication as the platform applies it before the Functions host sees a call
 * (learn.microsoft.com/azure/app-service/configure-authentication-user-identities): inbound
 * `x-ms-client-principal*` headers are removed ("external requests aren't allowed to set these
 * headers"); a call with a bearer token the provider accepts gets them set from its claims; with
 * `requireAuthentication` and `unauthenticatedClientAction: Return401`, a call without one answers
 * 401, except on `excludedPaths`. Tokens here are opaque strings mapped to principals (the host
 * cannot validate Entra tokens); routes under the route prefix only, not the runtime's own paths.
 */
export interface EasyAuthEmulation {
  principals: Record<string, EmulatedPrincipal>;
  excludedPaths: string[];
}

export interface WaitForInstanceOptions {
  /** Real-time safety net (default 30 s); with a ManualClock, advance the clock to make progress. */
  timeoutMs?: number;
}

export interface RegisteredFunctionInfo {
  name: string;
  trigger: string;
  route?: string;
  methods?: string[];
  authLevel?: string;
  queueName?: string;
  schedule?: string;
}

/** The running local host. See sandbox/host/README.md. */
export interface LocalHost {
  readonly baseUrl: string;
  readonly port: number;
  /** Accepted for authLevel 'function' (as x-functions-key header or code query parameter). */
  readonly functionKey: string;
  /** Accepted everywhere, required for authLevel 'admin' and /admin/*. */
  readonly masterKey: string;
  /** The durabletask_extension system key used in the management URLs. */
  readonly systemKey: string;
  readonly taskHub: string;
  readonly clock: HostClock;
  readonly hostJson: HostJsonSettings;
  readonly logs: readonly HostLogEntry[];
  functions(): RegisteredFunctionInfo[];
  /** Resolves when no queued work and no runnable activity or orchestration remain (timers may be pending). */
  waitForIdle(): Promise<void>;
  /** Resolves with the status once the instance is Completed, Failed or Terminated. */
  waitForInstance(instanceId: string, options?: WaitForInstanceOptions): Promise<InstanceStatusJson>;
  getStatus(instanceId: string): InstanceStatusJson | undefined;
  timeline(instanceId: string): TimelineEntry[];
  /** The current execution's history as the orchestrator receives it. */
  history(instanceId: string): HistoryEvent[];
  /** Sends a message to a storage queue, encoded as the Functions output binding would. */
  enqueue(queueName: string, message: unknown, connectionSetting?: string): Promise<void>;
  stop(): Promise<void>;
}

const HTTP_TRIGGER = 'httptrigger';
const QUEUE_TRIGGER = 'queuetrigger';
const TIMER_TRIGGER = 'timertrigger';
const ORCHESTRATION_TRIGGER = 'orchestrationtrigger';
const ACTIVITY_TRIGGER = 'activitytrigger';

interface HttpFunction {
  registration: FunctionRegistration;
  route: CompiledRoute;
  methods: Set<string>;
  authLevel: string;
}

/**
 * Starts a local Functions host for the app: HTTP, queue and timer triggers, activities and
 * orchestrations (replayed by durable-functions itself), and the Durable management API.
 */
export async function startLocalHost(options: LocalHostOptions): Promise<LocalHost> {
  installFunctionsCoreShim();
  for (const [name, value] of Object.entries(options.settings ?? {})) process.env[name] = value;
  const hostJson = loadHostJson(options.hostJson);
  const host = new LocalHostImpl(options, hostJson);
  try {
    await host.start();
  } catch (error) {
    await host.stop();
    throw error;
  }
  return host;
}

class LocalHostImpl implements LocalHost {
  readonly functionKey: string;
  readonly masterKey: string;
  readonly systemKey: string;
  readonly taskHub: string;
  readonly clock: HostClock;
  readonly hostJson: HostJsonSettings;
  readonly #options: LocalHostOptions;
  readonly #logs = new LogBuffer(5000);
  readonly #server: Server;
  #port = 0;
  #ready = false;
  #stopped = false;
  #engine: DurableEngine | undefined;
  #functions = new Map<string, FunctionRegistration>();
  #httpFunctions: HttpFunction[] = [];
  #queueListeners: QueueTriggerListener[] = [];
  #timers: TimerTriggerScheduler[] = [];
  #inFlightHttp = 0;
  #inFlightOther = 0;
  #detachSettler: (() => void) | undefined;
  readonly #queueClients = new Map<string, QueueClient>();

  constructor(options: LocalHostOptions, hostJson: HostJsonSettings) {
    this.#options = options;
    this.hostJson = hostJson;
    this.clock = options.clock ?? new SystemClock();
    this.functionKey = options.functionKey ?? randomKey();
    this.masterKey = options.masterKey ?? randomKey();
    this.systemKey = randomKey();
    this.taskHub = options.taskHub ?? this.#hubNameFromHostJson();
    if (!/^[A-Za-z][A-Za-z0-9]{2,44}$/.test(this.taskHub)) {
      throw new Error(
        `Task hub name "${this.taskHub}" must be 3-45 letters or digits, starting with a letter.`,
      );
    }
    this.#server = createServer((req, res) => void this.#handleHttp(req, res));
  }

  get port(): number {
    return this.#port;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  get logs(): readonly HostLogEntry[] {
    return this.#logs.entries;
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#options.port ?? 7071, '127.0.0.1', () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    this.#port = (this.#server.address() as AddressInfo).port;
    if (!this.#options.settings?.['WEBSITE_HOSTNAME']) {
      // durable-functions rewrites client URLs to localhost:7071 unless WEBSITE_HOSTNAME is set.
      process.env['WEBSITE_HOSTNAME'] = `127.0.0.1:${this.#port}`;
    }

    await this.#options.app();
    this.#functions = new Map(registeredFunctions());
    if (this.#functions.size === 0) {
      throw new Error(
        'Loading the app registered no functions. Import sandbox/host before anything that loads ' +
          '@azure/functions, and register functions when the app module is evaluated.',
      );
    }

    const storage = this.#options.storage;
    const store: DurableStore =
      storage === undefined || storage === 'memory'
        ? new MemoryDurableStore()
        : 'connectionString' in storage
          ? await BlobDurableStore.open(storage.connectionString, this.taskHub)
          : storage;
    const durable = this.#options.durable ?? {};
    this.#engine = new DurableEngine({
      store,
      clock: this.clock,
      log: (entry) => this.#log(entry),
      findFunction: (name, triggerType) => {
        const registration = this.#functions.get(name);
        return registration && triggerOf(registration).type.toLowerCase() === triggerType.toLowerCase()
          ? registration
          : undefined;
      },
      invoke: (registration, input) => this.#invoke(registration, input, {}),
      maxConcurrentActivities: this.hostJson.durableTask.maxConcurrentActivityFunctions,
      maxConcurrentOrchestrations: this.hostJson.durableTask.maxConcurrentOrchestratorFunctions,
      maximumShortTimerDuration: durable.maximumShortTimerDuration ?? '6.00:00:00',
      longRunningTimerIntervalDuration: durable.longRunningTimerIntervalDuration ?? '3.00:00:00',
      timelineCapacity: durable.timelineCapacity,
      rejectRepeatedTasks: durable.rejectRepeatedTasks ?? false,
    });

    this.#buildTriggers();
    for (const hook of registeredHooks('appStart')) {
      await hook({ hookData: {}, functionAppDirectory: process.cwd() });
    }
    await this.#engine.start();
    for (const listener of this.#queueListeners) await listener.start();
    for (const timer of this.#timers) timer.start();
    if (this.clock instanceof ManualClock)
      this.#detachSettler = this.clock.attachSettler(() => this.waitForIdle());
    this.#ready = true;
    this.#systemLog(
      'information',
      `Local host listening on ${this.baseUrl} with ${this.#functions.size} function(s).`,
    );
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#detachSettler?.();
    this.#engine?.stop();
    for (const listener of this.#queueListeners) listener.stop();
    for (const timer of this.#timers) timer.stop();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    await Promise.all(this.#queueListeners.map((listener) => listener.closed()));
    if (this.#ready) {
      for (const hook of registeredHooks('appTerminate')) await hook({ hookData: {} });
    }
  }

  functions(): RegisteredFunctionInfo[] {
    return [...this.#functions.values()].map((registration) => {
      const trigger = triggerOf(registration);
      const info: RegisteredFunctionInfo = { name: registration.name, trigger: trigger.type };
      if (typeof trigger['route'] === 'string') info.route = trigger['route'];
      if (Array.isArray(trigger['methods'])) info.methods = trigger['methods'] as string[];
      if (typeof trigger['authLevel'] === 'string') info.authLevel = trigger['authLevel'];
      if (typeof trigger['queueName'] === 'string') info.queueName = trigger['queueName'];
      if (typeof trigger['schedule'] === 'string') info.schedule = trigger['schedule'];
      return info;
    });
  }

  async waitForIdle(): Promise<void> {
    const engine = this.#requireEngine();
    for (;;) {
      await engine.whenIdle();
      if (this.#stopped) return;
      let busy =
        this.#inFlightHttp > 0 || this.#inFlightOther > 0 || this.#timers.some((timer) => timer.busy);
      for (const listener of this.#queueListeners) {
        if (busy) break;
        if (listener.busy) busy = true;
        else if (await listener.hasVisibleMessages()) {
          listener.wake();
          busy = true;
        }
      }
      if (!busy && engine.isIdle()) return;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  waitForInstance(instanceId: string, options: WaitForInstanceOptions = {}): Promise<InstanceStatusJson> {
    return this.#requireEngine().waitForInstance(instanceId, options.timeoutMs ?? 30_000);
  }

  getStatus(instanceId: string): InstanceStatusJson | undefined {
    return this.#requireEngine().getStatus(instanceId);
  }

  timeline(instanceId: string): TimelineEntry[] {
    return this.#requireEngine().timeline(instanceId)?.entries ?? [];
  }

  history(instanceId: string): HistoryEvent[] {
    return this.#requireEngine().history(instanceId) ?? [];
  }

  async enqueue(
    queueName: string,
    message: unknown,
    connectionSetting = 'AzureWebJobsStorage',
  ): Promise<void> {
    const queue = this.#queueClient(connectionSetting, queueName);
    await queue.createIfNotExists();
    await queue.sendMessage(encodeQueueMessage(message, this.hostJson.queues.messageEncoding));
    for (const listener of this.#queueListeners) if (listener.queueName === queueName) listener.wake();
  }

  // ---------------------------------------------------------------- setup

  #hubNameFromHostJson(): string {
    const configured = this.hostJson.durableTask.hubName;
    if (configured === undefined) return 'TestHubName';
    return resolveSettingTokens(configured, 'host.json extensions.durableTask.hubName (or pass taskHub)');
  }

  #buildTriggers(): void {
    for (const registration of this.#functions.values()) {
      const trigger = triggerOf(registration);
      const unsupported = unsupportedOutputs(registration);
      if (unsupported.length > 0) {
        this.#systemLog(
          'warning',
          `${registration.name}: output bindings ${unsupported.join(', ')} are ignored by the local host.`,
        );
      }
      switch (trigger.type.toLowerCase()) {
        case HTTP_TRIGGER: {
          const route = typeof trigger['route'] === 'string' ? trigger['route'] : registration.name;
          const methods = Array.isArray(trigger['methods'])
            ? (trigger['methods'] as string[]).map((method) => method.toUpperCase())
            : ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];
          this.#httpFunctions.push({
            registration,
            route: compileRoute(resolveSettingTokens(route, `${registration.name} route`)),
            methods: new Set(methods),
            authLevel:
              typeof trigger['authLevel'] === 'string' ? trigger['authLevel'].toLowerCase() : 'function',
          });
          break;
        }
        case QUEUE_TRIGGER: {
          const queueName = resolveSettingTokens(
            stringProperty(trigger, 'queueName'),
            `${registration.name} queueName`,
          );
          this.#queueListeners.push(
            new QueueTriggerListener({
              functionName: registration.name,
              queueName,
              connectionString: this.#connectionString(trigger, registration.name),
              settings: this.hostJson.queues,
              clock: this.clock,
              log: (entry) => this.#log(entry),
              invoke: async (input, triggerMetadata) => {
                await this.#invoke(registration, input, { triggerMetadata });
              },
            }),
          );
          break;
        }
        case TIMER_TRIGGER: {
          const schedule = resolveSettingTokens(
            stringProperty(trigger, 'schedule'),
            `${registration.name} schedule`,
          );
          this.#timers.push(
            new TimerTriggerScheduler({
              functionName: registration.name,
              schedule,
              runOnStartup: trigger['runOnStartup'] === true,
              clock: this.clock,
              log: (entry) => this.#log(entry),
              invoke: async (input) => {
                await this.#invoke(registration, input, {});
              },
            }),
          );
          break;
        }
        case ORCHESTRATION_TRIGGER:
        case ACTIVITY_TRIGGER:
          break;
        default:
          this.#systemLog(
            'warning',
            `${registration.name}: ${trigger.type} triggers are not supported locally.`,
          );
      }
    }
    this.#httpFunctions.sort((a, b) => b.route.precedence - a.route.precedence);
  }

  #connectionString(binding: CoreBinding, functionName: string): string {
    const setting =
      typeof binding['connection'] === 'string' && binding['connection']
        ? binding['connection']
        : 'AzureWebJobsStorage';
    const value = process.env[setting] ?? process.env[`AzureWebJobs${setting}`];
    if (!value) {
      throw new Error(
        `${functionName}: connection setting "${setting}" is not set (identity-based connections are not supported locally).`,
      );
    }
    return value;
  }

  #queueClient(connectionSetting: string, queueName: string): QueueClient {
    const key = `${connectionSetting}\u0000${queueName}`;
    let client = this.#queueClients.get(key);
    if (!client) {
      const connection = process.env[connectionSetting] ?? process.env[`AzureWebJobs${connectionSetting}`];
      if (!connection) throw new Error(`Connection setting "${connectionSetting}" is not set.`);
      client = new QueueClient(connection, queueName);
      this.#queueClients.set(key, client);
    }
    return client;
  }

  // ---------------------------------------------------------------- invocation

  async #invoke(
    registration: FunctionRegistration,
    input: unknown,
    extra: { triggerMetadata?: Record<string, unknown> },
  ): Promise<InvocationOutcome> {
    this.#inFlightOther++;
    try {
      const outcome = await invokeRegistration(registration, input, {
        triggerMetadata: extra.triggerMetadata,
        resolveInput: (binding) => this.#resolveInput(registration, binding),
        log: (entry) => this.#log(entry),
        now: () => this.clock.now(),
      });
      await this.#sendQueueOutputs(registration, outcome);
      return outcome;
    } finally {
      this.#inFlightOther--;
    }
  }

  #resolveInput(registration: FunctionRegistration, binding: CoreBinding & { name: string }): unknown {
    const type = binding.type.toLowerCase();
    if (type === 'durableclient' || type === 'orchestrationclient')
      return clientBindingData(this.#endpoints());
    this.#systemLog(
      'warning',
      `${registration.name}: input binding ${binding.name} (${binding.type}) is not supported locally.`,
    );
    return undefined;
  }

  async #sendQueueOutputs(registration: FunctionRegistration, outcome: InvocationOutcome): Promise<void> {
    for (const { binding, values } of queueOutputs(registration, outcome)) {
      const queueName = resolveSettingTokens(
        stringProperty(binding, 'queueName'),
        `${registration.name} output queueName`,
      );
      const setting =
        typeof binding['connection'] === 'string' && binding['connection']
          ? binding['connection']
          : 'AzureWebJobsStorage';
      for (const value of values) await this.enqueue(queueName, value, setting);
    }
  }

  #endpoints(): ClientEndpoints {
    return { baseUrl: this.baseUrl, taskHub: this.taskHub, systemKey: this.systemKey };
  }

  // ---------------------------------------------------------------- HTTP

  async #handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.#inFlightHttp++;
    try {
      const body = await readBody(req);
      const url = new URL(req.url ?? '/', this.baseUrl);
      const method = (req.method ?? 'GET').toUpperCase();
      if (!this.#ready || this.#stopped) {
        send(res, { status: 503, body: { message: 'The local host is not running.' } });
        return;
      }
      const path = url.pathname;
      if (path === WEBHOOK_PATH || path.startsWith(`${WEBHOOK_PATH}/`)) {
        if (!this.#hasKey(req, url, [this.systemKey, this.masterKey])) {
          send(res, { status: 401 });
          return;
        }
        send(res, await this.#management(method, path.slice(WEBHOOK_PATH.length), url.searchParams, body));
        return;
      }
      if (path === RPC_PATH || path.startsWith(`${RPC_PATH}/`)) {
        // In Azure this endpoint listens on the worker's own loopback only; here it shares the
        // host's port, so it takes the system key like the webhook path: in the path (where the
        // client binding's rpcBaseUrl puts it, since durable-functions adds no query to it), as
        // x-functions-key or as code.
        const rest = path.slice(RPC_PATH.length);
        const keyInPath = `/${this.systemKey}`;
        if (rest === keyInPath || rest.startsWith(`${keyInPath}/`)) {
          send(res, await this.#management(method, rest.slice(keyInPath.length), url.searchParams, body));
          return;
        }
        if (!this.#hasKey(req, url, [this.systemKey, this.masterKey])) {
          send(res, { status: 401 });
          return;
        }
        send(res, await this.#management(method, rest, url.searchParams, body));
        return;
      }
      if (path.startsWith('/admin/')) {
        if (!this.#hasKey(req, url, [this.masterKey])) {
          send(res, { status: 401 });
          return;
        }
        send(res, await this.#admin(method, path, body));
        return;
      }
      await this.#httpFunction(req, res, url, method, body);
    } catch (error) {
      this.#systemLog(
        'error',
        `HTTP ${req.method} ${req.url} failed: ${error instanceof Error ? error.stack : String(error)}`,
      );
      if (!res.headersSent) send(res, { status: 500 });
      else res.end();
    } finally {
      this.#inFlightHttp--;
    }
  }

  #management(method: string, path: string, query: URLSearchParams, body: Buffer): Promise<ApiResponse> {
    return handleManagementRequest(this.#requireEngine(), this.#endpoints(), method, path, query, body);
  }

  async #admin(method: string, path: string, body: Buffer): Promise<ApiResponse> {
    const engine = this.#requireEngine();
    const timeline = /^\/admin\/host\/instances\/([^/]+)\/timeline$/.exec(path);
    if (method === 'GET' && timeline) {
      const found = engine.timeline(decodeURIComponent(timeline[1]!));
      return found ? { status: 200, body: found } : { status: 404 };
    }
    if (method === 'GET' && path === '/admin/host/instances') {
      return { status: 200, body: engine.listStatuses({}) };
    }
    if (method === 'GET' && path === '/admin/host/status') {
      return {
        status: 200,
        body: {
          state: 'Running',
          taskHub: this.taskHub,
          storage: engine.storeKind,
          clock: new Date(this.clock.now()).toISOString(),
        },
      };
    }
    if (method === 'GET' && path === '/admin/functions') {
      return { status: 200, body: this.functions() };
    }
    const run = /^\/admin\/functions\/([^/]+)$/.exec(path);
    if (method === 'POST' && run) {
      // Azure's "run a non-HTTP function now" endpoint: body {"input": "..."}.
      const registration = this.#functions.get(decodeURIComponent(run[1]!));
      if (!registration) return { status: 404 };
      const type = triggerOf(registration).type.toLowerCase();
      if (type !== QUEUE_TRIGGER && type !== TIMER_TRIGGER)
        return { status: 400, body: { message: 'Only queue and timer functions can be run this way.' } };
      const parsed = body.length > 0 ? (JSON.parse(body.toString('utf8')) as { input?: unknown }) : {};
      const input =
        type === TIMER_TRIGGER
          ? { schedule: { adjustForDST: true }, scheduleStatus: null, isPastDue: false }
          : parseMaybeJson(parsed.input);
      void this.#invoke(registration, input, {}).catch((error: unknown) =>
        this.#systemLog('error', `${registration.name} failed: ${String(error)}`),
      );
      return { status: 202 };
    }
    return { status: 404 };
  }

  async #httpFunction(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    method: string,
    body: Buffer,
  ): Promise<void> {
    const prefix = this.hostJson.routePrefix;
    let routePath = url.pathname;
    if (prefix !== '') {
      if (routePath !== `/${prefix}` && !routePath.startsWith(`/${prefix}/`)) {
        send(res, { status: 404 });
        return;
      }
      routePath = routePath.slice(prefix.length + 1);
    }
    let matched: { fn: HttpFunction; params: Record<string, string> } | undefined;
    for (const fn of this.#httpFunctions) {
      if (!fn.methods.has(method)) continue;
      const params = fn.route.match(routePath);
      if (params) {
        matched = { fn, params };
        break;
      }
    }
    if (!matched) {
      send(res, { status: 404 });
      return;
    }
    const { fn, params } = matched;
    const headers = flattenHeaders(req);
    const easyAuth = this.#options.easyAuth;
    if (easyAuth && !applyEasyAuth(easyAuth, url.pathname, headers)) {
      send(res, { status: 401 });
      return;
    }
    const keys =
      fn.authLevel === 'anonymous'
        ? undefined
        : fn.authLevel === 'admin'
          ? [this.masterKey]
          : [this.functionKey, this.masterKey];
    if (keys && !this.#hasKey(req, url, keys)) {
      send(res, { status: 401 });
      return;
    }
    const request = new HttpRequest({
      method,
      url: url.toString(),
      headers,
      params,
      ...(body.length > 0 ? { body: { bytes: body } } : {}),
    });
    let outcome: InvocationOutcome;
    try {
      outcome = await this.#invoke(fn.registration, request, {});
    } catch (error) {
      this.#systemLog(
        'error',
        `${fn.registration.name} failed: ${error instanceof Error ? error.stack : String(error)}`,
      );
      send(res, { status: 500 });
      return;
    }
    await writeHttpResult(res, httpResultOf(fn.registration, outcome));
  }

  #hasKey(req: IncomingMessage, url: URL, accepted: string[]): boolean {
    const header = req.headers['x-functions-key'];
    const presented =
      (Array.isArray(header) ? header[0] : header) ?? url.searchParams.get('code') ?? undefined;
    return presented !== undefined && accepted.includes(presented);
  }

  #requireEngine(): DurableEngine {
    if (!this.#engine) throw new Error('The local host has not started.');
    return this.#engine;
  }

  #log(entry: HostLogEntry): void {
    this.#logs.log(entry);
    this.#options.log?.(entry);
  }

  #systemLog(level: HostLogLevel, message: string): void {
    this.#log({ time: new Date(this.clock.now()).toISOString(), level, category: 'host', message });
  }
}

/** The HTTP response of an invocation: the $return http binding, or an extra http output. */
function httpResultOf(registration: FunctionRegistration, outcome: InvocationOutcome): unknown {
  for (const [name, binding] of Object.entries(registration.metadata.bindings)) {
    if (binding.direction !== 'out' || binding.type.toLowerCase() !== 'http') continue;
    return name === '$return' ? outcome.result : outcome.context.extraOutputs.get(name);
  }
  return outcome.result;
}

async function writeHttpResult(res: ServerResponse, result: unknown): Promise<void> {
  if (result === undefined || result === null) {
    res.statusCode = 204;
    res.end();
    return;
  }
  if (typeof result !== 'object') {
    throw new Error(
      'The HTTP response must be an object with optional properties "body", "status", "headers", and "cookies".',
    );
  }
  const response = result instanceof HttpResponse ? result : new HttpResponse(result);
  res.statusCode = response.status;
  for (const [name, value] of response.headers.entries()) {
    if (name.toLowerCase() !== 'set-cookie') res.setHeader(name, value);
  }
  const cookies = response.cookies.map(serializeCookie);
  const headerCookies = response.headers.getSetCookie();
  if (cookies.length + headerCookies.length > 0) res.setHeader('Set-Cookie', [...headerCookies, ...cookies]);
  const body = Buffer.from(await response.arrayBuffer());
  res.end(body);
}

function serializeCookie(cookie: Cookie): string {
  let text = `${cookie.name}=${cookie.value}`;
  if (cookie.domain) text += `; Domain=${cookie.domain}`;
  if (cookie.path) text += `; Path=${cookie.path}`;
  if (cookie.expires) text += `; Expires=${new Date(cookie.expires).toUTCString()}`;
  if (cookie.maxAge !== undefined) text += `; Max-Age=${cookie.maxAge}`;
  if (cookie.secure) text += '; Secure';
  if (cookie.httpOnly) text += '; HttpOnly';
  if (cookie.sameSite) text += `; SameSite=${cookie.sameSite}`;
  return text;
}

function send(res: ServerResponse, response: ApiResponse): void {
  res.statusCode = response.status;
  for (const [name, value] of Object.entries(response.headers ?? {})) res.setHeader(name, value);
  if (response.body === undefined) {
    res.end();
    return;
  }
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(response.body));
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/**
 * Applies the emulated Easy Auth to a call's headers (changing them); false when the call must be
 * refused as unauthenticated.
 */
function applyEasyAuth(easyAuth: EasyAuthEmulation, path: string, headers: Record<string, string>): boolean {
  for (const name of Object.keys(headers)) {
    if (name.startsWith('x-ms-client-principal') || name.startsWith('x-ms-token-')) delete headers[name];
  }
  const bearer = /^Bearer\s+(\S+)$/i.exec(headers['authorization'] ?? '')?.[1];
  const principal = bearer !== undefined ? easyAuth.principals[bearer] : undefined;
  if (!principal) return easyAuth.excludedPaths.includes(path) && bearer === undefined;
  const claims = [
    { typ: 'http://schemas.microsoft.com/identity/claims/objectidentifier', val: principal.objectId },
    { typ: 'name', val: principal.name },
    ...(principal.groups ?? []).map((group) => ({ typ: 'groups', val: group })),
  ];
  const payload = { auth_typ: 'aad', claims, name_typ: 'name', role_typ: 'roles' };
  headers['x-ms-client-principal'] = Buffer.from(JSON.stringify(payload)).toString('base64');
  headers['x-ms-client-principal-id'] = principal.objectId;
  headers['x-ms-client-principal-name'] = principal.name;
  headers['x-ms-client-principal-idp'] = 'aad';
  return true;
}

function flattenHeaders(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

function parseMaybeJson(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return value;
  }
}

function stringProperty(binding: CoreBinding, name: string): string {
  const value = binding[name];
  return typeof value === 'string' ? value : '';
}

function randomKey(): string {
  return randomBytes(24).toString('base64url');
}
