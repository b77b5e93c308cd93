import type { RingProgress, WaveRecord } from '../storage/upgradeWaveStore.js';

/**
 * The admin chat's one message per wave, as plain text (no parse mode), rewritten from the wave's
 * record each time a ring moves: the target, who started it, each ring's counts and state, and how
 * it ended. Slugs that failed are not listed here (the API and the CLI list them); counts only.
 */
export function waveMessageText(wave: WaveRecord): string {
  const lines = [
    `Upgrade wave ${wave.waveId}: OpenClaw ${wave.targetVersion}`,
    `Started by ${wave.requestedBy.kind} ${wave.requestedBy.id} at ${wave.createdAt}; ${statusLine(wave)}`,
    '',
    ...wave.rings.map(ringLine),
  ];
  if (wave.skipped > 0)
    lines.push(`Left out: ${wave.skipped} slug(s) (held, pinned, not ready, failed before, already there)`);
  if (wave.control?.paused && !wave.endedAt) lines.push(`Paused by ${wave.control.by} at ${wave.control.at}`);
  return lines.join('\n');
}

function statusLine(wave: WaveRecord): string {
  const why = wave.reason ? `: ${wave.reason}` : '';
  switch (wave.status) {
    case 'completed':
      return `COMPLETED at ${wave.endedAt ?? wave.updatedAt}`;
    case 'halted':
    case 'aborted':
    case 'failed':
      return `${wave.status.toUpperCase()} at ${wave.endedAt ?? wave.updatedAt}${why}`;
    default:
      return `${wave.status}${why}`;
  }
}

function ringLine(ring: RingProgress): string {
  const counts = `${ring.done}/${ring.slugs} done, ${ring.succeeded} upgraded, ${ring.failed} failed (budget ${ring.failureBudget}), ${ring.skipped} skipped`;
  const when =
    ring.state === 'waiting' && ring.startsAfter
      ? `, starts after ${ring.startsAfter}`
      : ring.state === 'done' && ring.endedAt
        ? `, ended ${ring.endedAt}`
        : '';
  return `${ring.name}: ${ring.state}${ring.slugs > 0 ? `, ${counts}` : ''}${when}`;
}
