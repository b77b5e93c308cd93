import type { FootprintNames } from '../domain/footprint.js';
import type { AzureFailure } from '../azure/azureErrors.js';
import type { Change } from '../azure/ensure.js';
import type { OpenClawChannel } from '../openclaw/renderConfig.js';
import type { LifecycleRequest } from '../requests/lifecycleRequest.js';

/**
 * The provisioning orchestration's vocabulary: step names, the dependency graph between steps, and
 * every activity's input and output. All of it is JSON and none of it is secret: activities read
 * and write secrets in Key Vault themselves and hand each other Key Vault secret URIs.
 */

export const PROVISION_STEPS = [
  'prepare',
  'resourceGroup',
  'identity',
  'keyVault',
  'storage',
  'logAnalytics',
  'roleAssignments',
  'appInsights',
  'managedEnvironment',
  'environmentStorage',
  'secrets',
  'entra',
  'containerApp',
  'authConfig',
  'readiness',
  'finish',
] as const;
export type ProvisionStep = (typeof PROVISION_STEPS)[number];

/** The steps the orchestration schedules on the graph (prepare and finish bracket it). */
export type GraphStep = Exclude<ProvisionStep, 'prepare' | 'finish'>;

/**
 * What each step needs done first. A step starts as soon as these are done, so the wall time
 * follows the longest chain (the critical path), not the sum of the steps:
 *
 * ```
 * resourceGroup ─┬─ identity ─────┬─ roleAssignments ─┬─ secrets ─┬─ entra ─┬─ containerApp ─ authConfig ─ readiness
 *                ├─ keyVault ─────┘                   │           │         │
 *                ├─ storage ──────────────────────────┴───────┬───│─────────┤ (environmentStorage)
 *                └─ logAnalytics ┬─ managedEnvironment ───────┴───┴─────────┤
 *                                └─ appInsights ────────────────────────────┘
 * ```
 * The environment (the slowest resource) starts as soon as its workspace exists; registering the
 * state share on it is its own step, so the storage account is not on the environment's path.
 */
export const STEP_DEPENDENCIES: Readonly<Record<GraphStep, readonly GraphStep[]>> = {
  resourceGroup: [],
  identity: ['resourceGroup'],
  keyVault: ['resourceGroup'],
  storage: ['resourceGroup'],
  logAnalytics: ['resourceGroup'],
  roleAssignments: ['identity', 'keyVault'],
  appInsights: ['logAnalytics'],
  managedEnvironment: ['logAnalytics'],
  environmentStorage: ['managedEnvironment', 'storage'],
  secrets: ['roleAssignments', 'storage'],
  entra: ['managedEnvironment', 'secrets'],
  containerApp: ['environmentStorage', 'secrets', 'entra', 'appInsights'],
  authConfig: ['containerApp', 'entra'],
  readiness: ['authConfig'],
};

/** The provision request as the orchestration receives it (validated by the intake). */
export type ProvisionRequest = Extract<LifecycleRequest, { op: 'provision' }>;

/** How long to wait between attempts and in total, from configuration, fixed for one run. */
export interface ProvisionTiming {
  retryIntervalMs: number;
  propagationTimeoutMs: number;
  readyPollIntervalMs: number;
  readyTimeoutMs: number;
}

/** Everything the steps share, decided once by `prepare` (no secrets: secret refs are URIs). */
export interface ProvisionPlan {
  slug: string;
  requestId: string;
  incarnation: number;
  names: FootprintNames;
  location: string;
  tenantId: string;
  openclawVersion: string;
  /** The digest the registry recorded for that version (an upgrade deployed it by digest). */
  imageDigest?: string | undefined;
  channels: OpenClawChannel[];
  /** Key Vault secret URI of the staged Telegram bot token in the broker's vault. */
  telegramBotTokenRef?: string | undefined;
  foundry?: { endpoint: string; deployment: string; apiKeyRef?: string | undefined } | undefined;
  allowedIdentities: string[];
  owners: string[];
  /** The environment's state before this run ('ready' makes this run a convergence check). */
  previousState?: string | undefined;
}

export interface PrepareInput {
  request: ProvisionRequest;
  startedAt: string;
}

export type PrepareOutput =
  | { status: 'planned'; plan: ProvisionPlan; timing: ProvisionTiming; changes: Change[] }
  | { status: 'refused'; reason: string };

export interface StepInput {
  plan: ProvisionPlan;
  /** The facts earlier steps produced, by step. */
  facts: Partial<StepFacts>;
}

/** The (non-secret) facts each step produces for later steps. */
export interface StepFacts {
  /** `created`: made by this run, so nothing inside it exists yet (later steps skip their reads). */
  resourceGroup: { id: string; created: boolean };
  identity: { id: string; principalId: string; clientId: string };
  keyVault: { id: string; vaultUri: string };
  storage: { id: string; accountName: string };
  logAnalytics: { id: string; customerId: string };
  roleAssignments: { granted: number };
  appInsights: { id: string };
  managedEnvironment: { id: string; defaultDomain: string };
  environmentStorage: { storageName: string };
  /** Versionless Key Vault secret URIs of the slug's secrets. */
  secrets: SecretUris;
  entra: { appId: string; objectId: string; groupId: string; clientSecretUri: string };
  containerApp: { id: string; fqdn: string; latestRevisionName: string };
  authConfig: { excludedPaths: string[] };
  readiness: { url: string };
}

export interface SecretUris {
  gatewayToken: string;
  storageKey: string;
  telegramBotToken?: string | undefined;
  telegramWebhookSecret?: string | undefined;
  foundryApiKey?: string | undefined;
}

export interface ReportProgressInput {
  slug: string;
  requestId: string;
  step: string;
  done: number;
  total: number;
}

export interface FinishInput {
  plan: ProvisionPlan;
  facts: Partial<StepFacts>;
  finishedAt: string;
}

export interface RecordFailureInput {
  plan: ProvisionPlan;
  step: string;
  error: AzureFailure;
  failedAt: string;
}

export interface RecordFailureOutput {
  /** `<type>/<name>` of every resource in the group when the failure was recorded. */
  existing: string[];
}
