import { asStepOutcome, done } from '../../operations/outcome.js';
import type { FlagSecretInput, RecordRotationInput, RecordSkipInput } from '../contracts.js';
import type { RotationContext } from './context.js';

const DAY_MS = 86_400_000;

/**
 * Bot tokens cannot be rotated by API: flags the token's age on the registry record and tells
 * the admin chat, once per age (a token flagged since it was last set is not flagged again).
 * At least once: a crash between the message and the flag sends the message again.
 */
export function flagSecret(
  ctx: Pick<RotationContext, 'registry' | 'policy'> & { deps: Pick<RotationContext['deps'], 'chat'> },
  input: FlagSecretInput,
) {
  const { deps, registry, policy } = ctx;
  return asStepOutcome(async () => {
    const { target } = input;
    const record = await registry.get(target.slug);
    const flaggedAt = record?.maintenance?.flags?.[input.kind]?.flaggedAt;
    if (flaggedAt && Date.parse(flaggedAt) >= Date.parse(input.setAt)) return done({ told: false });
    const ageDays = Math.floor((Date.parse(input.now) - Date.parse(input.setAt)) / DAY_MS);
    const policyDays = Math.round(policy.maxAgeMs[input.kind] / DAY_MS);
    const reason = `set ${ageDays} days ago (policy: ${policyDays} days); bot tokens cannot be rotated by API`;
    await deps.chat.tell(
      `claw-broker: the ${input.kind} of ${target.slug} was ${reason}. Ask BotFather for a new token (/revoke), then provision ${target.slug} again with it.`,
    );
    await registry.update(target.slug, (current) =>
      current
        ? {
            ...current,
            maintenance: {
              ...current.maintenance,
              flags: { ...current.maintenance?.flags, [input.kind]: { flaggedAt: input.now, reason } },
            },
          }
        : undefined,
    );
    return done({ told: true });
  });
}

/** Records a finished rotation's time (and the storage key in use). Sets values, only forward. */
export async function recordRotation(
  ctx: Pick<RotationContext, 'registry'>,
  input: RecordRotationInput,
): Promise<void> {
  await ctx.registry.update(input.target.slug, (current) => {
    if (!current) return undefined;
    const previous = current.secretAges[input.kind];
    const skippedKinds = { ...current.maintenance?.skipped };
    delete skippedKinds[input.kind];
    return {
      ...current,
      secretAges:
        previous && Date.parse(previous) >= Date.parse(input.now)
          ? current.secretAges
          : { ...current.secretAges, [input.kind]: input.now },
      maintenance: {
        ...current.maintenance,
        skipped: skippedKinds,
        ...(input.storageKeyInUse ? { storageKeyInUse: input.storageKeyInUse } : {}),
      },
    };
  });
}

/** Records why a secret was skipped (a tenant policy), so sweeps look again a policy period later. */
export async function recordSkip(
  ctx: Pick<RotationContext, 'registry'>,
  input: RecordSkipInput,
): Promise<void> {
  await ctx.registry.update(input.target.slug, (current) =>
    current
      ? {
          ...current,
          maintenance: {
            ...current.maintenance,
            skipped: {
              ...current.maintenance?.skipped,
              [input.kind]: { at: input.now, reason: input.reason },
            },
          },
        }
      : undefined,
  );
}
