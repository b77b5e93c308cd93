import type { RequestRecord, RequestStatus } from '../storage/requestStore.js';
import type { OperationProgress } from './runnerContracts.js';

/** What `GET /api/requests/{id}` answers: the request's state, in one shape for API and CLI. */
export interface RequestView {
  requestId: string;
  op: string;
  slug: string;
  status: RequestStatus;
  acceptedAt: string;
  startedAt?: string | undefined;
  finishedAt?: string | undefined;
  /** Position in the slug's queue (1 = next), while queued. */
  queuePosition?: number | undefined;
  /** The current step and done/total, while running. */
  step?: string | undefined;
  progress?: { done: number; total: number } | undefined;
  summary?: string | undefined;
  /** Why it failed or was rejected. */
  reason?: string | undefined;
  errorCode?: string | undefined;
  instanceId?: string | undefined;
  requestedBy?: { kind: string; id: string } | undefined;
}

export function isOperationProgress(value: unknown): value is OperationProgress {
  if (!value || typeof value !== 'object') return false;
  const v = value as Record<string, unknown>;
  return typeof v['step'] === 'string' && typeof v['done'] === 'number' && typeof v['total'] === 'number';
}

/** Combines the stored record with the live facts: queue position and orchestration progress. */
export function requestView(
  record: RequestRecord,
  live: { queue?: string[]; progress?: unknown } = {},
): RequestView {
  const progress = isOperationProgress(live.progress) ? live.progress : undefined;
  let status = record.status;
  if (status === 'running' && progress?.awaitingApproval) status = 'awaiting-approval';
  const position = live.queue ? live.queue.indexOf(record.requestId) : -1;
  return {
    requestId: record.requestId,
    op: record.op,
    slug: record.slug,
    status,
    acceptedAt: record.acceptedAt,
    startedAt: record.startedAt,
    finishedAt: record.finishedAt,
    queuePosition: status === 'queued' && position >= 0 ? position + 1 : undefined,
    step: progress?.step,
    progress: progress ? { done: progress.done, total: progress.total } : undefined,
    summary: record.summary,
    reason: record.reason,
    errorCode: record.errorCode,
    instanceId: record.instanceId,
    requestedBy: record.request?.requestedBy,
  };
}
