import { ClientSecretCredential } from '@azure/identity';
import { startSimulator, type Simulator, type StartSimulatorOptions } from '../../sandbox/sim/simulator.js';
import { trustSimulatorCertificate } from '../../sandbox/sim/trustSimulatorCertificate.js';

export interface TrustedSimulator {
  sim: Simulator;
  /** The broker's credential, talking to the simulator's token service. */
  credential: ClientSecretCredential;
  /** Client options for ARM SDK clients: the simulator as endpoint, fast LRO polling. */
  armOptions: {
    endpoint: string;
    retryOptions: { maxRetries: number; retryDelayInMs: number; maxRetryDelayInMs: number };
  };
  /** Poller options that keep tests fast. */
  poll: { updateIntervalInMs: number };
}

/** Starts a simulator whose certificate this test process trusts, plus the broker's credential. */
export async function startTrustedSimulator(options: StartSimulatorOptions = {}): Promise<TrustedSimulator> {
  const sim = await startSimulator(options);
  trustSimulatorCertificate(sim.caCertPem);
  const credential = new ClientSecretCredential(sim.tenantId, sim.broker.clientId, sim.broker.clientSecret, {
    authorityHost: sim.url,
    disableInstanceDiscovery: true,
  });
  return {
    sim,
    credential,
    armOptions: {
      endpoint: sim.url,
      retryOptions: { maxRetries: 3, retryDelayInMs: 50, maxRetryDelayInMs: 200 },
    },
    poll: { updateIntervalInMs: 5 },
  };
}
