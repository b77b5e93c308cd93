import type { ContainerApp, Secret } from '@azure/arm-appcontainers';
import type { AzureClients } from '../azure/azureClients.js';
import { secretUri } from '../azure/keyVaultSecrets.js';

/**
 * Makes a container app take the current values of its Key Vault references now, instead of within
 * Container Apps' own refresh (about 30 minutes): the references are set again (a PATCH listing
 * every secret; inline ones by name keep their values), which makes the platform fetch them, and
 * the active revision is restarted, since containers read secret env vars and mounts at start. A
 * restart alone would not fetch anything. Values never pass through here: only names and URIs.
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
  const secrets: Secret[] = declared.map((secret) =>
    secret.keyVaultUrl
      ? { name: secret.name, keyVaultUrl: secret.keyVaultUrl, identity: secret.identity }
      : { name: secret.name },
  );
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
  const updated = await apps.beginUpdateAndWait(input.resourceGroup, input.appName, patch, azure.poll);
  const revision =
    updated.latestReadyRevisionName || updated.latestRevisionName || app.latestRevisionName || '';
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
 * The value the app holds for one of its secrets, compared with `expected` inside this process:
 * only whether they match leaves. listSecrets is an ARM POST (it counts as a write).
 */
export async function appHoldsSecretValue(
  azure: AzureClients,
  input: { resourceGroup: string; appName: string; appSecretName: string; expected: string },
): Promise<boolean> {
  const listed = await azure.containerApps.containerApps.listSecrets(input.resourceGroup, input.appName);
  return listed.value.some(
    (secret) => secret.name === input.appSecretName && secret.value === input.expected,
  );
}
