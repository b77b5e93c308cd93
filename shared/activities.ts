import type {
  ApprovalDecision,
  ConfirmDecisionInput,
  ConfirmedDecision,
  ExpireApprovalInput,
  OpenApprovalInput,
  OpenedApproval,
} from './approvals/contracts.js';
import type {
  Activities,
  ApprovalActivities,
  ProvisionActivities,
  RotationActivities,
  SasActivities,
  TeardownActivities,
  UpgradeActivities,
  UpgradeWaveActivities,
} from './functionNames.js';
import type {
  ClaimedRequest,
  ClaimNextRequestInput,
  FinishRequestInput,
  StartRequestInput,
} from './intake/runnerContracts.js';
import type { DeliverInput, DeliverOutput } from './maintenance/contracts.js';
import type { StepOutcome } from './operations/outcome.js';
import type {
  FinishInput as ProvisionFinishInput,
  GraphStep,
  PrepareInput,
  PrepareOutput,
  RecordFailureInput,
  RecordFailureOutput,
  ReportProgressInput,
  StepFacts,
  StepInput,
} from './provisioning/contracts.js';
import type {
  EntraAddInput,
  EntraRetireInput,
  EntraVerifyInput,
  FlagSecretInput,
  GatewayVerifyInput,
  GatewayWriteInput,
  RecordRotationInput,
  RecordSkipInput,
  RetireVersionsInput,
  RotationPlan,
  RotationPlanInput,
  StorageMoveInput,
  StorageRegenerateInput,
  StorageVerifyInput,
} from './rotation/contracts.js';
import type {
  SasFailureInput,
  SasFailureOutput,
  SasGrantInput,
  SasIssued,
  SasIssueInput,
  SasPlan,
  SasPlanInput,
  SasRecordInput,
  SasRecordOutput,
} from './sas/contracts.js';
import type {
  BackupFacts,
  BackupInput,
  EntraOutcome,
  FinishInput as TeardownFinishInput,
  InspectInput,
  Inspection,
  MarkInput,
  TeardownPlan,
  VaultOutcome,
} from './teardown/contracts.js';
import type {
  CommitInput as UpgradeCommitInput,
  GateFacts,
  GateInput,
  PlanOutcome,
  RestoreInput,
  RollbackRecordInput,
  StopInput,
  UpgradePlanInput,
  UpgradeStepInput,
} from './upgrades/contracts.js';
import type {
  RingObservation,
  WaveControlView,
  WaveEnqueued,
  WaveEnqueueInput,
  WaveObserveInput,
  WavePlanInput,
  WavePlanOutcome,
  WaveReportInput,
} from './upgrades/waveContracts.js';

/**
 * What each activity takes and answers, by name: the one place where an orchestration's call and
 * the activity's registration meet. Orchestrations call through orchestrations/kit.ts and
 * activities register through functions/registerStep.ts, both typed by this map, so a wrong input
 * or a misread result fails type-checking instead of replaying into a runtime error.
 */
interface Contract<I, O> {
  input: I;
  output: O;
}

type ProvisionGraphContracts = {
  [S in GraphStep as (typeof ProvisionActivities)[S]]: Contract<StepInput, StepOutcome<StepFacts[S]>>;
};

interface OtherContracts {
  [Activities.claimNextRequest]: Contract<ClaimNextRequestInput, ClaimedRequest | null>;
  [Activities.startRequest]: Contract<StartRequestInput, void>;
  [Activities.finishRequest]: Contract<FinishRequestInput, void>;

  [ProvisionActivities.prepare]: Contract<PrepareInput, PrepareOutput>;
  [ProvisionActivities.finish]: Contract<ProvisionFinishInput, void>;
  [ProvisionActivities.recordFailure]: Contract<RecordFailureInput, RecordFailureOutput>;
  [ProvisionActivities.reportProgress]: Contract<ReportProgressInput, void>;

  [RotationActivities.plan]: Contract<RotationPlanInput, RotationPlan>;
  [RotationActivities.gatewayWrite]: Contract<GatewayWriteInput, StepOutcome<{ toVersion: string }>>;
  [RotationActivities.deliver]: Contract<DeliverInput, StepOutcome<DeliverOutput>>;
  [RotationActivities.gatewayVerify]: Contract<GatewayVerifyInput, StepOutcome<object>>;
  [RotationActivities.retireVersions]: Contract<RetireVersionsInput, StepOutcome<{ disabled: number }>>;
  [RotationActivities.storageMove]: Contract<StorageMoveInput, StepOutcome<{ moved: boolean }>>;
  [RotationActivities.storageVerify]: Contract<StorageVerifyInput, StepOutcome<object>>;
  [RotationActivities.storageRegenerate]: Contract<
    StorageRegenerateInput,
    StepOutcome<{ regenerated: boolean }>
  >;
  [RotationActivities.entraAdd]: Contract<EntraAddInput, StepOutcome<{ toKeyId: string }>>;
  [RotationActivities.entraVerify]: Contract<EntraVerifyInput, StepOutcome<object>>;
  [RotationActivities.entraScheduleRetire]: Contract<EntraRetireInput, 'started' | 'exists'>;
  [RotationActivities.entraRemove]: Contract<EntraRetireInput, StepOutcome<{ removed: boolean }>>;
  [RotationActivities.flagSecret]: Contract<FlagSecretInput, StepOutcome<{ told: boolean }>>;
  [RotationActivities.recordRotation]: Contract<RecordRotationInput, void>;
  [RotationActivities.recordSkip]: Contract<RecordSkipInput, void>;

