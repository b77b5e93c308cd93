import type { TableClient } from '@azure/data-tables';
import { type BrokerStorage } from '../storage/brokerStorage.js';
import { hasStatus } from '../azure/azureErrors.js';

/** The global pause as stored by `POST /api/sweeps/pause|resume`. */
export interface SweepPause {
  paused: boolean;
  by: string;
  at: string;
  reason?: string | undefined;
}

interface PauseEntity {
  partitionKey: string;
  rowKey: string;
  paused: boolean;
  by: string;
  at: string;
  reason?: string;
}

export const SWEEP_CONTROL_TABLE = 'sweepcontrol';
const PARTITION = 'sweeps';
const ROW = 'pause';

/**
 * The sweeps' global pause switch, persisted in the broker's Table storage so it holds across
 * restarts and instances (SWEEPS_PAUSED in configuration pauses them too). Last writer wins: the
 * switch has one meaning at a time.
 */
export class SweepControl {
  constructor(private readonly storage: BrokerStorage) {}

  async get(): Promise<SweepPause | undefined> {
    const table = await this.table();
    try {
      const entity = await table.getEntity<PauseEntity>(PARTITION, ROW);
      return { paused: entity.paused, by: entity.by, at: entity.at, reason: entity.reason };
    } catch (error) {
      if (hasStatus(error, 404)) return undefined;
      throw error;
    }
  }

  async set(pause: SweepPause): Promise<void> {
    const table = await this.table();
    const entity: PauseEntity = {
      partitionKey: PARTITION,
      rowKey: ROW,
      paused: pause.paused,
      by: pause.by,
      at: pause.at,
      ...(pause.reason ? { reason: pause.reason } : {}),
    };
    await table.upsertEntity(entity, 'Replace');
  }

  private table(): Promise<TableClient> {
    return this.storage.table(SWEEP_CONTROL_TABLE);
  }
}
