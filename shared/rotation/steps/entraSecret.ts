import { BROKER_SECRET_DISPLAY_NAME } from '../../azure/entra.js';
import { AUTH_SECRET_NAME, SLUG_SECRET_NAMES } from '../../domain/footprint.js';
import { appSecretValue } from '../../maintenance/appDelivery.js';
import { MAINTENANCE_TAGS } from '../../maintenance/contracts.js';
import { latestVersion, writeVersion } from '../../maintenance/keyVaultVersions.js';
import { asStepOutcome, done, notYet, preconditionFailed, skipped } from '../../operations/outcome.js';
import type { EntraAddInput, EntraRetireInput, EntraVerifyInput } from '../contracts.js';
import type { RotationContext } from './context.js';

/**
 * Adds a new Entra client secret and stores it (tagged with its key id and the one it
 * replaces), only while the stored secret is still the planned one. Client secrets the broker
 * added but never stored (a crash between the two calls) are removed first, so none pile up.
 * A tenant that forbids client secrets makes the step "skipped" with the reason. Safe to run
 * twice: a stored secret written by this request is returned as it is.
 */
export function entraAdd(
  ctx: Pick<RotationContext, 'deps' | 'vaultOf' | 'pollIntervalMs'>,
  input: EntraAddInput,
) {
  const { deps, vaultOf, pollIntervalMs } = ctx;
  return asStepOutcome(async () => {
    const { target } = input;
    const vault = vaultOf(target);
    const stored = await latestVersion(vault, SLUG_SECRET_NAMES.entraClientSecret);
    const storedKeyId = stored?.tags[MAINTENANCE_TAGS.keyId];
    if (!stored || !storedKeyId) throw preconditionFailed('the stored Entra client secret is gone');
    if (storedKeyId !== input.fromKeyId) {
      if (stored.tags[MAINTENANCE_TAGS.request] === target.requestId) {
        return done({ toKeyId: storedKeyId });
      }
      throw preconditionFailed(
        'the stored Entra client secret is not the one planned: a newer rotation happened; nothing changed',
      );
    }
    const app = await deps.entra.findApplication(target.entraApplication);
    if (app?.id !== input.applicationId) {
      throw preconditionFailed(`the Entra application ${target.entraApplication} changed since planning`);
    }
    const keep = new Set([storedKeyId, stored.tags[MAINTENANCE_TAGS.previousKeyId]]);
    for (const orphan of app.passwordCredentials) {
      if (orphan.displayName === BROKER_SECRET_DISPLAY_NAME && !keep.has(orphan.keyId)) {
        await deps.entra.removePassword(app.id, orphan.keyId);
      }
    }
    let password: { keyId: string; secretText: string };
    try {
      password = await deps.entra.addPassword(app.id, BROKER_SECRET_DISPLAY_NAME);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (
        error instanceof Error &&
        error.name === 'GraphError' &&
        code === 'CredentialTypeNotAllowedAsPerAppPolicy'
      ) {
        return skipped(
          "the tenant's app management policy forbids client secrets (CredentialTypeNotAllowedAsPerAppPolicy); the current secret stays in use until it expires; give the application a certificate or federated credential instead",
        );
      }
      throw error;
    }
    await writeVersion(vault, SLUG_SECRET_NAMES.entraClientSecret, password.secretText, {
      tags: {
        [MAINTENANCE_TAGS.keyId]: password.keyId,
        [MAINTENANCE_TAGS.previousKeyId]: storedKeyId,
        [MAINTENANCE_TAGS.request]: target.requestId,
      },
      pollIntervalMs,
    });
    return done({ toKeyId: password.keyId });
  });
}

/**
 * Confirms the switch: Entra lists the new client secret, the app's built-in auth holds the
 * stored value (compared in this process; only the outcome leaves) and the gateway is ready.
 */
export function entraVerify(
  ctx: Pick<RotationContext, 'deps' | 'azure' | 'vaultOf' | 'readiness'>,
  input: EntraVerifyInput,
) {
  const { deps, azure, vaultOf, readiness } = ctx;
  return asStepOutcome(async () => {
    const { target } = input;
    const stored = await latestVersion(vaultOf(target), SLUG_SECRET_NAMES.entraClientSecret);
    if (stored?.tags[MAINTENANCE_TAGS.keyId] !== input.toKeyId) {
      throw preconditionFailed('the stored Entra client secret is not the one this rotation added');
    }
    const app = await deps.entra.findApplication(target.entraApplication);
    if (!app?.passwordCredentials.some((credential) => credential.keyId === input.toKeyId)) {
      return notYet('Entra does not list the new client secret yet');
    }
    const notReady = await readiness(target);
    if (notReady) return notYet(notReady);
    // When listSecrets shows the value, it must be the new one; when it does not (undocumented
    // for Key Vault references), the delivery step's successful PATCH after the write is the proof.
    const holds = await appSecretValue(azure, {
      resourceGroup: target.resourceGroup,
      appName: target.containerApp,
      appSecretName: AUTH_SECRET_NAME,
      expected: stored.value,
    });
    if (holds === 'differs') return notYet("the app's built-in auth does not hold the new client secret yet");
    return done({});
  });
}

/**
 * Removes a replaced Entra client secret once its grace period is over, never the one stored
 * (in use). Safe to run twice: a secret already gone is fine.
 */
export function entraRemove(ctx: Pick<RotationContext, 'deps' | 'vaultOf'>, input: EntraRetireInput) {
  const { deps, vaultOf } = ctx;
  return asStepOutcome(async () => {
    const stored = await latestVersion(vaultOf(input.target), SLUG_SECRET_NAMES.entraClientSecret);
    if (stored?.tags[MAINTENANCE_TAGS.keyId] === input.keyId) {
      throw preconditionFailed('the client secret to retire is the one in use; it was kept');
    }
    const app = await deps.entra.findApplication(input.target.entraApplication);
    if (app?.id !== input.applicationId) return done({ removed: false });
    if (!app.passwordCredentials.some((credential) => credential.keyId === input.keyId)) {
      return done({ removed: false });
    }
    await deps.entra.removePassword(app.id, input.keyId);
    return done({ removed: true });
  });
}

/** The detached orchestration that removes a replaced Entra client secret after its grace. */
export function entraRetireInstanceId(slug: string, keyId: string): string {
  return `entra-retire:${slug}:${keyId}`;
}