  [SasActivities.plan]: Contract<SasPlanInput, SasPlan>;
  [SasActivities.grant]: Contract<SasGrantInput, StepOutcome<unknown>>;
  [SasActivities.issue]: Contract<SasIssueInput, StepOutcome<SasIssued>>;
  [SasActivities.record]: Contract<SasRecordInput, SasRecordOutput>;
  [SasActivities.recordFailure]: Contract<SasFailureInput, SasFailureOutput>;

  [ApprovalActivities.open]: Contract<OpenApprovalInput, OpenedApproval>;
  [ApprovalActivities.expire]: Contract<ExpireApprovalInput, ApprovalDecision>;
  [ApprovalActivities.confirm]: Contract<ConfirmDecisionInput, ConfirmedDecision>;

  [TeardownActivities.inspect]: Contract<InspectInput, StepOutcome<Inspection>>;
  [TeardownActivities.markDeleting]: Contract<MarkInput, StepOutcome<void>>;
  [TeardownActivities.backup]: Contract<BackupInput, StepOutcome<BackupFacts>>;
  [TeardownActivities.deleteResourceGroup]: Contract<TeardownPlan, StepOutcome<void>>;
  [TeardownActivities.keyVault]: Contract<TeardownPlan, StepOutcome<VaultOutcome>>;
  [TeardownActivities.entra]: Contract<TeardownPlan, StepOutcome<EntraOutcome>>;
  [TeardownActivities.finish]: Contract<TeardownFinishInput, StepOutcome<void>>;

  [UpgradeActivities.plan]: Contract<UpgradePlanInput, StepOutcome<PlanOutcome>>;
  [UpgradeActivities.preflight]: Contract<UpgradeStepInput, StepOutcome<{ configHash: string }>>;
  [UpgradeActivities.stop]: Contract<StopInput, StepOutcome<{ stopped: string[] }>>;
  [UpgradeActivities.snapshot]: Contract<UpgradeStepInput, StepOutcome<{ snapshot: string }>>;
  [UpgradeActivities.start]: Contract<UpgradeStepInput, StepOutcome<{ revision: string }>>;
  [UpgradeActivities.gate]: Contract<GateInput, StepOutcome<GateFacts>>;
  [UpgradeActivities.commit]: Contract<UpgradeCommitInput, StepOutcome<{ pruned: boolean }>>;
  [UpgradeActivities.restore]: Contract<RestoreInput, StepOutcome<{ restored: string }>>;
  [UpgradeActivities.reactivate]: Contract<UpgradeStepInput, StepOutcome<{ revision: string }>>;
  [UpgradeActivities.recordRollback]: Contract<RollbackRecordInput, StepOutcome<{ recorded: true }>>;
  [UpgradeActivities.needsRepair]: Contract<RollbackRecordInput, StepOutcome<{ recorded: true }>>;
  // Upgrade waves (issue 14, item 3).
  [UpgradeWaveActivities.plan]: Contract<WavePlanInput, WavePlanOutcome>;
  [UpgradeWaveActivities.enqueue]: Contract<WaveEnqueueInput, WaveEnqueued>;
  [UpgradeWaveActivities.observe]: Contract<WaveObserveInput, RingObservation>;
  [UpgradeWaveActivities.report]: Contract<WaveReportInput, WaveControlView>;
}

export type ActivityContracts = ProvisionGraphContracts & OtherContracts;
export type ActivityName = keyof ActivityContracts;
export type ActivityInput<N extends ActivityName> = ActivityContracts[N]['input'];
export type ActivityOutput<N extends ActivityName> = ActivityContracts[N]['output'];
/** The activities that answer a StepOutcome, and the value their `done` carries. */
export type StepActivity = {
  [N in ActivityName]: ActivityOutput<N> extends StepOutcome<unknown> ? N : never;
}[ActivityName];
export type StepValue<N extends StepActivity> = ActivityOutput<N> extends StepOutcome<infer T> ? T : never;
