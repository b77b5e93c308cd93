import type { SecretClient } from '@azure/keyvault-secrets';
import { parseSecretUri, readSecret } from '../azure/keyVaultSecrets.js';

/** Reads a secret value by its Key Vault secret URI; the value stays with the caller. */
export type SecretReader = (secretUri: string) => Promise<string>;

/** A reader over the broker's own identity: `secretsFor(vaultUri)` gives the vault's data-plane client. */
export function keyVaultSecretReader(secretsFor: (vaultUri: string) => SecretClient): SecretReader {
  return async (secretUri) => {
    const { vaultUri, name, version } = parseSecretUri(secretUri);
    const value = await readSecret(secretsFor(vaultUri), name, version);
    if (value === undefined) throw new Error(`secret ${name} is missing from ${new URL(vaultUri).host}`);
    return value;
  };
}

/**
 * Keeps secret values in memory for a short time, so the webhook does not read Key Vault on every
 * update, while a rotated secret is picked up within `ttlMs`. Concurrent readers share one read; a
 * failed read is not cached. Values never leave this process: not logged, not persisted.
 */
export class SecretCache {
  readonly #entries = new Map<string, { expiresAt: number; value: Promise<string> }>();

  constructor(
    private readonly read: SecretReader,
    private readonly ttlMs = 60_000,
    private readonly now: () => number = () => Date.now(),
  ) {}

  get(secretUri: string): Promise<string> {
    const cached = this.#entries.get(secretUri);
    if (cached && cached.expiresAt > this.now()) return cached.value;
    const value = this.read(secretUri);
    this.#entries.set(secretUri, { expiresAt: this.now() + this.ttlMs, value });
    value.catch(() => {
      if (this.#entries.get(secretUri)?.value === value) this.#entries.delete(secretUri);
    });
    return value;
  }
}
