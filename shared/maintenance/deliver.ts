import { SLUG_SECRET_NAMES } from '../domain/footprint.js';
import { asStepOutcome, done, preconditionFailed } from '../operations/outcome.js';
import { reapplySecretReferences } from './appDelivery.js';
import { MAINTENANCE_TAGS, type DeliverInput, type DeliverOutput } from './contracts.js';
import { latestVersion, shortVersion as short } from './keyVaultVersions.js';
import type { MaintenanceDependencies } from './target.js';

/**
 * Makes the app take its Key Vault references now (set again, then the active revision
 * restarted when asked), only while the vault still holds what the plan delivers: a newer
 * rotation means this (late) step is refused and leaves the app alone. Safe to run twice: a
 * second pass sets the same references again. Shared by rotation and SAS renewal (activity
 * `maintenanceDeliver`).
 */
export function deliver(deps: Pick<MaintenanceDependencies, 'azure'>, input: DeliverInput) {
  const { azure } = deps;
  return asStepOutcome<DeliverOutput>(async () => {
    const { target, expect } = input;
    const vault = azure.secrets(target.vaultUri);
    if (expect.kind === 'secret-version') {
      const current = await latestVersion(vault, expect.secretName);
      if (current?.version !== expect.version) {
        throw preconditionFailed(
          `${expect.secretName} is at version ${short(current?.version)}, not ${short(expect.version)}: a newer one exists; the app was left alone`,
        );
      }
    } else if (expect.kind === 'entra-key') {
      const current = await latestVersion(vault, SLUG_SECRET_NAMES.entraClientSecret);
      if (current?.tags[MAINTENANCE_TAGS.keyId] !== expect.keyId) {
        throw preconditionFailed(
          'the stored Entra client secret is not the one this rotation added; the app was left alone',
        );
      }
    } else {
      const current = await latestVersion(vault, SLUG_SECRET_NAMES.storageKey);
      if (current?.tags[MAINTENANCE_TAGS.keyName] !== expect.keyName) {
        throw preconditionFailed(
          `the stored storage key is not ${expect.keyName} as this rotation left it; the app was left alone`,
        );
      }
    }
    const applied = await reapplySecretReferences(azure, {
      resourceGroup: target.resourceGroup,
      appName: target.containerApp,
      vaultUri: target.vaultUri,
      restart: input.restart,
      ensureReference: input.ensureReference,
    });
    return done({ revision: applied.revision, restarted: applied.restarted });
  });
}
