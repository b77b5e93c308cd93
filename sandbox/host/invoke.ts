import { randomUUID } from 'node:crypto';
import { format } from 'node:util';
import type {
  EffectiveFunctionOptions,
  FunctionInput,
  FunctionOutput,
  InvocationContext as InvocationContextType,
} from '@azure/functions';
import { InvocationContext } from './azureFunctions.js';
import { registeredHooks, type CoreBinding, type FunctionRegistration } from './coreShim.js';
import type { HostLogLevel, HostLogger } from './logger.js';

const RETURN_BINDING = '$return';

export interface InvokeOptions {
  triggerMetadata?: Record<string, unknown>;
  /** Supplies the value of each non-trigger input binding (e.g. the durable client). */
  resolveInput?: (binding: CoreBinding & { name: string }) => unknown;
  log: HostLogger;
  now: () => number;
}

export interface InvocationOutcome {
  result: unknown;
  context: InvocationContextType;
}

export function isTriggerType(type: string): boolean {
  return type.toLowerCase().endsWith('trigger');
}

/** The trigger binding of a registration (every registration has exactly one). */
export function triggerOf(registration: FunctionRegistration): CoreBinding & { name: string } {
  for (const [name, binding] of Object.entries(registration.metadata.bindings)) {
    if (isTriggerType(binding.type)) return { ...binding, name };
  }
  throw new Error(`Function "${registration.name}" has no trigger binding.`);
}

/** The effective options the worker builds from the binding metadata (fromRpcBindings). */
export function effectiveOptions(registration: FunctionRegistration): EffectiveFunctionOptions {
  let trigger: FunctionInput | undefined;
  let ret: FunctionOutput | undefined;
  const extraInputs: FunctionInput[] = [];
  const extraOutputs: FunctionOutput[] = [];
  for (const [name, binding] of Object.entries(registration.metadata.bindings)) {
    const converted = { ...binding, type: binding.type, name };
    if (isTriggerType(binding.type)) trigger = converted;
    else if (name === RETURN_BINDING) ret = converted;
    else if (binding.direction === 'in') extraInputs.push(converted);
    else extraOutputs.push(converted);
  }
  if (!trigger) throw new Error(`Function "${registration.name}" has no trigger binding.`);
  return { trigger: trigger, return: ret, extraInputs, extraOutputs };
}

/**
 * Invokes a registered handler the way the Node.js worker does: a real InvocationContext, extra
 * inputs set by binding name, preInvocation hooks (which may replace inputs or the handler), the
 * handler called as `(triggerInput, context)`, then postInvocation hooks (which may replace the
 * result or error).
 */
export async function invokeRegistration(
  registration: FunctionRegistration,
  triggerInput: unknown,
  options: InvokeOptions,
): Promise<InvocationOutcome> {
  const functionName = registration.name;
  const logHandler = (level: HostLogLevel | 'none', ...args: unknown[]) => {
    if (level === 'none') return;
    options.log({
      time: new Date(options.now()).toISOString(),
      level,
      category: functionName,
      message: format(...args),
    });
  };
  const context = new InvocationContext({
    invocationId: randomUUID(),
    functionName,
    triggerMetadata: options.triggerMetadata,
    options: effectiveOptions(registration),
    logHandler,
  });
  for (const input of context.options.extraInputs) {
    context.extraInputs.set(input.name, options.resolveInput?.(input as CoreBinding & { name: string }));
  }

  const hookData: Record<string, unknown> = {};
  const pre: Record<string, unknown> = {
    hookData,
    invocationContext: context,
    inputs: [triggerInput],
    functionCallback: registration.handler,
  };
  for (const hook of registeredHooks('preInvocation')) await hook(pre);

  let result: unknown;
  let error: unknown;
  let failed = false;
  const inputs = pre['inputs'] as unknown[];
  try {
    const callback = pre['functionCallback'] as (...args: unknown[]) => unknown;
    result = await callback(...inputs, context);
  } catch (caught) {
    failed = true;
    error = caught;
  }

  const post: Record<string, unknown> = { hookData, invocationContext: context, inputs, result, error };
  const postHooks = registeredHooks('postInvocation');
  for (const hook of postHooks) await hook(post);
  if (postHooks.length > 0) {
    result = post['result'];
    error = post['error'];
    failed = error !== undefined && error !== null;
  }
  if (failed) throw error;
  return { result, context };
}

/** Queue output bindings with the values the invocation produced (return value or extraOutputs). */
export function queueOutputs(
  registration: FunctionRegistration,
  outcome: InvocationOutcome,
): { binding: CoreBinding & { name: string }; values: unknown[] }[] {
  const found: { binding: CoreBinding & { name: string }; values: unknown[] }[] = [];
  for (const [name, binding] of Object.entries(registration.metadata.bindings)) {
    if (binding.direction !== 'out' || binding.type.toLowerCase() !== 'queue') continue;
    const value = name === RETURN_BINDING ? outcome.result : outcome.context.extraOutputs.get(name);
    if (value === undefined || value === null) continue;
    found.push({ binding: { ...binding, name }, values: Array.isArray(value) ? value : [value] });
  }
  return found;
}

/** Output bindings the local host cannot honour, so a test notices instead of losing data silently. */
export function unsupportedOutputs(registration: FunctionRegistration): string[] {
  return Object.entries(registration.metadata.bindings)
    .filter(([, binding]) => binding.direction === 'out')
    .filter(([, binding]) => !['queue', 'http'].includes(binding.type.toLowerCase()))
    .map(([name, binding]) => `${name} (${binding.type})`);
}
