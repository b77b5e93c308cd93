import type { FinishInput, MarkInput } from '../contracts.js';
import type { TeardownStepsDeps } from './deps.js';

/** Marks the environment `deleting`. Safe to run twice: it sets values. */
export async function markDeleting(
  deps: Pick<TeardownStepsDeps, 'registry'>,
  input: MarkInput,
): Promise<void> {
  await deps.registry.update(input.slug, (record) =>
    record ? { ...record, state: 'deleting', currentStep: 'teardown' } : undefined,
  );
}

/** Marks the environment `deleted` with the backup's location. Safe to run twice: it sets values. */
export async function finish(deps: Pick<TeardownStepsDeps, 'registry'>, input: FinishInput): Promise<void> {
  const { plan } = input;
  await deps.registry.update(plan.slug, (record) =>
    record
      ? {
          ...record,
          state: 'deleted',
          url: undefined,
          currentStep: undefined,
          progress: undefined,
          teardown: {
            requestId: plan.requestId,
            at: input.at,
            backupLocation: input.backup.location,
            backupRetainUntil: input.backup.retainUntil,
            keyVault: input.vault.outcome,
            keyVaultRecoverableUntil: input.vault.recoverableUntil,
          },
        }
      : undefined,
  );
}
