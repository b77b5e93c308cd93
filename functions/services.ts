import { getConfig, type BrokerConfig } from '../shared/config.js';
import { BrokerStorage } from '../shared/storage/brokerStorage.js';
import { RequestStore } from '../shared/storage/requestStore.js';
import { RejectedMessageStore } from '../shared/storage/rejectedMessageStore.js';
import { EnvironmentRegistry } from '../shared/storage/environmentRegistry.js';

/** The app's long-lived services, built once per process from the validated configuration. */
export interface Services {
  config: BrokerConfig;
  storage: BrokerStorage;
  requests: RequestStore;
  rejected: RejectedMessageStore;
  registry: EnvironmentRegistry;
}

let instance: Services | undefined;

export function services(): Services {
  if (!instance) {
    const config = getConfig();
    const storage = new BrokerStorage(config);
    instance = {
      config,
      storage,
      requests: new RequestStore(storage),
      rejected: new RejectedMessageStore(storage),
      registry: new EnvironmentRegistry(storage),
    };
  }
  return instance;
}
