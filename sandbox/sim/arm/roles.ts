/** Built-in role definitions the broker uses, with their real, fixed ids. */
export interface BuiltInRole {
  id: string;
  roleName: string;
  description: string;
  /** Control-plane rights in the simulator's coarse model. */
  control: { read: boolean; write: boolean; assignRoles: boolean };
  /** Key Vault secret data actions the role grants. */
  secrets: { read: boolean; write: boolean };
  /** Blob data rights: delegator can fetch a user-delegation key; data contributor reads and writes. */
  blob: { delegate: boolean; read: boolean; write: boolean };
  /**
   * Azure Files rights over REST with OAuth (readFileBackupSemantics / writeFileBackupSemantics):
   * only the privileged roles grant them, and only with `x-ms-file-request-intent: backup`.
   */
  files: { read: boolean; write: boolean };
}

const none = { read: false, write: false };
const noBlob = { delegate: false, read: false, write: false };

export const builtInRoles: readonly BuiltInRole[] = [
  {
    id: '8e3af657-a8ff-443c-a75c-2fe8c4bcb635',
    roleName: 'Owner',
    description:
      'Grants full access to manage all resources, including the ability to assign roles in Azure RBAC.',
    control: { read: true, write: true, assignRoles: true },
    secrets: none,
    blob: noBlob,
    files: none,
  },
  {
    id: 'b24988ac-6180-42a0-ab88-20f7382dd24c',
    roleName: 'Contributor',
    description:
      'Grants full access to manage all resources, but does not allow you to assign roles in Azure RBAC.',
    control: { read: true, write: true, assignRoles: false },
    secrets: none,
    blob: noBlob,
    files: none,
  },
  {
    id: 'acdd72a7-3385-48ef-bd42-f606fba81ae7',
    roleName: 'Reader',
    description: 'View all resources, but does not allow you to make any changes.',
    control: { read: true, write: false, assignRoles: false },
    secrets: none,
    blob: noBlob,
    files: none,
  },
  {
    id: '18d7d88d-d35e-4fb5-a5c3-7773c20a72d9',
    roleName: 'User Access Administrator',
    description: 'Lets you manage user access to Azure resources.',
    control: { read: true, write: false, assignRoles: true },
    secrets: none,
    blob: noBlob,
    files: none,
  },
  {
    // Actions: Microsoft.Authorization/roleAssignments/write and /delete, */read, Microsoft.Support/*.
    id: 'f58310d9-a9f6-439a-9e8d-f62e7b41a168',
    roleName: 'Role Based Access Control Administrator',
    description:
      'Manage access to Azure resources by assigning roles using Azure RBAC. This role does not allow you to manage access using other ways, such as Azure Policy.',
    control: { read: true, write: false, assignRoles: true },
    secrets: none,
    blob: noBlob,
    files: none,
  },
  {
    id: '7f951dda-4ed3-4680-a7ca-43fe172d538d',
    roleName: 'AcrPull',
    description: 'acr pull',
    control: { read: false, write: false, assignRoles: false },
    secrets: none,
    blob: noBlob,
    files: none,
  },
  {
    id: '4633458b-17de-408a-b874-0445c86b69e6',
    roleName: 'Key Vault Secrets User',
    description:
      'Read secret contents. Only works for key vaults that use the Azure role-based access control permission model.',
    control: { read: false, write: false, assignRoles: false },
    secrets: { read: true, write: false },
    blob: noBlob,
    files: none,
  },
  {
    id: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7',
    roleName: 'Key Vault Secrets Officer',
    description: 'Perform any action on the secrets of a key vault, except manage permissions.',
    control: { read: false, write: false, assignRoles: false },
    secrets: { read: true, write: true },
    blob: noBlob,
    files: none,
  },
  {
    id: '00482a5a-887f-4fb3-b363-3b7fe8e74483',
    roleName: 'Key Vault Administrator',
    description: 'Perform all data plane operations on a key vault and all objects in it.',
    control: { read: false, write: false, assignRoles: false },
    secrets: { read: true, write: true },
    blob: noBlob,
    files: none,
  },
  {
    id: 'db58b8e5-c6ad-4a2a-8342-4190687cbf4a',
    roleName: 'Storage Blob Delegator',
    description: 'Allows for generation of a user delegation key which can be used to sign SAS tokens',
    control: { read: false, write: false, assignRoles: false },
    secrets: none,
    blob: { delegate: true, read: false, write: false },
    files: none,
  },
  {
    id: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe',
    roleName: 'Storage Blob Data Contributor',
    description: 'Allows for read, write and delete access to Azure Storage blob containers and data',
    control: { read: false, write: false, assignRoles: false },
    secrets: none,
    blob: { delegate: true, read: true, write: true },
    files: none,
  },
  {
    id: 'b8eda974-7b85-4f76-af95-65846b26df6d',
    roleName: 'Storage File Data Privileged Reader',
    description:
      'Allows for read access on files/directories in Azure file shares by overriding existing ACLs/NTFS permissions. This role has no built-in equivalent on Windows file servers.',
    control: { read: false, write: false, assignRoles: false },
    secrets: none,
    blob: noBlob,
    files: { read: true, write: false },
  },
  {
    id: '69566ab7-960f-475b-8e7c-b3118f30c6bd',
    roleName: 'Storage File Data Privileged Contributor',
    description:
      'Allows for read, write, delete, and modify ACLs on files/directories in Azure file shares by overriding existing ACLs/NTFS permissions. This role has no built-in equivalent on Windows file servers.',
    control: { read: false, write: false, assignRoles: false },
    secrets: none,
    blob: noBlob,
    files: { read: true, write: true },
  },
];

export function findBuiltInRole(roleDefinitionIdOrGuid: string): BuiltInRole | undefined {
  const guid = roleDefinitionIdOrGuid.split('/').pop()?.toLowerCase();
  return builtInRoles.find((role) => role.id === guid);
}

export function roleDefinitionId(subscriptionId: string, roleGuid: string): string {
  return `/subscriptions/${subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${roleGuid}`;
}

/** The role definition resource as ARM returns it. */
export function roleDefinitionResource(role: BuiltInRole, scope: string): Record<string, unknown> {
  const subscription = /^\/subscriptions\/[^/]+/i.exec(scope)?.[0] ?? '';
  return {
    id: `${subscription}/providers/Microsoft.Authorization/roleDefinitions/${role.id}`,
    name: role.id,
    type: 'Microsoft.Authorization/roleDefinitions',
    properties: {
      roleName: role.roleName,
      type: 'BuiltInRole',
      description: role.description,
      assignableScopes: ['/'],
      permissions: [{ actions: [], notActions: [], dataActions: [], notDataActions: [] }],
      createdOn: '2015-02-02T21:55:09.8806423Z',
      updatedOn: '2021-11-11T20:13:00.0000000Z',
    },
  };
}
