import { randomBytes, randomUUID } from 'node:crypto';
import { ContainerAppsAPIClient } from '@azure/arm-appcontainers';
import { KeyVaultManagementClient } from '@azure/arm-keyvault';
import { ManagedServiceIdentityClient } from '@azure/arm-msi';
import { ResourceManagementClient } from '@azure/arm-resources';
import { StorageManagementClient } from '@azure/arm-storage';
import { ClientSecretCredential } from '@azure/identity';
import { SecretClient } from '@azure/keyvault-secrets';
import type { Simulator } from '../../sandbox/sim/simulator.js';
import { footprintNames } from '../../shared/domain/footprint.js';
import { buildContainerAppSpec } from '../../shared/openclaw/containerAppSpec.js';
import { renderNginxConfig } from '../../shared/openclaw/nginxConfig.js';
import { renderOpenClawConfig } from '../../shared/openclaw/renderConfig.js';
import { openClawVersionSupport } from '../../shared/openclaw/versions.js';
import { secretUri } from '../../shared/azure/keyVaultSecrets.js';
import type { EnvironmentRegistry } from '../../shared/storage/environmentRegistry.js';
import { forEachBounded } from '../../shared/sweeps/sweepRunner.js';

export interface FleetOptions {
  sim: Simulator;
  registry: EnvironmentRegistry;
  salt: string;
  slugs: string[];
  openclawVersion: string;
  /** How old each gateway token is when seeded (so a rotation sweep finds it due). */
  gatewayTokenAgeMs: number;
  /** When set, each record's SAS expires this long from now (so a SAS sweep finds it not due). */
  sasExpiresInMs?: number;
  /** Seeding principals: ARM throttles per principal, so seeding spreads over many, never the broker. */
  seeders?: number;
  concurrency?: number;
  /**
   * Also what an upgrade reads and writes (shared/upgrades/upgradeSteps.ts): the storage account with
   * its `openclaw-state` share (stopped, snapshotted, mounted), the environment storage the app's
   * AzureFile volume names, and the registry's gateway settings (no channels) its config is
   * rendered from, as provisioning's bookkeeping records them.
   */
  upgradeable?: boolean;
}

/**
 * Seeds a fleet of ready slugs straight into the simulator and the registry, far faster than
 * provisioning each: what a gateway-token rotation touches (resource group, gateway identity, Key
 * Vault with the token and the identity's read grant, managed environment, the container app
 * built by the broker's own spec builder with the token as a Key Vault reference) and a ready
 * registry record. ARM writes go through the simulator's HTTP API under its real throttle, spread
 * over many seeding principals (each has its own buckets) so the broker's buckets stay full.
 */
