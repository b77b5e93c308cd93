import type { AzureClients } from '../../azure/azureClients.js';
import type { Change } from '../../azure/ensure.js';
import type { EntraClient } from '../../azure/entra.js';
import type { GatewayReadiness } from '../../azure/gatewayProbe.js';
import type { BrokerConfig } from '../../config.js';
import {
  renderOpenClawConfig,
  type RenderOpenClawConfigInput,
  type RenderedOpenClawConfig,
} from '../../openclaw/renderConfig.js';
import { asStepOutcome, done as stepDone, type StepOutcome } from '../../operations/outcome.js';
import type { EnvironmentRegistry } from '../../storage/environmentRegistry.js';
import type { StepFacts, StepInput } from '../contracts.js';

/** What the provisioning steps need from the outside world; tests pass their own. */
export interface ProvisionDependencies {
  config: BrokerConfig;
  azure: AzureClients;
  entra: EntraClient;
  registry: EnvironmentRegistry;
  brokerPrincipalId(): Promise<string>;
  probe(url: string): Promise<GatewayReadiness>;
  /** Defaults to renderOpenClawConfig; a test can make it render a config that fails the audit. */
  renderConfig?: (input: RenderOpenClawConfigInput) => RenderedOpenClawConfig;
}

/** What every step reads, built once from the dependencies (stepContext). */
export interface StepContext {
  deps: ProvisionDependencies;
  config: BrokerConfig;
  azure: AzureClients;
  registry: EnvironmentRegistry;
  /** deps.renderConfig, or renderOpenClawConfig. */
  render: (input: RenderOpenClawConfigInput) => RenderedOpenClawConfig;
  /** config.azure.lroPollIntervalMs: how often Key Vault's long-running operations are polled. */
  pollMs: number;
  /** The slug's Key Vault, from the keyVault step's facts. */
  slugVault: (input: StepInput) => ReturnType<AzureClients['secrets']>;
}

export function stepContext(deps: ProvisionDependencies): StepContext {
  const { azure, config, registry } = deps;
  return {
    deps,
    config,
    azure,
    registry,
    render: deps.renderConfig ?? renderOpenClawConfig,
    pollMs: config.azure.lroPollIntervalMs,
    slugVault: (input: StepInput) => azure.secrets(need(input, 'keyVault').vaultUri),
  };
}

/** Provisioning's `done` always lists its changes (none is an empty list). */
export const done = <T>(value: T, changes: (Change | undefined)[] = []): StepOutcome<T> =>
  stepDone(value, changes);

/** Every provisioning step may read Entra objects this run just created (isReplicationLag). */
export const asProvisionOutcome = <T>(body: () => Promise<StepOutcome<T>>): Promise<StepOutcome<T>> =>
  asStepOutcome(body, { freshEntraObjects: true });

/** The facts an earlier step produced; a step scheduled before that step ran is a bug. */
export function need<K extends keyof StepFacts>(input: StepInput, key: K): StepFacts[K] {
  const fact = input.facts[key];
  if (!fact) throw new Error(`step input lacks the facts of ${key}`);
  return fact;
}

/** Reads of resources in a group this run created are skipped: they cannot exist yet. */
export const fresh = (input: StepInput) => ({ inNewGroup: input.facts.resourceGroup?.created === true });

/** The app's host name: its name on the environment's default domain. */
export function appFqdn(input: StepInput): string {
  const environment = input.facts.managedEnvironment;
  if (!environment) throw new Error('step input lacks the facts of managedEnvironment');
  return `${input.plan.names.containerApp}.${environment.defaultDomain}`;
}
