import type { LifecycleOp } from './requests/lifecycleRequest.js';

/**
 * Every function, orchestration, activity and event name, in one place. Orchestrations refer to
 * activities by these constants, never by inline strings.
 */
export const Orchestrations = {
  slugRunner: 'slugRunner',
  provision: 'provisionOrchestration',
  rotateSecrets: 'rotateSecretsOrchestration',
  renewSas: 'renewSasOrchestration',
  upgrade: 'upgradeOrchestration',
  teardown: 'teardownOrchestration',
  /** The reusable approval sub-orchestration (orchestrations/approval.ts). */
  approval: 'approvalOrchestration',
  /** Removes a replaced Entra client secret after its grace period (detached, one per secret). */
  retireEntraSecret: 'retireEntraSecretOrchestration',
  /** A fleet upgrade wave (orchestrations/upgradeWave.ts, instance `wave:<waveId>`). */
  upgradeWave: 'upgradeWaveOrchestration',
} as const;

/** The orchestration that carries out each lifecycle operation. */
export const OPERATION_ORCHESTRATIONS: Readonly<Record<LifecycleOp, string>> = {
  provision: Orchestrations.provision,
  'rotate-secrets': Orchestrations.rotateSecrets,
  'renew-sas': Orchestrations.renewSas,
  upgrade: Orchestrations.upgrade,
  teardown: Orchestrations.teardown,
};

export const Activities = {
  claimNextRequest: 'claimNextRequest',
  startRequest: 'startRequest',
  finishRequest: 'finishRequest',
} as const;

/** The provisioning orchestration's activities: one per step, plus bookkeeping. */
export const ProvisionActivities = {
  prepare: 'provisionPrepare',
  resourceGroup: 'provisionResourceGroup',
  identity: 'provisionIdentity',
  keyVault: 'provisionKeyVault',
  storage: 'provisionStorage',
  logAnalytics: 'provisionLogAnalytics',
  roleAssignments: 'provisionRoleAssignments',
  appInsights: 'provisionAppInsights',
  managedEnvironment: 'provisionManagedEnvironment',
  environmentStorage: 'provisionEnvironmentStorage',
  secrets: 'provisionSecrets',
  entra: 'provisionEntra',
  containerApp: 'provisionContainerApp',
  authConfig: 'provisionAuthConfig',
  readiness: 'provisionReadiness',
  finish: 'provisionFinish',
  recordFailure: 'provisionRecordFailure',
  reportProgress: 'provisionReportProgress',
} as const;

/** The rotate-secrets orchestration's activities (deliver is shared with renew-sas). */
export const RotationActivities = {
  plan: 'rotationPlan',
  gatewayWrite: 'rotationGatewayWrite',
  deliver: 'maintenanceDeliver',
  gatewayVerify: 'rotationGatewayVerify',
  retireVersions: 'rotationRetireVersions',
  storageMove: 'rotationStorageMove',
  storageVerify: 'rotationStorageVerify',
  storageRegenerate: 'rotationStorageRegenerate',
  entraAdd: 'rotationEntraAdd',
  entraVerify: 'rotationEntraVerify',
  entraScheduleRetire: 'rotationEntraScheduleRetire',
  entraRemove: 'rotationEntraRemove',
  flagSecret: 'rotationFlagSecret',
  recordRotation: 'rotationRecord',
  recordSkip: 'rotationRecordSkip',
} as const;

/** The renew-sas orchestration's activities. */
export const SasActivities = {
  plan: 'sasPlan',
  grant: 'sasGrant',
  issue: 'sasIssue',
  record: 'sasRecord',
  recordFailure: 'sasRecordFailure',
} as const;

/** The approval sub-orchestration's activities. */
export const ApprovalActivities = {
  open: 'approvalOpen',
  expire: 'approvalExpire',
  /** Reads the approval record when a decision event arrives: the record, not the event, decides. */
  confirm: 'approvalConfirmDecision',
} as const;

/** The teardown orchestration's activities. */
export const TeardownActivities = {
  inspect: 'teardownInspect',
  markDeleting: 'teardownMarkDeleting',
  backup: 'teardownBackup',
  deleteResourceGroup: 'teardownDeleteResourceGroup',
  keyVault: 'teardownKeyVault',
  entra: 'teardownEntra',
  finish: 'teardownFinish',
} as const;

/** The upgrade orchestration's activities (one slug). */
export const UpgradeActivities = {
  plan: 'upgradePlan',
  preflight: 'upgradePreflight',
  stop: 'upgradeStop',
  snapshot: 'upgradeSnapshot',
  start: 'upgradeStart',
  gate: 'upgradeGate',
  commit: 'upgradeCommit',
  restore: 'upgradeRestore',
  reactivate: 'upgradeReactivate',
  recordRollback: 'upgradeRecordRollback',
  needsRepair: 'upgradeNeedsRepair',
} as const;

/** The fleet upgrade wave's activities (issue 14, item 3). */
export const UpgradeWaveActivities = {
  plan: 'upgradeWavePlan',
  enqueue: 'upgradeWaveEnqueue',
  observe: 'upgradeWaveObserve',
  report: 'upgradeWaveReport',
} as const;

export const Events = {
  /** Tells a slug runner that its queue may have new work. Carries no data it relies on. */
  wake: 'wake',
  /** The final decision of an approval (ApprovalDecision), raised on `approval:<requestId>`. */
  approvalDecision: 'approvalDecision',
  /** An operator paused, resumed or aborted a wave; carries nothing it relies on (the store decides). */
  waveControl: 'upgradeWaveControl',
} as const;

export const Functions = {
  lifecycleIntake: 'lifecycleIntake',
  lifecycleIntakePoison: 'lifecycleIntakePoison',
  submitRequest: 'submitRequest',
  getRequest: 'getRequest',
  listEnvironments: 'listEnvironments',
  getEnvironment: 'getEnvironment',
  listRejected: 'listRejected',
  getRejected: 'getRejected',
  approveRequest: 'approveRequest',
  rejectRequest: 'rejectRequest',
  listAudit: 'listAudit',
  telegramWebhook: 'telegramWebhook',
  registerTelegramWebhook: 'registerTelegramWebhook',
  rotationSweep: 'rotationSweep',
  sasSweep: 'sasSweep',
  housekeeping: 'housekeeping',
  getSweeps: 'getSweeps',
  pauseSweeps: 'pauseSweeps',
  resumeSweeps: 'resumeSweeps',
  optOutOfSweeps: 'optOutOfSweeps',
  optInToSweeps: 'optInToSweeps',
  // Upgrade waves and per-slug upgrade controls (issue 14, item 3).
  startUpgradeWave: 'startUpgradeWave',
  listUpgradeWaves: 'listUpgradeWaves',
  getUpgradeWave: 'getUpgradeWave',
  pauseUpgradeWave: 'pauseUpgradeWave',
  resumeUpgradeWave: 'resumeUpgradeWave',
  abortUpgradeWave: 'abortUpgradeWave',
  holdUpgrades: 'holdUpgrades',
  releaseUpgrades: 'releaseUpgrades',
  pinUpgrades: 'pinUpgrades',
  unpinUpgrades: 'unpinUpgrades',
  upgradeWaveTimer: 'upgradeWaveTimer',
} as const;

/** The slug runner's instance id: one eternal runner per slug serialises its operations. */
export function slugRunnerInstanceId(slug: string): string {
  return `runner:${slug}`;
}

/** The approval sub-orchestration's instance id for a request: one approval per request. */
export function approvalInstanceId(requestId: string): string {
  return `approval:${requestId}`;
}
