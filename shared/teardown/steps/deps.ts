import type { AzureClients } from '../../azure/azureClients.js';
import type { EntraClient } from '../../azure/entra.js';
import type { BrokerConfig } from '../../config.js';
import type { BrokerStorage } from '../../storage/brokerStorage.js';
import type { EnvironmentRegistry } from '../../storage/environmentRegistry.js';

export interface TeardownStepsDeps {
  config: Pick<BrokerConfig, 'nameSalt' | 'azure' | 'teardown' | 'image' | 'provisioning'>;
  azure: AzureClients;
  entra: EntraClient;
  registry: EnvironmentRegistry;
  storage: BrokerStorage;
  /** The broker's own object id in Entra: it removes only the Entra objects it owns. */
  brokerPrincipalId(): Promise<string>;
}
