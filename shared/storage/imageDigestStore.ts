import { hasStatus } from '../azure/azureErrors.js';
import type { BrokerStorage } from './brokerStorage.js';

export const IMAGE_DIGESTS_TABLE = 'imagedigests';

/** A version's image digest, frozen once resolved (the same shape as shared/upgrades' FrozenDigest). */
export interface FrozenImageDigest {
  readonly version: string;
  readonly image: string;
  readonly digest: string;
  readonly frozenAt: string;
}

interface DigestEntity {
  partitionKey: string;
  rowKey: string;
  image: string;
  digest: string;
  frozenAt: string;
}

/** Table keys may not hold `/`, `\`, `#` or `?`: the image name is kept as a column, keyed by its base64url. */
const partitionOf = (image: string) => Buffer.from(image, 'utf8').toString('base64url');

/**
 * Frozen image digests (table `imagedigests`, partition = the image, row = the version). A row is
 * written once with createEntity; a second writer gets 409 and reads what the first one froze, so
 * the first digest ever resolved for a version stands (first writer wins).
 */
export class TableImageDigestStore {
  constructor(private readonly storage: BrokerStorage) {}

  async get(image: string, version: string): Promise<FrozenImageDigest | undefined> {
    const table = await this.storage.table(IMAGE_DIGESTS_TABLE);
    try {
      const entity = await table.getEntity<DigestEntity>(partitionOf(image), version);
      return { version, image: entity.image, digest: entity.digest, frozenAt: entity.frozenAt };
    } catch (error) {
      if (hasStatus(error, 404)) return undefined;
      throw error;
    }
  }

  async freeze(record: FrozenImageDigest): Promise<FrozenImageDigest> {
    const table = await this.storage.table(IMAGE_DIGESTS_TABLE);
    const entity: DigestEntity = {
      partitionKey: partitionOf(record.image),
      rowKey: record.version,
      image: record.image,
      digest: record.digest,
      frozenAt: record.frozenAt,
    };
    try {
      await table.createEntity(entity);
      return record;
    } catch (error) {
      if (!hasStatus(error, 409)) throw error;
      const existing = await this.get(record.image, record.version);
      if (!existing) throw error;
      return existing;
    }
  }
}
