import type { SecretClient } from '@azure/keyvault-secrets';
import { codeOf, isForbidden, isNotFound, statusOf } from '../azure/azureErrors.js';
import { VaultAccessPending } from '../azure/keyVaultSecrets.js';

/**
 * Version-level Key Vault operations for maintenance, next to the value-level ones in
 * shared/azure/keyVaultSecrets.ts: maintenance guards each step with the version it expects, so it
 * needs versions, their tags and times. Values stay inside the calling activity.
 */

/** A version id shortened for messages (its first 8 characters), or 'none'. */
export const shortVersion = (version: string | undefined) => (version ? version.slice(0, 8) : 'none');

/** The latest version of a secret: its id, tags and creation time (and the value, for the caller only). */
export interface SecretVersion {
  version: string;
  tags: Record<string, string>;
  createdOn: string | undefined;
  expiresOn: string | undefined;
  enabled: boolean;
  value: string;
}

/** The secret's latest version, or undefined when the secret does not exist. */
export async function latestVersion(client: SecretClient, name: string): Promise<SecretVersion | undefined> {
  return readVersion(client, name);
}

/** One version of a secret by id, or undefined when it does not exist or is disabled (unreadable). */
export async function readVersion(
  client: SecretClient,
  name: string,
  version?: string,
): Promise<SecretVersion | undefined> {
  try {
    const secret = await client.getSecret(name, version ? { version } : {});
    return {
      version: secret.properties.version ?? '',
      tags: secret.properties.tags ?? {},
      createdOn: secret.properties.createdOn?.toISOString(),
      expiresOn: secret.properties.expiresOn?.toISOString(),
      enabled: secret.properties.enabled !== false,
      value: secret.value ?? '',
    };
  } catch (error) {
    if (isNotFound(error) || isDisabledSecret(error)) return undefined;
    if (isForbidden(error)) throw new VaultAccessPending(client.vaultUrl);
    throw error;
  }
}

/** Key Vault's 403 for reading a disabled version (innererror SecretDisabled), not a missing grant. */
function isDisabledSecret(error: unknown): boolean {
  if (!isForbidden(error)) return false;
  const details = (error as { details?: { error?: { innererror?: { code?: unknown } } } }).details;
  const message = error instanceof Error ? error.message : '';
  return details?.error?.innererror?.code === 'SecretDisabled' || /disabled secret/i.test(message);
}

/**
 * Writes a new version and returns its id. `expiresOn` becomes the version's expiry attribute (the
 * SAS's own expiry). A name sitting soft-deleted is recovered first, as writeSecret does.
 */
export async function writeVersion(
  client: SecretClient,
  name: string,
  value: string,
  options: { tags: Record<string, string>; expiresOn?: Date; pollIntervalMs: number },
): Promise<string> {
  const write = async () =>
    (
      await client.setSecret(name, value, {
        tags: options.tags,
        contentType: 'text/plain',
        ...(options.expiresOn ? { expiresOn: options.expiresOn } : {}),
      })
    ).properties.version ?? '';
  try {
    return await write();
  } catch (error) {
    if (isForbidden(error)) throw new VaultAccessPending(client.vaultUrl);
    if (statusOf(error) === 409 && /ObjectIsDeletedButRecoverable|Conflict/i.test(codeOf(error) ?? '')) {
      const poller = await client.beginRecoverDeletedSecret(name, { intervalInMs: options.pollIntervalMs });
      await poller.pollUntilDone();
      return write();
    }
    throw error;
  }
}

/**
 * Disables every enabled version older than `keepVersion` (by creation time). Returns how many it
 * disabled. Safe to run twice: a disabled version is left as it is. Never touches `keepVersion`
 * or anything newer.
 */
export async function disableOlderVersions(
  client: SecretClient,
  name: string,
  keepVersion: string,
): Promise<number> {
  const versions: { version: string; createdOn: number; enabled: boolean }[] = [];
  try {
    for await (const properties of client.listPropertiesOfSecretVersions(name)) {
      versions.push({
        version: properties.version ?? '',
        createdOn: properties.createdOn?.getTime() ?? 0,
        enabled: properties.enabled !== false,
      });
    }
  } catch (error) {
    if (isForbidden(error)) throw new VaultAccessPending(client.vaultUrl);
    throw error;
  }
  const kept = versions.find((candidate) => candidate.version === keepVersion);
  if (!kept) return 0;
  let disabled = 0;
  for (const candidate of versions) {
    if (!candidate.enabled || candidate.version === keepVersion || candidate.createdOn > kept.createdOn)
      continue;
    await client.updateSecretProperties(name, candidate.version, { enabled: false });
    disabled++;
  }
  return disabled;
}
