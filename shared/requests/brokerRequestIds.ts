/**
 * Request ids the broker makes itself (the timer sweeps'), in a namespace of their own. They are
 * deterministic, so that an overlapping or repeated sweep adds nothing, and therefore predictable.
 * So that nobody outside can occupy one in advance, the intake refuses a reserved id from the queue
 * unless the broker recorded that very request first (RequestStore.record with origin 'broker'),
 * the HTTP API refuses them outright, and a message refused for any reason never leaves a record
 * under a reserved id.
 */
export const BrokerRequestIdPrefix = {
  rotation: 'rotate:',
  sasRenewal: 'sas:',
  /** A fleet wave's upgrade of one slug: `upgrade:<waveId>:<slug>` (shared/domain/upgradeState.ts). */
  upgradeWave: 'upgrade:',
} as const;

const PREFIXES: readonly string[] = Object.values(BrokerRequestIdPrefix);

export function isBrokerRequestId(requestId: string): boolean {
  return PREFIXES.some((prefix) => requestId.startsWith(prefix));
}
