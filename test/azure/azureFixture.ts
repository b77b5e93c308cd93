import { ClientSecretCredential } from '@azure/identity';
import { AzureClients } from '../../shared/azure/azureClients.js';
import { loadConfig, type BrokerConfig } from '../../shared/config.js';
import { createGraphSurface, externalPrincipalOf, type GraphSurface } from '../../sandbox/sim/graph.js';
import type { RequestLogEntry } from '../../sandbox/sim/requestLog.js';
import { startSimulator, type Simulator, type StartSimulatorOptions } from '../../sandbox/sim/simulator.js';
import { trustSimulatorCertificate } from '../../sandbox/sim/trustSimulatorCertificate.js';
import { testSettings } from '../support/settings.js';

export interface AzureFixture {
  sim: Simulator;
  config: BrokerConfig;
  credential: ClientSecretCredential;
  azure: AzureClients;
  /** Clients built from other settings (fewer retries, for example) on the same simulator. */
  clients(settings: Record<string, string>): AzureClients;
  /** ARM requests since `afterSeq` that are not reads, as `METHOD path`. */
  armWrites(afterSeq: number): string[];
  requests(afterSeq?: number): RequestLogEntry[];
  lastSeq(): number;
}

/**
 * The broker's Azure adapters against the simulator, configured the way the broker is (settings →
 * loadConfig → AzureClients), with a manual simulator clock: tests move time to let role grants
 * propagate. Long-running operations finish at their first poll.
 */
export async function startAzureFixture(options: StartSimulatorOptions = {}): Promise<AzureFixture> {
  const sim = await startSimulator({ dataPlanePropagationSeconds: 30, ...options });
  trustSimulatorCertificate(sim.caCertPem);
  const settingsFor = (extra: Record<string, string>) =>
    testSettings({
      AZURE_SUBSCRIPTION_ID: sim.subscriptionId,
      AZURE_TENANT_ID: sim.tenantId,
      AZURE_CREDENTIAL: 'client-secret',
      AZURE_CLIENT_ID: sim.broker.clientId,
      AZURE_CLIENT_SECRET: sim.broker.clientSecret,
      AZURE_AUTHORITY_HOST: sim.url,
      AZURE_RESOURCE_MANAGER_ENDPOINT: sim.url,
      MICROSOFT_GRAPH_ENDPOINT: `${sim.url}/graph`,
      KEY_VAULT_VERIFY_CHALLENGE_RESOURCE: 'false',
      AZURE_LRO_POLL_INTERVAL_MS: '10',
      ...extra,
    });
  const config = loadConfig(settingsFor({}));
  const credential = new ClientSecretCredential(sim.tenantId, sim.broker.clientId, sim.broker.clientSecret, {
    authorityHost: sim.url,
    disableInstanceDiscovery: true,
  });
  const requests = (afterSeq = 0) => sim.admin.requests(afterSeq);
  return {
    sim,
    config,
    credential,
    azure: new AzureClients(config, credential),
    clients: (settings) => new AzureClients(loadConfig(settingsFor(settings)), credential),
    armWrites: (afterSeq) =>
      requests(afterSeq)
        .filter((entry) => entry.surface === 'arm' && entry.method !== 'GET')
        .map((entry) => `${entry.method} ${entry.path}`),
    requests,
    lastSeq: () => requests().at(-1)?.seq ?? 0,
  };
}

/**
 * Mounts a simulated Microsoft Graph on the fixture's simulator: it takes the broker's Graph
 * tokens (audience `<sim>/graph`) and knows the identity directory's principals as directory
 * objects, so the broker can name itself as an owner.
 */
export function mountGraph(t: AzureFixture): GraphSurface {
  const graph = createGraphSurface({
    clock: t.sim.clock,
    tenantId: t.sim.tenantId,
    externalPrincipal: (id) => externalPrincipalOf(t.sim.identity.get(id)),
    verifyToken: (authorization) => {
      const result = t.sim.identity.authenticate({ authorization });
      return result?.claims.aud === `${t.sim.url}/graph` ? { id: result.principal.objectId } : undefined;
    },
  });
  t.sim.mount(graph);
  return graph;
}
