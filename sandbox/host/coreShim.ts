/**
 * A stand-in for `@azure/functions-core`, the module the real Node.js worker injects. `@azure/functions`
 * v4 hands every `app.*` / `df.app.*` registration to `registerFunction(metadata, handler)` of that
 * module, so capturing those calls gives the local host exactly the registrations production uses.
 *
 * The shim is installed by hooking Node's CommonJS resolution (`Module._resolveFilename`): the first
 * `require('@azure/functions-core')` made by `@azure/functions` resolves to a pre-populated cache entry.
 * It must be installed before the app calls its first `app.*` function (the library caches a failed
 * lookup forever), which importing `sandbox/host/index.ts` does.
 */
import Module from 'node:module';

export interface CoreBinding {
  type: string;
  direction: 'in' | 'out' | 'inout';
  [property: string]: unknown;
}

export interface CoreFunctionMetadata {
  name: string;
  functionId?: string;
  bindings: Record<string, CoreBinding>;
  retryOptions?: unknown;
}

export type CoreFunctionCallback = (...args: unknown[]) => unknown;
export type CoreHookCallback = (context: Record<string, unknown>) => void | Promise<void>;
export type CoreHookName = 'appStart' | 'appTerminate' | 'preInvocation' | 'postInvocation' | 'log';

export interface FunctionRegistration {
  readonly name: string;
  readonly metadata: CoreFunctionMetadata;
  readonly handler: CoreFunctionCallback;
}

export class CoreDisposable {
  static from(...likes: { dispose(): unknown }[]): CoreDisposable {
    return new CoreDisposable(() => {
      for (const like of likes) like.dispose();
    });
  }
  #callOnDispose: (() => unknown) | undefined;
  constructor(callOnDispose: () => unknown) {
    this.#callOnDispose = callOnDispose;
  }
  dispose(): void {
    const call = this.#callOnDispose;
    this.#callOnDispose = undefined;
    call?.();
  }
}

interface ShimState {
  functions: Map<string, FunctionRegistration>;
  hooks: Map<CoreHookName, Set<CoreHookCallback>>;
  programmingModel: unknown;
  installed: boolean;
  /** Bumped on every registration so a host can tell whether loading the app registered anything. */
  version: number;
}

const stateKey = Symbol.for('claw-broker.local-host.functions-core-shim');

/** One registry per process, even if this module is loaded twice under different URLs. */
function shimState(): ShimState {
  const holder = globalThis as unknown as Record<symbol, ShimState | undefined>;
  let state = holder[stateKey];
  if (!state) {
    state = {
      functions: new Map(),
      hooks: new Map(),
      programmingModel: undefined,
      installed: false,
      version: 0,
    };
    holder[stateKey] = state;
  }
  return state;
}

/** The object `require('@azure/functions-core')` returns under the local host. */
const coreApi = {
  version: 'claw-broker-local-host',
  Disposable: CoreDisposable,
  registerFunction(metadata: CoreFunctionMetadata, callback: CoreFunctionCallback): CoreDisposable {
    const state = shimState();
    const registration: FunctionRegistration = { name: metadata.name, metadata, handler: callback };
    // Last registration under a name wins, as a re-registered function does in the worker.
    state.functions.set(metadata.name, registration);
    state.version++;
    return new CoreDisposable(() => {
      if (state.functions.get(metadata.name) === registration) state.functions.delete(metadata.name);
    });
  },
  registerHook(hookName: string, callback: CoreHookCallback): CoreDisposable {
    const state = shimState();
    const name = hookName as CoreHookName;
    let set = state.hooks.get(name);
    if (!set) {
      set = new Set();
      state.hooks.set(name, set);
    }
    set.add(callback);
    return new CoreDisposable(() => set.delete(callback));
  },
  setProgrammingModel(model: unknown): void {
    shimState().programmingModel = model;
  },
  getProgrammingModel(): unknown {
    return shimState().programmingModel;
  },
  log(_level: string, _category: string, _message: string): void {
    // System logs of the library; the local host has no worker channel to forward them to.
  },
};

const SHIM_FILENAME = '/__claw_broker_local_host__/@azure/functions-core.js';

interface ModuleInternals {
  _resolveFilename(request: string, parent: unknown, isMain: boolean, options?: unknown): string;
  _cache: Record<string, unknown>;
}

/** Installs the `@azure/functions-core` shim (idempotent). */
export function installFunctionsCoreShim(): void {
  const state = shimState();
  if (state.installed) return;
  const internals = Module as unknown as ModuleInternals;
  const shimModule = new Module(SHIM_FILENAME);
  shimModule.filename = SHIM_FILENAME;
  shimModule.exports = coreApi;
  shimModule.loaded = true;
  internals._cache[SHIM_FILENAME] = shimModule;
  const original = internals._resolveFilename.bind(Module);
  internals._resolveFilename = (request, parent, isMain, options) =>
    request === '@azure/functions-core' ? SHIM_FILENAME : original(request, parent, isMain, options);
  state.installed = true;
}

/** Every function registered so far in this process (name -> registration). */
export function registeredFunctions(): ReadonlyMap<string, FunctionRegistration> {
  return shimState().functions;
}

export function registrationVersion(): number {
  return shimState().version;
}

export function registeredHooks(name: CoreHookName): CoreHookCallback[] {
  return [...(shimState().hooks.get(name) ?? [])];
}

installFunctionsCoreShim();
