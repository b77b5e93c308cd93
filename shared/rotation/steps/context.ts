import type { SecretClient } from '@azure/keyvault-secrets';
import type { AzureClients } from '../../azure/azureClients.js';
import { gatewayProbeUrl } from '../../azure/gatewayProbe.js';
import type { BrokerConfig } from '../../config.js';
import { openClawVersionSupport } from '../../openclaw/versions.js';
import type { MaintenanceTarget } from '../../maintenance/contracts.js';
import { rotationPolicy, type RotationPolicy } from '../../maintenance/rotationPolicy.js';
import type { MaintenanceDependencies } from '../../maintenance/target.js';
import type { EnvironmentRegistry } from '../../storage/environmentRegistry.js';

/**
 * What the rotation steps share, built once from their dependencies: the dependencies themselves
 * and what is derived from them (the poll interval, the policy, the vault and gateway of a target).
 * Each step takes the part it uses, so a test can call one step with a hand-made context.
 */
export interface RotationContext {
  deps: MaintenanceDependencies;
  azure: AzureClients;
  config: BrokerConfig;
  registry: EnvironmentRegistry;
  pollIntervalMs: number;
  policy: RotationPolicy;
  fetchImpl: typeof fetch;
  vaultOf(target: MaintenanceTarget): SecretClient;
  gatewayUrl(target: MaintenanceTarget, path: string): string;
  /** Undefined when the gateway is ready, else why not. */
  readiness(target: MaintenanceTarget): Promise<string | undefined>;
}

export function rotationContext(deps: MaintenanceDependencies): RotationContext {
  const { azure, config, registry } = deps;
  const gatewayUrl = (target: MaintenanceTarget, path: string) =>
    gatewayProbeUrl(
      config.openclaw.gatewayUrlTemplate,
      { fqdn: target.fqdn, name: target.containerApp },
      path,
    );
  return {
    deps,
    azure,
    config,
    registry,
    pollIntervalMs: config.azure.lroPollIntervalMs,
    policy: rotationPolicy(config),
    fetchImpl: deps.fetch ?? globalThis.fetch,
    vaultOf: (target) => azure.secrets(target.vaultUri),
    gatewayUrl,
    readiness: async (target) => {
      const path = openClawVersionSupport(target.openclawVersion).probes.readiness;
      const answer = await deps.probe(gatewayUrl(target, path));
      return answer.ready ? undefined : `the gateway's ${path} answered ${answer.reason}`;
    },
  };
}
