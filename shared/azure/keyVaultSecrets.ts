import type { SecretClient } from '@azure/keyvault-secrets';
import { codeOf, isForbidden, isNotFound, statusOf } from './azureErrors.js';

/** Key Vault refused the broker: its role on the vault has not propagated yet (or is missing). */
export class VaultAccessPending extends Error {
  override readonly name = 'VaultAccessPending';
  constructor(readonly vaultUri: string) {
    super(`Key Vault ${new URL(vaultUri).host} does not grant the broker access yet (403)`);
  }
}

export function isVaultAccessPending(error: unknown): error is VaultAccessPending {
  return error instanceof Error && error.name === 'VaultAccessPending';
}

/** The versionless URI of a secret: what Container Apps references, so it follows new versions. */
export function secretUri(vaultUri: string, name: string): string {
  return `${vaultUri.replace(/\/+$/, '')}/secrets/${name}`;
}

/** Splits a secret URI (`https://<vault>/secrets/<name>[/<version>]`) into vault and name. */
export function parseSecretUri(uri: string): { vaultUri: string; name: string; version?: string } {
  const url = new URL(uri);
  const [collection, name, version] = url.pathname.split('/').filter(Boolean);
  if (collection !== 'secrets' || !name)
    throw new Error(`not a Key Vault secret URI: ${url.origin}${url.pathname}`);
  return { vaultUri: `${url.origin}/`, name, ...(version ? { version } : {}) };
}

/**
 * Reads a secret's current value; undefined when it does not exist. Translates 403 into
 * VaultAccessPending. The value stays in the caller's activity.
 */
export async function readSecret(
  client: SecretClient,
  name: string,
  version?: string,
): Promise<string | undefined> {
  try {
    return (await client.getSecret(name, version ? { version } : {})).value;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    if (isForbidden(error)) throw new VaultAccessPending(client.vaultUrl);
    throw error;
  }
}

/** Tags of the secret's current version; undefined when it does not exist. */
export async function secretTags(
  client: SecretClient,
  name: string,
): Promise<Record<string, string> | undefined> {
  try {
    return (await client.getSecret(name)).properties.tags ?? {};
  } catch (error) {
    if (isNotFound(error)) return undefined;
    if (isForbidden(error)) throw new VaultAccessPending(client.vaultUrl);
    throw error;
  }
}

/**
 * Writes a secret version. A secret of that name sitting soft-deleted is recovered first (Key Vault
 * refuses the write with 409 until then). Translates 403 into VaultAccessPending.
 */
export async function writeSecret(
  client: SecretClient,
  name: string,
  value: string,
  tags: Record<string, string> = {},
  pollIntervalMs = 2_000,
): Promise<void> {
  try {
    await client.setSecret(name, value, { tags, contentType: 'text/plain' });
  } catch (error) {
    if (isForbidden(error)) throw new VaultAccessPending(client.vaultUrl);
    if (statusOf(error) === 409 && /ObjectIsDeletedButRecoverable|Conflict/i.test(codeOf(error) ?? '')) {
      const poller = await client.beginRecoverDeletedSecret(name, { intervalInMs: pollIntervalMs });
      await poller.pollUntilDone();
      await client.setSecret(name, value, { tags, contentType: 'text/plain' });
      return;
    }
    throw error;
  }
}

/**
 * Creates the secret with `produce()` only when it does not exist: a secret the broker generated
 * (the gateway token) is never replaced by a re-run. Returns true when it wrote.
 */
export async function ensureSecret(
  client: SecretClient,
  name: string,
  produce: () => string,
  tags: Record<string, string> = {},
): Promise<boolean> {
  if ((await readSecret(client, name)) !== undefined) return false;
  await writeSecret(client, name, produce(), tags);
  return true;
}

/**
 * Deletes a secret and purges it, so no copy stays recoverable: for a vault without purge
 * protection (the staging vault). Safe to run twice and after a crash between the two: a missing
 * secret is not deleted again, and a soft-deleted one left behind is still purged. A refused purge
 * is not ignored: 403 (the purge right not yet propagated, or purge protection, which Key Vault also
 * answers with 403) is VaultAccessPending, so the step waits and finally fails naming the vault;
 * 409 (the delete still settling) is tried again a few times.
 */
export async function deleteAndPurgeSecret(
  client: SecretClient,
  name: string,
  pollIntervalMs = 2_000,
): Promise<void> {
  try {
    const poller = await client.beginDeleteSecret(name, { intervalInMs: pollIntervalMs });
    await poller.pollUntilDone();
  } catch (error) {
    if (isForbidden(error)) throw new VaultAccessPending(client.vaultUrl);
    if (!isNotFound(error)) throw error;
  }
  for (let attempt = 1; ; attempt++) {
    try {
      await client.purgeDeletedSecret(name);
      return;
    } catch (error) {
      if (isNotFound(error)) return;
      if (isForbidden(error)) throw new VaultAccessPending(client.vaultUrl);
      if (statusOf(error) !== 409 || attempt >= PURGE_CONFLICT_ATTEMPTS) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, pollIntervalMs));
  }
}

/** Purges answered 409 (the delete still settling) are tried again this many times in all. */
const PURGE_CONFLICT_ATTEMPTS = 5;
