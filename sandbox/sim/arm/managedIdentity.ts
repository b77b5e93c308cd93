import { userAssignedIdentitySchema } from './specSchemas.js';
import { randomUUID } from 'node:crypto';
import type { ProviderModule } from './resourceType.js';

export const managedIdentityApiVersions = [
  '2024-11-30',
  '2023-07-31-preview',
  '2023-01-31',
  '2022-01-31-preview',
  '2018-11-30',
];

/**
 * Microsoft.ManagedIdentity: user-assigned identities are synchronous (200/201). Each one is a
 * service principal in the simulated directory, created at PUT time so role assignments can
 * observe its age (PrincipalNotFound while it has not propagated).
 */
export const managedIdentityProvider: ProviderModule = {
  namespace: 'Microsoft.ManagedIdentity',
  types: [
    {
      type: 'Microsoft.ManagedIdentity/userAssignedIdentities',
      schema: userAssignedIdentitySchema,
      apiVersions: managedIdentityApiVersions,
      tracked: true,
      putMode: 'sync',
      deleteMode: 'sync',
      build({ ctx, existing, name, id }) {
        const previous = existing?.body['properties'] as Record<string, unknown> | undefined;
        const principalId =
          typeof previous?.['principalId'] === 'string' ? previous['principalId'] : randomUUID();
        const clientId = typeof previous?.['clientId'] === 'string' ? previous['clientId'] : randomUUID();
        if (!ctx.state.identity.get(principalId)) {
          ctx.state.identity.register({
            objectId: principalId,
            appId: clientId,
            displayName: name,
            managedIdentityId: id,
          });
        }
        return {
          properties: { tenantId: ctx.state.options.tenantId, principalId, clientId, isolationScope: 'None' },
        };
      },
      onDeleted(resource, ctx) {
        const principalId = (resource.body['properties'] as Record<string, unknown>)['principalId'];
        if (typeof principalId === 'string') ctx.state.identity.remove(principalId);
      },
    },
  ],
};
