import {
  ClientSecretCredential,
  DefaultAzureCredential,
  ManagedIdentityCredential,
  type TokenCredential,
} from '@azure/identity';
import type { BrokerConfig } from '../config.js';

const credentials = new WeakMap<BrokerConfig, TokenCredential>();

/**
 * The broker's own identity. In Azure: the Function App's managed identity (or DefaultAzureCredential
 * for developers). A service principal with a client secret is supported for hosts without managed
 * identity; its authority host comes from configuration like every other endpoint.
 */
export function brokerCredential(config: BrokerConfig): TokenCredential {
  let credential = credentials.get(config);
  if (!credential) {
    credential = createCredential(config);
    credentials.set(config, credential);
  }
  return credential;
}

function createCredential(config: BrokerConfig): TokenCredential {
  const { credential, tenantId, authorityHost } = config.azure;
  switch (credential.kind) {
    case 'client-secret':
      return new ClientSecretCredential(tenantId, credential.clientId, credential.clientSecret, {
        authorityHost,
        disableInstanceDiscovery: authorityHost !== 'https://login.microsoftonline.com',
      });
    case 'managed-identity':
      return credential.clientId
        ? new ManagedIdentityCredential({ clientId: credential.clientId })
        : new ManagedIdentityCredential();
    case 'default':
      return new DefaultAzureCredential(
        credential.clientId ? { managedIdentityClientId: credential.clientId, tenantId } : { tenantId },
      );
  }
}
