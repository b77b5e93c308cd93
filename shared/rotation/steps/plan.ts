import { SLUG_SECRET_NAMES } from '../../domain/footprint.js';
import {
  MAINTENANCE_TAGS,
  type MaintenanceTarget,
  type RotatableSecret,
  type StorageKeyName,
} from '../../maintenance/contracts.js';
import { latestVersion } from '../../maintenance/keyVaultVersions.js';
import { dueSecrets, ROTATABLE_SECRETS } from '../../maintenance/rotationPolicy.js';
import { maintenanceTarget, notMaintainable } from '../../maintenance/target.js';
import type { RotationItem, RotationPlan, RotationPlanInput, RotationSkip } from '../contracts.js';
import type { RotationContext } from './context.js';
import { accountKeys, STORAGE_KEYS } from './storageKey.js';

/** What one secret's rotation is guarded by (its version, key name or key id), or why it is skipped. */
async function planItem(
  ctx: Pick<RotationContext, 'deps' | 'azure' | 'vaultOf'>,
  target: MaintenanceTarget,
  kind: RotatableSecret,
): Promise<RotationItem | RotationSkip> {
  const { deps, azure, vaultOf } = ctx;
  const vault = vaultOf(target);
  switch (kind) {
    case 'gateway-token': {
      const current = await latestVersion(vault, SLUG_SECRET_NAMES.gatewayToken);
      if (!current) return { kind, reason: 'the slug vault holds no gateway token' };
      return { kind, fromVersion: current.version };
    }
    case 'storage-key': {
      const stored = await latestVersion(vault, SLUG_SECRET_NAMES.storageKey);
      if (!stored) return { kind, reason: 'the slug vault holds no storage account key' };
      const keys = await accountKeys(azure, target);
      const inUse = STORAGE_KEYS.find((name) => keys.get(name)?.value === stored.value);
      if (!inUse) {
        return {
          kind,
          reason:
            'the stored storage key matches neither account key; nothing was rotated (provision the slug again to repair its consumers)',
        };
      }
      const toKey: StorageKeyName = inUse === 'key1' ? 'key2' : 'key1';
      return { kind, fromKey: inUse, toKey, fromKeyCreatedAt: keys.get(inUse)!.createdAt };
    }
    case 'entra-client-secret': {
      const stored = await latestVersion(vault, SLUG_SECRET_NAMES.entraClientSecret);
      const keyId = stored?.tags[MAINTENANCE_TAGS.keyId];
      if (!stored || !keyId) return { kind, reason: 'the slug vault holds no Entra client secret' };
      const app = await deps.entra.findApplication(target.entraApplication);
      if (!app) return { kind, reason: `no Entra application ${target.entraApplication}` };
      return { kind, applicationId: app.id, fromKeyId: keyId };
    }
  }
}

/**
 * Decides what this request rotates: the secrets it names, or else those due by policy; each
 * only when it was not set after the request was made (a late or duplicate request is then
 * satisfied by the newer rotation). Reads the state each later step is guarded by. Reads only.
 */
export async function planRotation(ctx: RotationContext, input: RotationPlanInput): Promise<RotationPlan> {
  const { azure, config, registry, policy } = ctx;
  const { request } = input;
  const record = await registry.get(request.slug);
  const blocked = notMaintainable(record, request.slug);
  if (blocked || !record) return { status: 'refused', reason: blocked ?? 'no environment' };
  const now = new Date(input.now);
  const requestedAt = Date.parse(request.requestedAt);
  const skips: RotationSkip[] = [];
  const explicit = request.params.secrets;
  const due = dueSecrets(record, now, policy);
  const kinds = explicit ?? due.map((item) => item.kind);
  if (!explicit && kinds.length === 0) {
    return { status: 'refused', reason: `nothing is due for ${request.slug} at ${input.now}` };
  }
  const target = await maintenanceTarget(azure, config, record, request.requestId);
  const items: RotationItem[] = [];
  for (const kind of kinds) {
    const setAt = record.secretAges[kind];
    if (setAt && Date.parse(setAt) > requestedAt) {
      skips.push({
        kind,
        reason: `already rotated at ${setAt}, after this request was made (${request.requestedAt})`,
      });
      continue;
    }
    if ((ROTATABLE_SECRETS as readonly string[]).includes(kind)) {
      const item = await planItem(ctx, target, kind as RotatableSecret);
      if ('reason' in item) skips.push(item);
      else items.push(item);
    } else if (kind === 'telegram-bot-token' && setAt) {
      items.push({ kind, setAt });
    }
  }
  if (items.length === 0) {
    return {
      status: 'refused',
      reason: skips.map((skip) => `${skip.kind}: ${skip.reason}`).join('; ') || 'nothing to rotate',
    };
  }
  return {
    status: 'planned',
    target,
    timing: {
      verifyIntervalMs: config.rotation.verifyIntervalMs,
      verifyTimeoutMs: config.rotation.verifyTimeoutMs,
    },
    entraGraceMs: config.rotation.entraSecretGraceMs,
    items,
    skipped: skips,
  };
}
