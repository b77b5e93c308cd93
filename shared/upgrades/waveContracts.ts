import type { RequestedBy } from '../requests/lifecycleRequest.js';
import type { RingState, WaveStatus } from '../domain/upgradeWave.js';

/**
 * The wave orchestration's vocabulary (orchestrations/upgradeWave.ts): its input, its activities'
 * inputs and outputs. All of it is JSON and none of it is secret: wave ids, versions, counts, times.
 * The slugs of a ring stay in the wave store; the orchestration carries counts only, so its history
 * stays small whatever the fleet's size.
 */

/** The wave orchestration's instance id. */
export function waveInstanceId(waveId: string): string {
  return `wave:${waveId}`;
}

/** The request id the wave's approval (before its last ring) is kept under: `approval:wave:<id>`. */
export function waveApprovalRequestId(waveId: string): string {
  return `wave:${waveId}`;
}

/** Who a wave's per-slug requests are requested by: the wave itself, as a system actor. */
export function waveActor(waveId: string): RequestedBy {
  return { kind: 'timer', id: `upgrade-wave:${waveId}` };
}

/**
 * ARM writes one slug's upgrade is expected to make, for pacing a ring under ARM's write throttle
 * like the sweeps: deactivate the old revision, update the app (new revision), set traffic,
 * activate, and one for the snapshot's share call. An estimate, as the sweeps' are.
 */
export const UPGRADE_ARM_WRITES = 5;

/** One ring as the orchestration sees it: sizes and times, not slugs. */
export interface RingSummary {
  name: string;
  canary: boolean;
  slugs: number;
  minAgeMs: number;
  bakeMs: number;
  failureBudget: number;
}

export interface WavePlanSummary {
  targetVersion: string;
  /** npm's publish time of the target: ring minimum ages count from it. */
  publishedAt: string;
  rings: RingSummary[];
  skipped: number;
  requestedBy: RequestedBy;
  pollIntervalMs: number;
  ringTimeoutMs: number;
}

/** Where a wave that continued as new goes on from. */
export interface WaveCursor {
  ring: number;
  phase: 'wait' | 'settle';
  /** When the previous ring with slugs ended (the bake counts from it). */
  previousEndedAt?: string | undefined;
  ringStartedAt?: string | undefined;
}

export interface WaveInput {
  waveId: string;
  /** Set by continue-as-new: the plan made by the first generation and where to go on. */
  plan?: WavePlanSummary | undefined;
  cursor?: WaveCursor | undefined;
}

export interface WavePlanInput {
  waveId: string;
  now: string;
}

export type WavePlanOutcome =
  { status: 'planned'; plan: WavePlanSummary } | { status: 'refused'; reason: string };

export interface WaveEnqueueInput {
  waveId: string;
  ring: number;
  now: string;
}

export interface WaveEnqueued {
  enqueued: number;
  /** Requests an earlier attempt already enqueued (same deterministic id). */
  known: number;
  /** Slugs found held, pinned or not ready since planning. */
  skipped: number;
  /** Slugs whose request could not be recorded or enqueued (counted as failed by observe). */
  failed: number;
}

/** What operators asked of the wave (the stored control; the event only wakes the orchestration). */
export interface WaveControlView {
  paused: boolean;
  aborted: boolean;
  by?: string | undefined;
  reason?: string | undefined;
}

export interface WaveObserveInput {
  waveId: string;
  ring: number;
  now: string;
  /** Slugs of the ring not ended by then count as failed. */
  deadline: string;
}

export interface RingObservation {
  slugs: number;
  succeeded: number;
  failed: number;
  skipped: number;
  pending: number;
  /** Up to five failed slugs with their reasons, for the halt message. */
  failures: { slug: string; reason: string }[];
  control: WaveControlView;
}

export interface WaveReportInput {
  waveId: string;
  now: string;
  status: WaveStatus;
  reason?: string | undefined;
  ring?:
    | {
        index: number;
        state: RingState;
        startsAfter?: string | undefined;
        startedAt?: string | undefined;
        endedAt?: string | undefined;
      }
    | undefined;
}