export async function seedFleet(options: FleetOptions): Promise<void> {
  const { sim } = options;
  const endpoint = sim.url;
  const arm = { endpoint, credentialScopes: [`${endpoint}/.default`] };
  const seeders = Array.from({ length: options.seeders ?? 32 }, (_, index) => {
    const appId = randomUUID();
    const clientSecret = randomBytes(24).toString('base64url');
    const principal = sim.identity.register({
      appId,
      clientSecret,
      displayName: `fleet-seeder-${index}`,
      createdAt: sim.clock.now() - 3_600_000,
    });
    sim.grantRole(principal.objectId, 'Owner', `/subscriptions/${sim.subscriptionId}`, {
      createdAt: sim.clock.now() - 3_600_000,
    });
    const credential = new ClientSecretCredential(sim.tenantId, appId, clientSecret, {
      authorityHost: endpoint,
      disableInstanceDiscovery: true,
    });
    return {
      credential,
      groups: new ResourceManagementClient(credential, sim.subscriptionId, arm),
      identities: new ManagedServiceIdentityClient(credential, sim.subscriptionId, arm),
      vaults: new KeyVaultManagementClient(credential, sim.subscriptionId, arm),
      apps: new ContainerAppsAPIClient(credential, sim.subscriptionId, arm),
      storage: new StorageManagementClient(credential, sim.subscriptionId, arm),
    };
  });
  const poll = { updateIntervalInMs: 20 };
  // Key Vault's data plane is not ARM: the broker writes the token, as provisioning would.
  const broker = new ClientSecretCredential(sim.tenantId, sim.broker.clientId, sim.broker.clientSecret, {
    authorityHost: endpoint,
    disableInstanceDiscovery: true,
  });
  const pastGrant = { createdAt: sim.clock.now() - 3_600_000 };
  const setAt = new Date(Date.now() - options.gatewayTokenAgeMs).toISOString();
  const fresh = new Date().toISOString();

  await forEachBounded(
    options.slugs.map((slug, index) => ({ slug, seeder: seeders[index % seeders.length]! })),
    options.concurrency ?? 48,
    async ({ slug, seeder }) => {
      const names = footprintNames(slug, { salt: options.salt, incarnation: 1 });
      const location = 'westeurope';
      const tags = { 'managed-by': 'claw-broker', 'claw-broker-slug': slug };
      await seeder.groups.resourceGroups.createOrUpdate(names.resourceGroup, { location, tags });
      const identity = await seeder.identities.userAssignedIdentities.createOrUpdate(
        names.resourceGroup,
        names.managedIdentity,
        { location, tags },
      );
      const vault = await seeder.vaults.vaults.beginCreateOrUpdateAndWait(
        names.resourceGroup,
        names.keyVault,
        {
          location,
          tags,
          properties: {
            tenantId: sim.tenantId,
            sku: { family: 'A', name: 'standard' },
            enableRbacAuthorization: true,
            enableSoftDelete: true,
          },
        },
        poll,
      );
      sim.grantRole(identity.principalId!, 'Key Vault Secrets User', vault.id!, pastGrant);
      sim.grantRole(sim.broker.objectId, 'Key Vault Secrets Officer', vault.id!, pastGrant);
      const vaultUri = vault.properties.vaultUri!;
      await new SecretClient(vaultUri, broker, {
        disableChallengeResourceVerification: true,
      }).setSecret('gateway-token', randomBytes(32).toString('hex'));
      const environment = await seeder.apps.managedEnvironments.beginCreateOrUpdateAndWait(
        names.resourceGroup,
        names.managedEnvironment,
        { location, tags },
        poll,
      );
      if (options.upgradeable) await seedStateShare(seeder, names, environment.name!, location, tags, poll);
      const fqdn = `${names.containerApp}.${environment.defaultDomain!}`;
      const spec = buildContainerAppSpec({
        names,
        location,
        managedEnvironmentId: environment.id!,
        identity: { id: identity.id!, clientId: identity.clientId! },
        registryLoginServer: 'clawbenchacr.azurecr.io',
        image: { repository: 'ghcr.io/openclaw/openclaw', version: options.openclawVersion },
        keyVaultSecrets: { gatewayToken: secretUri(vaultUri, 'gateway-token') },
        openclawConfig: renderOpenClawConfig({
          version: options.openclawVersion,
          appFqdn: fqdn,
          channels: [],
          // As provisioning renders it: the rotation's gateway check uses the admin RPC plugin.
          adminRpc: openClawVersionSupport(options.openclawVersion).adminRpcPlugin,
        }),
        nginxConfig: renderNginxConfig({ version: options.openclawVersion, channels: [] }),
      });
      await seeder.apps.containerApps.beginCreateOrUpdateAndWait(
        names.resourceGroup,
        names.containerApp,
        spec,
        poll,
      );
      await options.registry.update(slug, () => ({
        slug,
        state: 'ready',
        incarnation: 1,
        openclawVersion: options.openclawVersion,
        url: `https://${fqdn}`,
        owners: [],
        ...(options.upgradeable ? { gateway: { channels: [] } } : {}),
        secretAges: { 'gateway-token': setAt, 'storage-key': fresh, 'entra-client-secret': fresh },
        ...(options.sasExpiresInMs !== undefined
          ? { sasExpiresAt: new Date(Date.now() + options.sasExpiresInMs).toISOString() }
          : {}),
      }));
    },
  );
}

/** The slug's state share and the environment storage that registers it, as provisioning makes them. */
async function seedStateShare(
  seeder: { storage: StorageManagementClient; apps: ContainerAppsAPIClient },
  names: ReturnType<typeof footprintNames>,
  environmentName: string,
  location: string,
  tags: Record<string, string>,
  poll: { updateIntervalInMs: number },
): Promise<void> {
  const group = names.resourceGroup;
  const accountName = names.storageAccount;
  await seeder.storage.storageAccounts.beginCreateAndWait(
    group,
    accountName,
    { location, tags, sku: { name: 'Standard_LRS' }, kind: 'StorageV2' },
    poll,
  );
  await seeder.storage.fileShares.create(group, accountName, names.stateFileShare, { shareQuota: 100 });
  const keys = await seeder.storage.storageAccounts.listKeys(group, accountName);
  await seeder.apps.managedEnvironmentsStorages.createOrUpdate(
    group,
    environmentName,
    names.environmentStorage,
    {
      properties: {
        azureFile: {
          accountName,
          shareName: names.stateFileShare,
          accessMode: 'ReadWrite',
          accountKey: keys.keys![0]!.value!,
        },
      },
    },
  );
}
