import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  azureLatencyProfile,
  operationMs,
  propagationMs,
  resourceTypeOf,
} from '../../sandbox/sim/latencyProfile.js';
import { startSimulator, type Simulator } from '../../sandbox/sim/simulator.js';
import { ArmThrottle } from '../../sandbox/sim/throttle.js';

const SUB = '/subscriptions/3c1b6f4e-2a7d-4b8e-9c0f-1a2b3c4d5e6f/resourceGroups/claw-acme/providers';
const ENVIRONMENT = `${SUB}/Microsoft.App/managedEnvironments/cae-acme`;
const APP = `${SUB}/Microsoft.App/containerApps/ca-acme`;

describe('the latency profile', () => {
  it('gives every figure a duration and its source', () => {
    const figures = [
      ...Object.values(azureLatencyProfile.operations).flatMap((kinds) => Object.values(kinds)),
      azureLatencyProfile.dataPlanePropagation,
      azureLatencyProfile.entraReplication,
    ];
    expect(figures.length).toBeGreaterThan(8);
    for (const figure of figures) {
      expect(figure.seconds).toBeGreaterThan(0);
      expect(figure.source.length).toBeGreaterThan(20);
    }
  });

  it('finds the resource type of nested resources, and scales each figure by the time scale', () => {
    expect(resourceTypeOf(`${APP}/revisions/ca-acme--r1`)).toBe('Microsoft.App/containerApps/revisions');
    expect(resourceTypeOf(ENVIRONMENT)).toBe('Microsoft.App/managedEnvironments');
    expect(resourceTypeOf('/subscriptions/s/resourceGroups/claw-acme')).toBe(
      'Microsoft.Resources/resourceGroups',
    );
    expect(operationMs({ timeScale: 10 }, ENVIRONMENT, 'create')).toBe(21_000);
    expect(operationMs({}, `${APP}/revisions/ca-acme--r1`, 'restart')).toBe(30_000);
    expect(operationMs({ timeScale: 10 }, `${SUB}/Microsoft.Insights/components/appi-acme`, 'create')).toBe(
      undefined,
    );
    expect(propagationMs({ timeScale: 5 }, 'dataPlanePropagation')).toBe(63_000);
    expect(() => operationMs({ timeScale: 0 }, ENVIRONMENT, 'create')).toThrow(/positive number/);
  });
});

describe('the simulator under the latency profile', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startSimulator({ latency: { timeScale: 10 }, provisioningSeconds: 0.5 });
  });
  afterAll(() => sim.stop());

  it('starts operations with the profile figure for their type and kind, the default where it has none', () => {
    const start = (resourceId: string, previous: boolean) =>
      sim.arm.startOperation({
        namespace: 'Microsoft.App',
        location: 'westeurope',
        resourceId,
        kind: 'put',
        settle: () => undefined,
        resume: {
          kind: 'put',
          type: resourceTypeOf(resourceId)!,
          ...(previous
            ? {
                previous: {
                  id: resourceId,
                  type: resourceTypeOf(resourceId)!,
                  name: 'x',
                  subscriptionId: sim.subscriptionId,
                  resourceGroup: 'claw-acme',
                  body: {},
                  hidden: {},
                  createdAt: 0,
                  updatedAt: 0,
                },
              }
            : {}),
        },
      });
    const took = (operation: { startedAt: number; readyAt: number }) =>
      operation.readyAt - operation.startedAt;
    expect(took(start(ENVIRONMENT, false))).toBe(21_000);
    expect(took(start(APP, false))).toBe(6_000);
    expect(took(start(APP, true))).toBe(4_500);
    expect(took(start(`${SUB}/Microsoft.Network/virtualNetworks/vnet`, false))).toBe(500);
    // Propagation comes from the profile too.
    expect(sim.arm.options.dataPlanePropagationMs).toBe(31_500);
    expect(sim.arm.options.principalPropagationMs).toBe(9_000);
  });
});

describe("ARM's throttle under a time scale", () => {
  it('keeps the burst and refills as many times faster as the scale', () => {
    let now = 0;
    const throttle = new ArmThrottle({ timeScale: 10 }, () => now);
    for (let i = 0; i < 200; i++) expect(throttle.take('broker', 'write').allowed).toBe(true);
    expect(throttle.take('broker', 'write').allowed).toBe(false);
    now += 100; // 0.1 s of wall time is 1 s of Azure time: 10 writes
    let allowed = 0;
    while (throttle.take('broker', 'write').allowed) allowed++;
    expect(allowed).toBe(10);
  });
});
