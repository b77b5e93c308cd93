import { loadConfig, type BrokerConfig } from '../../shared/config.js';
import { BrokerStorage } from '../../shared/storage/brokerStorage.js';
import { testSettings } from './settings.js';

/** A BrokerStorage on the given Azurite connection, with otherwise valid test settings. */
export function storageOn(connectionString: string): { config: BrokerConfig; storage: BrokerStorage } {
  const config = loadConfig(testSettings({ AzureWebJobsStorage: connectionString }));
  return { config, storage: new BrokerStorage(config) };
}
