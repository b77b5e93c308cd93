import { azureFailureOf, isTransient } from '../azure/azureErrors.js';
import { isVaultAccessPending } from '../azure/keyVaultSecrets.js';
import { BrokerError, ErrorCodes, isBrokerError } from '../errors.js';
import type { MaintenanceOutcome } from './contracts.js';

export const done = <T>(value: T): MaintenanceOutcome<T> => ({ status: 'done', value });
export const notYet = (reason: string): MaintenanceOutcome<never> => ({ status: 'not-yet', reason });
export const refused = (reason: string): MaintenanceOutcome<never> => ({ status: 'refused', reason });
export const skipped = (reason: string): MaintenanceOutcome<never> => ({ status: 'skipped', reason });

/** Thrown inside a step body when its precondition does not hold; becomes a `refused` outcome. */
export function preconditionFailed(reason: string): BrokerError {
  return new BrokerError(ErrorCodes.PreconditionFailed, reason);
}

/**
 * Runs one maintenance step body and turns what it threw into a typed outcome: Key Vault's 403
 * while a grant propagates is "not yet"; a failed precondition is "refused"; throttling that
 * outlasted the SDK's Retry-After handling, 5xx and dropped connections are rethrown (only Azure's
 * code and message) for the orchestration's activity retry; every other answer is "failed" with
 * Azure's (or Graph's) code and message, never the raw error, which may carry a request body.
 */
export async function asOutcome<T>(
  body: () => Promise<MaintenanceOutcome<T>>,
): Promise<MaintenanceOutcome<T>> {
  try {
    return await body();
  } catch (error) {
    if (isVaultAccessPending(error)) return notYet(error.message);
    if (isBrokerError(error)) {
      if (error.code === ErrorCodes.PreconditionFailed) return refused(error.message);
      return { status: 'failed', error: { code: error.code, message: error.message } };
    }
    if (isTransient(error) || isGraphTransient(error)) {
      const failure = azureFailureOf(error);
      // eslint-disable-next-line preserve-caught-error -- the SDK error may hold the request (a key or a token); only Azure's code and message leave the activity
      throw new Error(`${failure.code}: ${failure.message}`);
    }
    return { status: 'failed', error: azureFailureOf(error) };
  }
}

function isGraphTransient(error: unknown): boolean {
  if (!(error instanceof Error) || error.name !== 'GraphError') return false;
  const status = (error as { statusCode?: unknown }).statusCode;
  return typeof status === 'number' && (status === 429 || status >= 500);
}
