import { containerAppsProvider } from './containerApps.js';
import { keyVaultProvider } from './keyVault.js';
import { managedIdentityProvider } from './managedIdentity.js';
import { applicationInsightsProvider, operationalInsightsProvider } from './monitoring.js';
import type { ProviderModule } from './resourceType.js';
import { storageProvider } from './storage.js';

/** The resource providers of the broker's footprint. */
export const defaultProviders: ProviderModule[] = [
  managedIdentityProvider,
  keyVaultProvider,
  storageProvider,
  operationalInsightsProvider,
  applicationInsightsProvider,
  containerAppsProvider,
];
