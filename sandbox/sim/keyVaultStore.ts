import { randomBytes } from 'node:crypto';

/** One version of a secret. Times are simulated epoch milliseconds. */
export interface SecretVersion {
  version: string;
  value: string;
  contentType?: string;
  tags?: Record<string, string>;
  enabled: boolean;
  notBefore?: number;
  expires?: number;
  created: number;
  updated: number;
}

export interface SecretRecord {
  /** Name as first set (Key Vault names are case-insensitive). */
  name: string;
  versions: SecretVersion[];
  deleted?: { deletedDate: number; scheduledPurgeDate: number };
}

export interface VaultData {
  name: string;
  /** The vault's own base URL, with a trailing slash (what ARM reports as vaultUri). */
  vaultUri: string;
  softDeleteRetentionDays: number;
  secrets: Map<string, SecretRecord>;
}

/** KeyVaultStore as the state file holds it: vaults by key, each with its secrets by key. */
export type KeyVaultStoreData = Array<
  [string, Omit<VaultData, 'secrets'> & { secrets: [string, SecretRecord][] }]
>;

/**
 * Secret data of every vault, shared by the ARM provider (which creates, soft-deletes and purges
 * vaults), the Key Vault data plane and Container Apps (which resolves Key Vault references).
 */
export class KeyVaultStore {
  private readonly vaults = new Map<string, VaultData>();

  ensureVault(name: string, vaultUri: string, softDeleteRetentionDays: number): VaultData {
    const key = name.toLowerCase();
    const existing = this.vaults.get(key);
    if (existing) {
      existing.softDeleteRetentionDays = softDeleteRetentionDays;
      return existing;
    }
    const vault: VaultData = { name, vaultUri, softDeleteRetentionDays, secrets: new Map() };
    this.vaults.set(key, vault);
    return vault;
  }

  getVault(name: string): VaultData | undefined {
    return this.vaults.get(name.toLowerCase());
  }

  dropVault(name: string): void {
    this.vaults.delete(name.toLowerCase());
  }

  /** The current (newest) version of a live secret, whatever its attributes. */
  latest(vaultName: string, secretName: string): SecretVersion | undefined {
    const record = this.getVault(vaultName)?.secrets.get(secretName.toLowerCase());
    if (!record || record.deleted) return undefined;
    return record.versions.at(-1);
  }

  /** A new 32-hex-character version id, like Key Vault's. */
  static newVersionId(): string {
    return randomBytes(16).toString('hex');
  }

  /** Every vault with every secret version and value, for the state file. */
  exportState(): KeyVaultStoreData {
    return structuredClone(
      [...this.vaults].map(([key, vault]) => [key, { ...vault, secrets: [...vault.secrets] }]),
    );
  }

  /** Replaces all vaults with saved data. */
  importState(data: KeyVaultStoreData): void {
    this.vaults.clear();
    for (const [key, vault] of data) this.vaults.set(key, { ...vault, secrets: new Map(vault.secrets) });
  }

  /** Metadata only: values never leave through snapshots. */
  snapshot(): unknown {
    return [...this.vaults.values()].map((vault) => ({
      name: vault.name,
      vaultUri: vault.vaultUri,
      secrets: [...vault.secrets.values()].map((record) => ({
        name: record.name,
        deleted: record.deleted
          ? {
              deletedDate: new Date(record.deleted.deletedDate).toISOString(),
              scheduledPurgeDate: new Date(record.deleted.scheduledPurgeDate).toISOString(),
            }
          : undefined,
        versions: record.versions.map((version) => ({
          version: version.version,
          enabled: version.enabled,
          contentType: version.contentType,
          created: new Date(version.created).toISOString(),
          expires: version.expires === undefined ? undefined : new Date(version.expires).toISOString(),
        })),
      })),
    }));
  }
}
