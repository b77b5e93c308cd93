import { azureFailureOf, isTransient, type AzureFailure } from '../azure/azureErrors.js';
import type { Change } from '../azure/ensure.js';
import { isReplicationLag } from '../azure/entra.js';
import { isVaultAccessPending } from '../azure/keyVaultSecrets.js';
import { BrokerError, ErrorCodes, isBrokerError } from '../errors.js';

/**
 * What every step activity of every operation answers. Only infrastructure failures (throttling
 * that outlasted the SDK's Retry-After handling, 5xx, dropped connections) throw, so the
 * orchestration's activity retry runs the same step again; everything else is one of these, and
 * the orchestration decides (orchestrations/kit.ts).
 */
export type StepOutcome<T> =
  /** Done; `changes` lists what the step created or repaired (for the operation's summary). */
  | { status: 'done'; value: T; changes?: Change[] }
  /** Azure or the app is not there yet (propagation, a restart): wait and run the step again. */
  | { status: 'not-yet'; reason: string }
  /** The step's precondition no longer holds (a newer rotation happened): nothing was changed. */
  | { status: 'refused'; reason: string }
  /** The step cannot be done here by policy (the tenant forbids client secrets): nothing was changed. */
  | { status: 'skipped'; reason: string }
  /** Azure's definitive answer; running the step again would not change it. */
  | { status: 'failed'; error: AzureFailure };

/** Any outcome but `done`: what ends a sequence early. */
export type StepEnded = Exclude<StepOutcome<unknown>, { status: 'done' }>;

export const done = <T>(value: T, changes?: (Change | undefined)[]): StepOutcome<T> =>
  changes === undefined
    ? { status: 'done', value }
    : { status: 'done', value, changes: changes.filter((change): change is Change => change !== undefined) };
export const notYet = (reason: string): StepOutcome<never> => ({ status: 'not-yet', reason });
export const refused = (reason: string): StepOutcome<never> => ({ status: 'refused', reason });
export const skipped = (reason: string): StepOutcome<never> => ({ status: 'skipped', reason });

/** Thrown inside a step body when its precondition does not hold; becomes a `refused` outcome. */
export function preconditionFailed(reason: string): BrokerError {
  return new BrokerError(ErrorCodes.PreconditionFailed, reason);
}

export interface OutcomeOptions {
  /**
   * The step reads Entra objects it (or an earlier step of the same run) just created, so Graph's
   * "not found" is directory replication and means "not yet" (isReplicationLag). Off for steps on
   * objects that existed before the run, where it means the object is gone.
   */
  freshEntraObjects?: boolean;
}

/**
 * Runs one step body and turns what it threw into the step's typed outcome:
 * - Key Vault's 403 while a grant propagates (and, with `freshEntraObjects`, Entra's replication
 *   lag) is "not yet";
 * - a failed precondition (preconditionFailed) is "refused"; any other BrokerError is "failed";
 * - throttling that outlasted the SDK's retries, 5xx and dropped connections (ARM, Key Vault and
 *   Graph alike: isTransient) are rethrown, only Azure's code and message, for the activity retry;
 * - every other answer is "failed" with Azure's (or Graph's) code and message, never the raw error,
 *   which may carry a request body with a key or a token.
 * Wrapping twice (a step that maps its own body, registered with registerStep) changes nothing.
 */
const RETHROWN = Symbol('claw-broker.transientStepFailure');

/** An infrastructure failure, reduced to Azure's code and message, marked so a second wrap rethrows it as it is. */
function transientFailure(error: unknown): Error {
  const failure = azureFailureOf(error);
  const reduced = new Error(`${failure.code}: ${failure.message}`);
  Object.defineProperty(reduced, RETHROWN, { value: true });
  return reduced;
}

function isTransientFailure(error: unknown): boolean {
  return error instanceof Error && (error as unknown as Record<symbol, unknown>)[RETHROWN] === true;
}

export async function asStepOutcome<T>(
  body: () => Promise<StepOutcome<T>>,
  options: OutcomeOptions = {},
): Promise<StepOutcome<T>> {
  try {
    return await body();
  } catch (error) {
    // Already mapped by an inner asStepOutcome (a step body that wraps itself, inside registerStep).
    if (isTransientFailure(error)) throw error;
    if (isVaultAccessPending(error) || (options.freshEntraObjects === true && isReplicationLag(error)))
      return notYet(error.message);
    if (isBrokerError(error)) {
      if (error.code === ErrorCodes.PreconditionFailed) return refused(error.message);
      return { status: 'failed', error: { code: error.code, message: error.message } };
    }
    // The SDK error may hold the request (a key or a token): only Azure's code and message leave the activity.
    if (isTransient(error)) throw transientFailure(error);
    return { status: 'failed', error: azureFailureOf(error) };
  }
}
