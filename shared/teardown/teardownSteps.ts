import type { BackupInput, FinishInput, InspectInput, MarkInput, TeardownPlan } from './contracts.js';
import { backup } from './steps/backup.js';
import type { TeardownStepsDeps } from './steps/deps.js';
import { removeEntra } from './steps/entra.js';
import { inspect } from './steps/inspect.js';
import { finish, markDeleting } from './steps/records.js';
import { deleteResourceGroup, handleKeyVault } from './steps/resourceGroup.js';

export type { TeardownStepsDeps } from './steps/deps.js';
export { backupBlobName } from './steps/backup.js';

export type TeardownSteps = ReturnType<typeof createTeardownSteps>;

/**
 * Teardown's steps. Each is safe to run twice: it looks first and acts on what is still there
 * (a deleted group is not deleted again, a backup is written to the same place, a removed Entra
 * object is skipped). Ownership is established by looking, never assumed: the resource group must
 * carry the broker's ownership tags for this slug, and every resource in it too; the app
 * registration and the group must have the broker among their Entra owners. Each step is a named
 * function in shared/teardown/steps/.
 */
export function createTeardownSteps(deps: TeardownStepsDeps) {
  return {
    inspect: (input: InspectInput) => inspect(deps, input),
    markDeleting: (input: MarkInput) => markDeleting(deps, input),
    backup: (input: BackupInput) => backup(deps, input),
    deleteResourceGroup: (plan: TeardownPlan) => deleteResourceGroup(deps, plan),
    handleKeyVault: (plan: TeardownPlan) => handleKeyVault(deps, plan),
    removeEntra: (plan: TeardownPlan) => removeEntra(deps, plan),
    finish: (input: FinishInput) => finish(deps, input),
  };
}
