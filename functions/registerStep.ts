import * as df from 'durable-functions';
import type { FunctionInput, InvocationContext } from '@azure/functions';
import type {
  ActivityInput,
  ActivityName,
  ActivityOutput,
  StepActivity,
  StepValue,
} from '../shared/activities.js';
import { createLogger, type LogFields, type Logger } from '../shared/logger.js';
import { asStepOutcome, type OutcomeOptions, type StepOutcome } from '../shared/operations/outcome.js';

/** Who a step works for, for its log lines: names and ids, never a value. */
export interface StepScope {
  slug?: string | undefined;
  requestId?: string | undefined;
}

export interface StepRegistration<N extends StepActivity> {
  /** The operation, for log lines: `<kind> step started`, `<kind> step done`, ... */
  kind: string;
  /** The step's log label (the activity name when omitted). */
  label?: string;
  scope(input: ActivityInput<N>): StepScope;
  /**
   * The step. It answers a StepOutcome, or throws: registerStep maps what it threw the one way
   * every step does (asStepOutcome), so infrastructure failures still reach the activity retry
   * and nothing raw (a request with a key in it) leaves the activity.
   */
  run(input: ActivityInput<N>, context: InvocationContext): Promise<StepOutcome<StepValue<N>>>;
  extraInputs?: FunctionInput[];
  /** How what the step threw maps to an outcome (asStepOutcome's options). */
  outcome?: OutcomeOptions;
}

/**
 * Registers a step activity: each is safe to run twice (see the step's JSDoc) and logs only the
 * step, the slug, the request and the outcome's status (or Azure's error code), never a value.
 */
export function registerStep<N extends StepActivity>(name: N, registration: StepRegistration<N>): void {
  const { kind } = registration;
  df.app.activity(name, {
    extraInputs: registration.extraInputs ?? [],
    handler: async (
      input: ActivityInput<N>,
      context: InvocationContext,
    ): Promise<StepOutcome<StepValue<N>>> => {
      const log = createLogger(context, { step: registration.label ?? name, ...registration.scope(input) });
      log.info(`${kind} step started`);
      const outcome = await asStepOutcome(() => registration.run(input, context), registration.outcome);
      logOutcome(log, kind, outcome);
      return outcome;
    },
  });
}

function logOutcome(log: Logger, kind: string, outcome: StepOutcome<unknown>): void {
  switch (outcome.status) {
    case 'done':
      log.info(`${kind} step done`, outcome.changes ? { changes: outcome.changes.length } : {});
      return;
    case 'not-yet':
      log.info(`${kind} step not yet done`);
      return;
    case 'failed':
      log.warn(`${kind} step failed`, { code: outcome.error.code });
      return;
    default:
      log.info(`${kind} step ${outcome.status}`);
  }
}

export interface ActivityRegistration<N extends ActivityName> {
  run(input: ActivityInput<N>, context: InvocationContext): Promise<ActivityOutput<N>>;
  extraInputs?: FunctionInput[];
  /** Log `<kind> step started` and `<kind> step done` (with `fields` of the output) around it. */
  log?: {
    kind: string;
    label: string;
    scope(input: ActivityInput<N>): StepScope;
    fields?(output: ActivityOutput<N>): LogFields;
  };
}

/**
 * Registers a bookkeeping activity (a plan, a record, a queue step), typed by the activity map so
 * its input and output match what the orchestration sends and reads.
 */
export function registerActivity<N extends ActivityName>(
  name: N,
  registration: ActivityRegistration<N>,
): void {
  df.app.activity(name, {
    extraInputs: registration.extraInputs ?? [],
    handler: async (input: ActivityInput<N>, context: InvocationContext): Promise<ActivityOutput<N>> => {
      const { log } = registration;
      if (!log) return registration.run(input, context);
      const logger = createLogger(context, { step: log.label, ...log.scope(input) });
      logger.info(`${log.kind} step started`);
      const output = await registration.run(input, context);
      logger.info(`${log.kind} step done`, log.fields?.(output) ?? {});
      return output;
    },
  });
}
