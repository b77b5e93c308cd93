import { deliver } from '../maintenance/deliver.js';
import type { DeliverInput } from '../maintenance/contracts.js';
import type { MaintenanceDependencies } from '../maintenance/target.js';
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
  RotationPlanInput,
  StorageMoveInput,
  StorageRegenerateInput,
  StorageVerifyInput,
} from './contracts.js';
import { rotationContext } from './steps/context.js';
import { entraAdd, entraRemove, entraVerify } from './steps/entraSecret.js';
import { gatewayVerify, gatewayWrite, retireVersions } from './steps/gatewayToken.js';
import { planRotation } from './steps/plan.js';
import { flagSecret, recordRotation, recordSkip } from './steps/records.js';
import { storageMove, storageRegenerate, storageVerify } from './steps/storageKey.js';

/**
 * The secret rotation steps, each safe to run twice and guarded by what its plan found (a Key
 * Vault version, a key name and creation time, an Entra key id), so a duplicate or late step can
 * neither rotate twice nor undo a newer rotation. Activities in functions/rotationActivities.ts
 * call these; orchestrations/rotateSecrets.ts decides the order. Each step is a named function in
 * shared/rotation/steps/ (deliver, shared with SAS renewal, in shared/maintenance/deliver.ts).
 */
export function createRotationSteps(deps: MaintenanceDependencies) {
  const ctx = rotationContext(deps);
  return {
    plan: (input: RotationPlanInput) => planRotation(ctx, input),
    gatewayWrite: (input: GatewayWriteInput) => gatewayWrite(ctx, input),
    deliver: (input: DeliverInput) => deliver(ctx, input),
    gatewayVerify: (input: GatewayVerifyInput) => gatewayVerify(ctx, input),
    retireVersions: (input: RetireVersionsInput) => retireVersions(ctx, input),
    storageMove: (input: StorageMoveInput) => storageMove(ctx, input),
    storageVerify: (input: StorageVerifyInput) => storageVerify(ctx, input),
    storageRegenerate: (input: StorageRegenerateInput) => storageRegenerate(ctx, input),
    entraAdd: (input: EntraAddInput) => entraAdd(ctx, input),
    entraVerify: (input: EntraVerifyInput) => entraVerify(ctx, input),
    entraRemove: (input: EntraRetireInput) => entraRemove(ctx, input),
    flagSecret: (input: FlagSecretInput) => flagSecret(ctx, input),
    recordRotation: (input: RecordRotationInput) => recordRotation(ctx, input),
    recordSkip: (input: RecordSkipInput) => recordSkip(ctx, input),
  };
}

export type RotationSteps = ReturnType<typeof createRotationSteps>;

export { entraRetireInstanceId } from './steps/entraSecret.js';
