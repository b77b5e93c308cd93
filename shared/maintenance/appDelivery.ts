import type { ContainerApp, Secret } from '@azure/arm-appcontainers';
import type { AzureClients } from '../azure/azureClients.js';
import { secretUri } from '../azure/keyVaultSecrets.js';
import { activeRevisionOf, listRevisions } from '../azure/revisions.js';

/**
 * Makes a container app take the current values of its Key Vault references now, instead of within
 * Container Apps' own refresh (about 30 minutes): the references are set again (a PATCH listing
 * every secret), which makes the platform fetch them, and the active revision is restarted, since
 * containers read secret env vars and mounts at start. A restart alone would not fetch anything.
 *
 * ARM replaces `configuration.secrets` whole and refuses a secret that carries neither a `value`
 * nor a `keyVaultUrl` + `identity` (400 ContainerAppSecretInvalid), while GET returns no values. So
 * the inline secrets (the rendered config files, which hold no secret) are re-read with listSecrets
 * first, as the Azure CLI does before it updates an app in place (azure-cli containerapp
 * `_get_existing_secrets`). Key Vault secret values never pass through here: only names and URIs.
 */
export async function reapplySecretReferences(
  azure: AzureClients,
  input: {
    resourceGroup: string;
    appName: string;
    vaultUri: string;
    restart: boolean;
    /** A reference to add when the app lacks it (by app secret name). */
    ensureReference?: { appSecretName: string; vaultSecretName: string } | undefined;
  },
): Promise<{ revision: string; restarted: boolean; added: boolean }> {
  const apps = azure.containerApps.containerApps;
  const app = await apps.get(input.resourceGroup, input.appName);
  const declared = app.configuration?.secrets ?? [];
  const identity = declared.find((secret) => secret.keyVaultUrl && secret.identity)?.identity;
  const inline = await inlineSecretValues(azure, input, declared);
  const secrets: Secret[] = declared.map((secret) => {
    if (secret.keyVaultUrl) {
      if (!secret.identity)
        throw new Error(
          `container app ${input.appName} references Key Vault secret ${secret.name ?? ''} without an identity`,
        );
      return { name: secret.name, keyVaultUrl: secret.keyVaultUrl, identity: secret.identity };
    }
    return { name: secret.name, value: inline.get(secret.name ?? '') };
  });
  let added = false;
  const wanted = input.ensureReference;
  if (wanted && !secrets.some((secret) => secret.name === wanted.appSecretName)) {
    if (!identity)
      throw new Error(`container app ${input.appName} has no Key Vault identity to reference with`);
    secrets.push({
      name: wanted.appSecretName,
      keyVaultUrl: secretUri(input.vaultUri, wanted.vaultSecretName),
      identity,
    });
    added = true;
  }
  const patch: ContainerApp = { location: app.location, configuration: { secrets } };
  await apps.beginUpdateAndWait(input.resourceGroup, input.appName, patch, azure.poll);
  // The active revision, not the latest: after a rolled-back upgrade the latest revision is the
  // failed one, inactive, and the previous one serves (restarting an inactive revision is refused).
  const revision =
    activeRevisionOf(await listRevisions(azure, input.resourceGroup, input.appName))?.name ?? '';
  if (input.restart && revision) {
    await azure.containerApps.containerAppsRevisions.restartRevision(
      input.resourceGroup,
      input.appName,
      revision,
    );
  }
  return { revision, restarted: input.restart && revision !== '', added };
}

/**
 * The values of the app's inline secrets (those without a Key Vault reference), from listSecrets.
 * Throws, naming the secret, when one comes back without a value: sending it by name alone would be
 * refused, and sending anything else would overwrite it.
 */
async function inlineSecretValues(
  azure: AzureClients,
  input: { resourceGroup: string; appName: string },
  declared: Secret[],
): Promise<Map<string, string>> {
  const wanted = declared.filter((secret) => !secret.keyVaultUrl).map((secret) => secret.name ?? '');
  const values = new Map<string, string>();
  if (wanted.length === 0) return values;
  const listed = await azure.containerApps.containerApps.listSecrets(input.resourceGroup, input.appName);
  for (const secret of listed.value) {
    if (typeof secret.value === 'string' && secret.name !== undefined) values.set(secret.name, secret.value);
  }
  const missing = wanted.filter((name) => !values.has(name));
  if (missing.length > 0)
    throw new Error(
      `container app ${input.appName}: listSecrets returned no value for inline secret(s) ${missing.join(', ')}`,
    );
  return values;
}

/**
 * Whether the app holds `expected` for one of its secrets, compared inside this process: only the
 * outcome leaves. listSecrets is an ARM POST (it counts as a write). For a Key Vault reference,
 * whether listSecrets returns the fetched value is not documented (the 2025-07-01 example,
 * ContainerApps_ListSecrets.json, shows names only), so `not-returned` is an answer the caller must
 * handle without it: the delivery step's PATCH, made after the version was written, succeeded only
 * because the platform fetched the references then.
 */
export async function appSecretValue(
  azure: AzureClients,
  input: { resourceGroup: string; appName: string; appSecretName: string; expected: string },
): Promise<'matches' | 'differs' | 'not-returned'> {
  const listed = await azure.containerApps.containerApps.listSecrets(input.resourceGroup, input.appName);
  const secret = listed.value.find((candidate) => candidate.name === input.appSecretName);
  if (typeof secret?.value !== 'string') return secret ? 'not-returned' : 'differs';
  return secret.value === input.expected ? 'matches' : 'differs';
}
