/**
 * The local Functions + Durable host for tests, the sandbox and benchmarks. Importing this module
 * installs the `@azure/functions-core` shim, so import it before the app. See README.md.
 */
import './coreShim.js';

export { startLocalHost } from './localHost.js';
export type {
  EasyAuthEmulation,
  EmulatedPrincipal,
  LocalHost,
  LocalHostOptions,
  RegisteredFunctionInfo,
  WaitForInstanceOptions,
} from './localHost.js';
export { ManualClock, SystemClock } from './clock.js';
export type { HostClock } from './clock.js';
export { consoleLogger, LogBuffer } from './logger.js';
export type { HostLogEntry, HostLogLevel, HostLogger } from './logger.js';
export { registeredFunctions, installFunctionsCoreShim } from './coreShim.js';
export type { FunctionRegistration } from './coreShim.js';
export { instanceIdProblem } from './durable/engine.js';
export { MemoryDurableStore } from './durable/store.js';
export type { DurableStore, StoreSnapshot } from './durable/store.js';
export { eventTypeName, EventType } from './durable/types.js';
export type {
  HistoryEvent,
  InboxMessage,
  InstanceDoc,
  InstanceStatusJson,
  RuntimeStatus,
  TimelineEntry,
  WorkItem,
} from './durable/types.js';
