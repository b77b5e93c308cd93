import { getConfig, type BrokerConfig } from '../shared/config.js';
import { BrokerStorage } from '../shared/storage/brokerStorage.js';
import { RequestStore } from '../shared/storage/requestStore.js';
import { RejectedMessageStore } from '../shared/storage/rejectedMessageStore.js';
import { EnvironmentRegistry } from '../shared/storage/environmentRegistry.js';
import { AzureClients } from '../shared/azure/azureClients.js';
import { SweepControl } from '../shared/sweeps/sweepControl.js';

/** The app's long-lived services, built once per process from the validated configuration. */
export interface Services {
  config: BrokerConfig;
  storage: BrokerStorage;
  requests: RequestStore;
  rejected: RejectedMessageStore;
  registry: EnvironmentRegistry;
  /** The Azure SDK clients, built from configuration on first use. */
  azure: AzureClients;
}

let instance: Services | undefined;

export function services(): Services {
  if (!instance) {
    const config = getConfig();
    const storage = new BrokerStorage(config);
    let azure: AzureClients | undefined;
    instance = {
      config,
      storage,
      requests: new RequestStore(storage),
      rejected: new RejectedMessageStore(storage),
      registry: new EnvironmentRegistry(storage),
      get azure() {
        azure ??= new AzureClients(config);
        return azure;
      },
    };
  }
  return instance;
}

let control: SweepControl | undefined;

/** The sweeps' stored switch, read by the timer sweeps and set through the sweep endpoints. */
export function sweepControl(): SweepControl {
  return (control ??= new SweepControl(services().storage));
}
