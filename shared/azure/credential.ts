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

const principalIds = new WeakMap<TokenCredential, Promise<string>>();

/**
 * The broker's own object id in Entra, read from the `oid` claim of an ARM access token it already
 * gets (no extra permission, no setting to keep in sync). Used to grant the broker a data-plane role
 * (Key Vault Secrets Officer) on each slug's vault.
 */
export function brokerPrincipalId(
  config: BrokerConfig,
  credential = brokerCredential(config),
): Promise<string> {
  let pending = principalIds.get(credential);
  if (!pending) {
    pending = (async () => {
      const endpoint = config.azure.resourceManagerEndpoint.replace(/\/+$/, '');
      const token = await credential.getToken(`${endpoint}/.default`);
      const payload = token?.token.split('.')[1];
      const oid = payload
        ? (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { oid?: unknown }).oid
        : undefined;
      if (typeof oid !== 'string') throw new Error("the broker's access token carries no oid claim");
      return oid;
    })();
    pending.catch(() => principalIds.delete(credential));
    principalIds.set(credential, pending);
  }
  return pending;
}
