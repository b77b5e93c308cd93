import type { LifecycleOp, LifecycleRequest } from '../requests/lifecycleRequest.js';

/** Inputs and outputs of the slug runner's activities (all JSON, none secret). */

export interface SlugRunnerInput {
  slug: string;
}

export interface ClaimNextRequestInput {
  slug: string;
}

export interface ClaimedRequest {
  requestId: string;
  op: LifecycleOp;
  request: LifecycleRequest;
  instanceId: string;
}

export interface StartRequestInput {
  requestId: string;
  instanceId: string;
  startedAt: string;
}

/** What an operation orchestration returns when it does not throw. */
export interface OperationResult {
  outcome: 'succeeded' | 'rejected';
  summary?: string;
  reason?: string;
}

export interface FinishRequestInput {
  requestId: string;
  finishedAt: string;
  outcome: 'succeeded' | 'failed' | 'rejected';
  summary?: string | undefined;
  reason?: string | undefined;
}

/** The custom status operation orchestrations publish while they run. */
export interface OperationProgress {
  step: string;
  done: number;
  total: number;
  awaitingApproval?: boolean;
}
