import type { AzureClients } from '../azure/azureClients.js';
import type { EntraClient } from '../azure/entra.js';
import type { GatewayReadiness } from '../azure/gatewayProbe.js';
import type { BrokerConfig } from '../config.js';
import { footprintNames } from '../domain/footprint.js';
import type { EnvironmentRecord, EnvironmentRegistry } from '../storage/environmentRegistry.js';
import type { AdminChat } from './adminChat.js';
import type { MaintenanceTarget } from './contracts.js';

/** What the maintenance steps need from the outside world; tests pass their own. */
export interface MaintenanceDependencies {
  config: BrokerConfig;
  azure: AzureClients;
  entra: EntraClient;
  registry: EnvironmentRegistry;
  chat: AdminChat;
  probe(url: string): Promise<GatewayReadiness>;
  /** For the gateway's admin RPC; the global fetch by default. */
  fetch?: typeof fetch;
}

/**
 * Locates a slug's footprint for maintenance: names from the registry's incarnation, the vault's
 * URI from ARM (one read), the gateway's host from the registry.
 */
export async function maintenanceTarget(
  azure: AzureClients,
  config: BrokerConfig,
  record: EnvironmentRecord,
  requestId: string,
): Promise<MaintenanceTarget> {
  const names = footprintNames(record.slug, { salt: config.nameSalt, incarnation: record.incarnation });
  const vault = await azure.keyVaults.vaults.get(names.resourceGroup, names.keyVault);
  const vaultUri = vault.properties.vaultUri;
  if (!vaultUri) throw new Error(`Key Vault ${names.keyVault} has no URI`);
  return {
    slug: record.slug,
    requestId,
    incarnation: record.incarnation,
    resourceGroup: names.resourceGroup,
    keyVault: names.keyVault,
    vaultUri,
    storageAccount: names.storageAccount,
    stateFileShare: names.stateFileShare,
    logContainer: names.logContainer,
    managedEnvironment: names.managedEnvironment,
    environmentStorage: names.environmentStorage,
    containerApp: names.containerApp,
    entraApplication: names.entraApplication,
    fqdn: record.url ? new URL(record.url).host : '',
    openclawVersion: record.openclawVersion ?? '',
  };
}

/**
 * Why maintenance cannot run on this environment now, or undefined when it can: only a ready
 * environment with a gateway is maintained (a provisioning, failed or deleted one is left alone).
 */
export function notMaintainable(record: EnvironmentRecord | undefined, slug: string): string | undefined {
  if (!record) return `no environment ${slug} in the registry`;
  if (record.state !== 'ready') return `environment ${slug} is ${record.state}; maintenance needs it ready`;
  if (!record.url || !record.openclawVersion) return `environment ${slug} has no gateway recorded yet`;
  return undefined;
}
