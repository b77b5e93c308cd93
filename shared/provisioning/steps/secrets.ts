import { randomBytes } from 'node:crypto';
import type { AzureClients } from '../../azure/azureClients.js';
import type { Change } from '../../azure/ensure.js';
import {
  deleteAndPurgeSecret,
  ensureSecret,
  parseSecretUri,
  readSecret,
  secretUri,
  writeSecret,
} from '../../azure/keyVaultSecrets.js';
import { storageAccountKey } from '../../azure/storage.js';
import { SLUG_SECRET_NAMES } from '../../domain/footprint.js';
import { BrokerError, ErrorCodes } from '../../errors.js';
import { isOwnStagedSecret, stagedSecretName, type StageableSecret } from '../../intake/stagedSecrets.js';
import type { SecretUris, StepInput } from '../contracts.js';
import { asProvisionOutcome, done, need, type StepContext } from './context.js';

/**
 * The slug's secrets in its vault, each written only when absent: the gateway token (32
 * random bytes, hex, generated here), the Telegram webhook secret, the storage account key, and
 * the secrets the request staged in the broker's vault (moved: copied, then the staged copy
 * deleted and purged). Returns versionless secret URIs only. While the broker's Key Vault role
 * has not propagated the vault answers 403 and the step is "not yet". Safe to run twice: every
 * write is conditional on absence, and a staged secret already moved is found in the slug's
 * vault.
 */
export function secretsStep(ctx: StepContext, input: StepInput) {
  const { azure, registry, pollMs, slugVault } = ctx;
  return asProvisionOutcome(async () => {
    const { plan } = input;
    const vault = slugVault(input);
    const vaultUri = need(input, 'keyVault').vaultUri;
    const changes: Change[] = [];
    const setAt: Record<string, string> = {};
    const now = () => new Date().toISOString();
    const track = (kind: string, wrote: boolean) => {
      if (!wrote) return;
      setAt[kind] = now();
      changes.push({ resource: `secret ${kind} in ${plan.names.keyVault}`, action: 'created' });
    };

    track('gateway-token', await ensureSecret(vault, SLUG_SECRET_NAMES.gatewayToken, randomHexToken));
    if ((await readSecret(vault, SLUG_SECRET_NAMES.storageKey)) === undefined) {
      const key = await storageAccountKey(azure, {
        resourceGroup: plan.names.resourceGroup,
        accountName: need(input, 'storage').accountName,
      });
      await writeSecret(vault, SLUG_SECRET_NAMES.storageKey, key, {}, pollMs);
      track('storage-key', true);
    }
    const uris: SecretUris = {
      gatewayToken: secretUri(vaultUri, SLUG_SECRET_NAMES.gatewayToken),
      storageKey: secretUri(vaultUri, SLUG_SECRET_NAMES.storageKey),
    };
    if (plan.channels.includes('telegram')) {
      track(
        'telegram-bot-token',
        await moveStagedSecret(
          ctx,
          plan.telegramBotTokenRef,
          'telegramBotToken',
          plan.requestId,
          vault,
          SLUG_SECRET_NAMES.telegramBotToken,
          'telegramBotToken',
        ),
      );
      track(
        'telegram-webhook-secret',
        await ensureSecret(vault, SLUG_SECRET_NAMES.telegramWebhookSecret, randomHexToken),
      );
      uris.telegramBotToken = secretUri(vaultUri, SLUG_SECRET_NAMES.telegramBotToken);
      uris.telegramWebhookSecret = secretUri(vaultUri, SLUG_SECRET_NAMES.telegramWebhookSecret);
    }
    if (plan.foundry) {
      track(
        'foundry-api-key',
        await moveStagedSecret(
          ctx,
          plan.foundry.apiKeyRef,
          'foundryApiKey',
          plan.requestId,
          vault,
          SLUG_SECRET_NAMES.foundryApiKey,
          'foundry.apiKey',
        ),
      );
      uris.foundryApiKey = secretUri(vaultUri, SLUG_SECRET_NAMES.foundryApiKey);
    }
    if (Object.keys(setAt).length > 0) {
      await registry.update(plan.slug, (record) =>
        record ? { ...record, secretAges: { ...record.secretAges, ...setAt } } : undefined,
      );
    }
    return done(uris, changes);
  });
}

/** 32 random bytes, hex: the gateway token's form (OpenClaw's audit wants at least 24 characters). */
function randomHexToken(): string {
  return randomBytes(32).toString('hex');
}

/**
 * Moves a secret the request staged in the broker's vault into the slug's vault under `name`,
 * then deletes the staged copy. Returns true when it wrote. Safe to run twice: when the staged
 * copy is gone, a secret already in the slug's vault means it was moved before.
 *
 * The intake already refused any reference but this request's own staged secret; this checks
 * again and never opens the vault the reference names: it reads the staging name derived from the
 * request id in the configured broker vault, so no reference can reach another slug's vault, the
 * broker's own secrets or another host.
 */
async function moveStagedSecret(
  ctx: StepContext,
  stagedRef: string | undefined,
  secret: StageableSecret,
  requestId: string,
  vault: ReturnType<AzureClients['secrets']>,
  name: string,
  param: string,
): Promise<boolean> {
  const { config, azure, pollMs } = ctx;
  if (
    stagedRef !== undefined &&
    !isOwnStagedSecret(stagedRef, config.stagingKeyVaultUri, requestId, secret)
  ) {
    throw new BrokerError(
      ErrorCodes.SecretReferenceRefused,
      `${param} may only refer to the secret staged for request ${requestId} in the broker's Key Vault`,
    );
  }
  const current = await readSecret(vault, name);
  if (stagedRef) {
    const staging = azure.secrets(config.stagingKeyVaultUri);
    const stagedName = stagedSecretName(requestId, secret);
    const value = await readSecret(staging, stagedName, parseSecretUri(stagedRef).version);
    if (value !== undefined) {
      const wrote = value !== current;
      if (wrote) await writeSecret(vault, name, value, {}, pollMs);
      await deleteAndPurgeSecret(staging, stagedName, pollMs);
      return wrote;
    }
    // Moved before; a crash between the delete and the purge may have left a deleted copy.
    await deleteAndPurgeSecret(staging, stagedName, pollMs);
  }
  if (current !== undefined) return false;
  throw new BrokerError(
    ErrorCodes.StagedSecretMissing,
    stagedRef
      ? `${param} references the secret staged for request ${requestId}, which is not in the broker's Key Vault, and the slug's vault has no ${name}`
      : `${param} is required: the slug's vault has no ${name} yet`,
  );
}
