/**
 * The states of a fleet upgrade wave and of its rings (issue 14, "Fleet waves"): shared by the wave
 * store, the wave orchestration and the API.
 */

export const WAVE_STATUSES = [
  'starting',
  'running',
  'waiting',
  'awaiting-approval',
  'paused',
  'completed',
  'halted',
  'aborted',
  'failed',
] as const;
export type WaveStatus = (typeof WAVE_STATUSES)[number];
export const ENDED_WAVE_STATUSES: ReadonlySet<WaveStatus> = new Set([
  'completed',
  'halted',
  'aborted',
  'failed',
]);

export type RingState =
  'pending' | 'waiting' | 'awaiting-approval' | 'running' | 'done' | 'halted' | 'not-run' | 'empty';
